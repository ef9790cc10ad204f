"""dlcourse.checks: specific messages, 'not attempted' for a learner, failure when grading."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

import dlcourse.checks as checks
from dlcourse.checks import CheckFailed, checking


@pytest.fixture
def fresh():
    """A fresh copy of the module (grading mode is per copy, as the grader installs it)."""
    module = types.ModuleType("fresh_checks")
    exec(compile(open(checks.__file__).read(), checks.__file__, "exec"), module.__dict__)
    return module


def failure(block):
    """The message of the CheckFailed that ``block`` raises; the callers check its words."""
    with pytest.raises(CheckFailed, match=r"^[^:\s]+: \S") as info:  # it names what failed first
        block()
    return str(info.value)


def run(fn):
    def block():
        with checking("q") as check:
            fn(check)
    return block


def test_passing_block_prints_all_tests_passed(capsys):
    with checking("sigmoid") as check:
        check.close("sigmoid(0)", 0.5, 0.5)
        check.shape("out", np.zeros((2, 3)), (2, 3))
    assert capsys.readouterr().out == "sigmoid: all tests passed\n"
    assert check.count == 2


def test_block_without_checks_says_it_ran(capsys):
    with checking("training"):
        pass
    assert capsys.readouterr().out == "training: ran without errors\n"


def test_not_attempted_is_swallowed_for_a_learner(capsys):
    with checking("sigmoid"):
        raise NotImplementedError()
    assert "sigmoid: not attempted yet" in capsys.readouterr().out


def test_not_attempted_fails_in_grading_mode_and_publishes_records(fresh):
    fresh._enable_grading("tok")
    with pytest.raises(fresh.CheckFailed, match="not attempted"):
        with fresh.checking("q1"):
            raise NotImplementedError()
    with fresh.checking("q2") as check:
        check.true("ok", True)
    assert [(r["block"], r["status"], r["token"]) for r in fresh.RECORDS[-2:]] == [
        ("q1", "not attempted", "tok"), ("q2", "passed", "tok")]


def test_other_errors_propagate(capsys):
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        with checking("q"):
            1 / 0  # noqa: B018
    assert "your code raised ZeroDivisionError" in capsys.readouterr().out


def test_close_names_index_expected_and_got():
    message = failure(run(lambda c: c.close("f(x)", np.array([1.0, 2.5, 3.0]), [1, 2, 3])))
    assert message == "q: f(x): wrong at index (1,): expected 2, got 2.5 (1 of 3 entries differ)."


def test_close_scalar_nan_shape_none_and_tensor():
    assert "expected 0.5, got 0.7" in failure(run(lambda c: c.close("s", 0.7, 0.5)))
    assert "NaN" in failure(run(lambda c: c.close("v", [np.nan, 1.0], [0.0, 1.0])))
    assert "expected shape (3,), got shape (2,)" in failure(
        run(lambda c: c.close("v", [1.0, 2.0], [1.0, 2.0, 3.0])))
    assert "forget to `return`" in failure(run(lambda c: c.close("v", None, 1.0)))
    run(lambda c: c.close("t", torch.tensor([1.0, 2.0], requires_grad=True), [1.0, 2.0]))()
    # tolerance: relative to the expected value
    run(lambda c: c.close("r", 1000.001, 1000.0, rtol=1e-5))()
    assert "expected" in failure(run(lambda c: c.close("r", 1000.1, 1000.0, rtol=1e-5)))


def test_shape_messages():
    assert "transposed" in failure(run(lambda c: c.shape("W", np.zeros((3, 2)), (2, 3))))
    assert "1 dimension(s) instead of 2" in failure(run(lambda c: c.shape("W", np.zeros(6), (2, 3))))


def test_equal_and_true():
    assert "expected 3, got 4" in failure(run(lambda c: c.equal("n", 4, 3)))
    assert "wrong at index (1,)" in failure(
        run(lambda c: c.equal("labels", np.array([1, 2]), np.array([1, 3]))))
    assert "Hint: look at the sign" in failure(
        run(lambda c: c.true("positive", False, hint="look at the sign")))
    assert "np.all" in failure(run(lambda c: c.true("all", np.array([True, False]))))


def test_grad_accepts_the_true_gradient_and_names_a_wrong_entry():
    x = np.array([0.3, -1.2, 2.0])

    def f(v):
        return float(np.sum(np.sin(v) * v))

    true_grad = np.cos(x) * x + np.sin(x)  # by hand: d/dv [v sin v]
    run(lambda c: c.grad("df/dx", f, x, true_grad, rtol=1e-6))()
    wrong = true_grad.copy()
    wrong[2] += 0.01
    message = failure(run(lambda c: c.grad("df/dx", f, x, wrong)))
    assert "gradient wrong at index (2,)" in message and "1 of 3 entries differ" in message


def test_checking_needs_a_name():
    with pytest.raises(TypeError, match="non-empty string"):
        checking("")
