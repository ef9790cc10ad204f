"""dlcourse.checks: specific messages for a learner; plain values, and no verdict, when grading."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch

import dlcourse.checks as checks
from dlcourse.checks import CheckFailed, checking, compare, from_plain, to_plain


def copy_in_mode(monkeypatch, mode: str):
    """A fresh copy of the module, as a kernel started with DLCOURSE_CHECKS=mode imports it."""
    monkeypatch.setenv(checks.MODE_VARIABLE, mode)
    module = types.ModuleType(f"checks_{mode}")
    exec(compile(open(checks.__file__).read(), checks.__file__, "exec"), module.__dict__)
    return module


@pytest.fixture
def grading(monkeypatch):
    return copy_in_mode(monkeypatch, "grading")


@pytest.fixture
def key(monkeypatch):
    return copy_in_mode(monkeypatch, "key")


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


def test_grading_mode_sends_values_and_decides_nothing(grading, capsys):
    with grading.checking("q1") as check:
        check.close("wrong on purpose", [1.0, 2.0], None)  # the grader removed the expected value
        check.shape("s", np.zeros((2, 3)), None)
        check.true("claim", np.float64(0.0) > 1)
        check.same("pair", [1.0], np.array([1.0]))
    record = grading.RECORDS[-1]
    assert record["block"] == "q1" and record["outcome"] == "finished" and record["error"] is None
    assert [(c["method"], c["name"], c["value"]) for c in record["checks"]] == [
        ("close", "wrong on purpose", {"list": [1.0, 2.0]}), ("shape", "s", {"list": [2, 3]}),
        ("true", "claim", False), ("same", "pair", {"list": [1.0]})]
    assert from_plain(record["checks"][3]["other"]).tolist() == [1.0]  # same sends both values
    assert "expected" not in str(record)  # nothing of an expected value, nothing compared
    assert capsys.readouterr().out == "q1: 4 value(s) sent to the grader\n"


def test_grading_mode_reports_stubs_and_errors_and_goes_on(grading):
    with grading.checking("q1"):
        raise NotImplementedError()
    with grading.checking("q2") as check:
        check.equal("n", 1, None)
        raise ZeroDivisionError("division by zero")
    with pytest.raises(KeyboardInterrupt, match="interrupted"):  # an interrupt still stops the cell
        with grading.checking("q3"):
            raise KeyboardInterrupt("interrupted")
    assert [(r["block"], r["outcome"], (r["error"] or {}).get("type"), len(r["checks"]))
            for r in grading.RECORDS[-3:]] == [("q1", "not attempted", None, 0),
                                               ("q2", "error", "ZeroDivisionError", 1),
                                               ("q3", "error", "KeyboardInterrupt", 0)]


def test_grading_mode_grad_sends_the_gradient_and_the_functions_finite_differences(grading):
    with grading.checking("g") as check:
        check.grad("d/dx x^2", lambda v: float(np.sum(v**2)), np.array([1.0, -2.0]), [0.0, 0.0])
    sent = grading.RECORDS[-1]["checks"][0]
    assert from_plain(sent["value"]) == [0.0, 0.0]
    assert np.allclose(from_plain(sent["other"]), [2.0, -4.0])


def test_key_mode_compares_and_records_expected_values_and_tolerances(key):
    with key.checking("k") as check:
        check.close("c", [1.0, 2.0], [1.0, 2.0], rtol=1e-3)
        check.true("t", True, hint="h")
    record = key.RECORDS[-1]
    assert record["checks"] == [
        {"method": "close", "name": "c", "expected": {"list": [1.0, 2.0]},
         "params": {"rtol": 1e-3, "atol": 1e-8}},
        {"method": "true", "name": "t", "expected": True, "params": {"hint": "h"}}]
    with pytest.raises(key.CheckFailed, match="expected 3, got 2"):
        with key.checking("bad") as check:
            check.close("c", 2.0, 3.0)
    assert key.RECORDS[-1]["outcome"] == "failed"


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "text", [1, (2, "a")], {"a": [1.0], 2: None}, (), {1, 2},
    np.arange(6).reshape(2, 3), np.array([[True, False]]), np.array(["x", "yz"]),
    np.float32(0.5), np.int64(7), np.bool_(True), torch.tensor([[1.5, -2.0]])])
def test_plain_data_round_trip(value):
    back = from_plain(to_plain(value))
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        assert isinstance(back, np.ndarray) and back.shape == value.shape
        assert back.tolist() == value.tolist()
    elif isinstance(value, set):
        assert back == frozenset(value)
    else:
        assert back == value and type(back) is type(value.item() if isinstance(value, np.generic)
                                                   else value)


def test_plain_data_keeps_nan_and_infinity_and_describes_the_rest():
    back = from_plain(to_plain(np.array([np.nan, np.inf, -np.inf, 1.0])))
    assert np.isnan(back[0]) and back[1] == np.inf and back[2] == -np.inf
    assert math.isnan(from_plain(to_plain(float("nan"))))
    opaque = from_plain(to_plain(object()))
    assert isinstance(opaque, checks.Opaque) and opaque.type_name == "object"
    big = from_plain(to_plain(np.zeros(checks.MAX_ELEMENTS + 1)))
    assert isinstance(big, checks.Opaque) and "too large" in big.text


def nested(levels: int):
    data = 1.0
    for _ in range(levels):
        data = {"list": [data]}
    return data


def innermost(value):
    depth = 0
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    return value, depth


@pytest.mark.parametrize(("sent", "words"), [
    (nested(5000), "nested too deeply"),  # a kernel's JSON, not to_plain's (20 levels at most)
    ({"array": {"dtype": "float", "shape": [10**12], "data": [1.0]}}, "malformed array"),
    ({"array": {"dtype": "float", "shape": [2, 2], "data": [1.0, 2.0]}}, "malformed array"),
    ({"array": {"dtype": "complex", "shape": [1], "data": [1.0]}}, "malformed array"),
    ({"array": {"dtype": "int", "shape": [-1], "data": [1]}}, "malformed array"),
    ({"array": {"dtype": "int", "shape": [True], "data": [1]}}, "malformed array"),
    ({"array": {"dtype": "int", "shape": "2", "data": [1, 2]}}, "malformed array"),
    ({"array": {"dtype": "int", "shape": [1], "data": [10**100]}}, "malformed value"),
    ({"array": {"dtype": "float", "shape": [1], "data": ["x"]}}, "malformed value"),
    ({"array": [1, 2]}, "malformed value"),
    ({"float": [1]}, "malformed value"),
    ({"float": "many"}, "malformed value"),
    ({"list": 5}, "malformed value"),
    ({"dict": [1, 2]}, "malformed value"),
    ({"list": [{"tuple": None}]}, "malformed value"),  # the inner value only
    ({"a": 1, "b": 2}, "malformed value"),
    ([1, 2], "malformed value"),
])
def test_plain_data_from_a_hostile_kernel_is_a_value_that_fails(sent, words):
    """Whatever a kernel sends reads as a value (an Opaque one when malformed), never an error."""
    value = from_plain(sent)
    opaque, _ = innermost(value)
    assert isinstance(opaque, checks.Opaque) and words in opaque.text
    assert compare("close", "x", value, 1.0) is not None


def test_plain_data_as_deep_as_to_plain_writes_still_reads():
    deep = 1.0
    for _ in range(40):
        deep = [deep]
    inner, depth = innermost(from_plain(to_plain(deep)))  # to_plain's own cut, not from_plain's
    assert depth == checks._MAX_DEPTH + 1 and inner.type_name == "list"
    assert innermost(from_plain(nested(2 * checks._MAX_DEPTH))) == (1.0, 2 * checks._MAX_DEPTH)
    inner, depth = innermost(from_plain(nested(2 * checks._MAX_DEPTH + 2)))
    assert isinstance(inner, checks.Opaque) and "nested too deeply" in inner.text
    assert from_plain(1e999) == math.inf  # what JSON's 1e999 reads as: a number, no error
    empty = from_plain({"array": {"dtype": "int", "shape": [2, 0], "data": []}})
    assert isinstance(empty, np.ndarray) and empty.shape == (2, 0)


@pytest.mark.parametrize(("method", "got", "expected", "params"), [
    ("close", np.array([1.0, 2.5, 3.0]), [1, 2, 3], {}),
    ("close", None, 1.0, {}),
    ("close", [np.nan, 1.0], [0.0, 1.0], {}),
    ("close", [1.0, 2.0], [1.0, 2.0, 3.0], {}),
    ("equal", ("a", 2), ["a", 2], {}),
    ("equal", np.array([1, 2]), np.array([1, 3]), {}),
    ("shape", np.zeros((3, 2)), (2, 3), {}),
    ("true", False, True, {"hint": "look"}),
])
def test_a_learner_and_the_grader_get_the_same_verdict(method, got, expected, params):
    """One definition, two places: the learner's message is the grader's comparison's."""
    def block(check):
        if method == "true":
            check.true("v", got, **params)
        else:
            getattr(check, method)("v", got, expected, **params)

    learner = failure(run(block))
    with checking("q") as check:  # what a grading kernel sends, compared as the grader does
        sent = check.sent
    value = (to_plain(None if got is None else list(np.shape(got))) if method == "shape"
             else to_plain(bool(got)) if method == "true" else to_plain(got))
    verdict = compare(method, "v", from_plain(value), from_plain(to_plain(
        list(expected) if method == "shape" else expected)), **params)
    assert sent == [] and verdict is not None
    assert learner == f"q: {verdict.message}"


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
    assert "df/dx: the gradient must have the shape of its input (3,), got shape (2,)." in failure(
        run(lambda c: c.grad("df/dx", f, x, true_grad[:2])))
    assert "forget to `return`" in failure(run(lambda c: c.grad("df/dx", f, x, None)))


def test_checking_needs_a_name():
    with pytest.raises(TypeError, match="non-empty string"):
        checking("")


def test_a_failed_check_shows_its_message_first_and_the_traceback_on_request():
    """IPython asks an exception for its lines (``_render_traceback_``): the verdict alone first,
    the whole traceback when asked again (``%tb``)."""
    with pytest.raises(CheckFailed, match="expected 0, got 4") as info:
        with checking("standardise") as check:
            check.close("mean", 4.0, 0.0)
    first = info.value._render_traceback_()
    assert len(first) == 2 and first[0].endswith("CheckFailed\x1b[0m: standardise: mean: "
                                                 "expected 0, got 4.")
    assert "run %tb" in first[1]
    again = "\n".join(info.value._render_traceback_())
    assert "Traceback" in again and "in _fail" in again and "expected 0, got 4." in again
