"""Trained models judged by their parameters (dlcourse/model_tasks, ``check.model``, the grader).

The model under test is real: exercise 11's generator, ``gan_mlp([2, 64, 64, 2])``, either as built
(untrained: it covers no mode) or with weights set by hand so that it maps the noise's first
coordinate onto the eight modes in turn (a staircase of ReLU steps at the normal distribution's
octiles: each mode gets an eighth of the samples). The judge, the check and the grader run on it
as they do on a learner's model.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from dlcourse.checks import CheckFailed, checking, from_plain, to_plain
from dlcourse.model_tasks.ring_gan import N_MODES, RADIUS
from dlcourse.model_tasks.task import TASK_NAMES, Requirement, get_task, held_out_files, judge
from dlcourse.pytorch.gan import ring_centres
from tests.unit.test_checks import copy_in_mode
from tools.grading.key import _judge_models
from tools.grading.scoring import judge_block

RING = get_task("ring_gan")
SHARPNESS = 1000.0


def staircase_generator() -> torch.nn.Module:
    """The ring generator with hand-set weights: z_1 in the k-th octile of N(0, 1) -> mode k."""
    generator = RING.build()
    centres = torch.tensor(ring_centres(N_MODES, RADIUS), dtype=torch.float32)
    cuts = torch.tensor([math.sqrt(2) * torch.erfinv(torch.tensor(2 * k / N_MODES - 1)).item()
                         for k in range(1, N_MODES)])
    first, second, out = generator[0], generator[2], generator[4]
    with torch.no_grad():
        for layer in (first, second, out):
            layer.weight.zero_()
            layer.bias.zero_()
        for k, cut in enumerate(cuts):  # u_k = relu(s (z1 - t_k)), v_k = relu(s (z1 - t_k) - 1)
            first.weight[2 * k, 0] = first.weight[2 * k + 1, 0] = SHARPNESS
            first.bias[2 * k] = -SHARPNESS * cut
            first.bias[2 * k + 1] = -SHARPNESS * cut - 1
            second.weight[k, 2 * k], second.weight[k, 2 * k + 1] = 1.0, -1.0  # a step in [0, 1]
            out.weight[:, k] = centres[k + 1] - centres[k]
        out.bias.copy_(centres[0])
    return generator


def sent(model) -> object:
    """What a kernel sends for ``model``, as the grader reads it."""
    return from_plain(to_plain(RING.state(model)))


def test_every_task_builds_and_names_itself():
    for name in TASK_NAMES:
        task = get_task(name)
        assert task.name == name and task.requirements
        assert task.state(task.build())
    with pytest.raises(ValueError, match="no model task called 'nope'"):
        get_task("nope")
    assert all(path.is_file() for path in held_out_files())


def test_a_trained_generator_passes_and_reports_what_was_measured():
    verdict = judge(RING, sent(staircase_generator()))
    assert verdict.passed, verdict.message
    assert verdict.metrics["modes covered"] == N_MODES
    assert verdict.metrics["high-quality share"] > 0.95
    assert verdict.message.startswith("modes covered 8, high-quality share")


@pytest.mark.parametrize(("change", "kind", "words"), [
    (lambda s: None, "type", "got None instead of a model"),
    (lambda s: [1, 2, 3], "type", "expected a model's parameters, got list"),
    (lambda s: from_plain({"object": "Cheat", "repr": "x"}), "type", "got x"),
    (lambda s: {k: v for k, v in s.items() if k != "4.weight"}, "shape", "missing 4.weight"),
    (lambda s: {**s, "5.weight": np.zeros(2)}, "shape", "unexpected 5.weight"),
    (lambda s: {**s, "0.weight": np.zeros((2, 64))}, "shape",
     "'0.weight' has shape (2, 64), but gan_mlp([2, 64, 64, 2]) has (64, 2)"),
    (lambda s: {**s, "2.bias": np.full(64, np.nan)}, "nan", "NaN or infinite"),
    (lambda s: {**s, "2.bias": np.array(["a"] * 64)}, "type", "not numbers"),
    (lambda s: {**s, 3: np.zeros(2)}, "type", "is not an array"),
    (lambda s: {**s, "2.bias": from_plain(to_plain(np.zeros(2_000_000)))}, "type",
     "not an array of numbers"),
])
def test_parameters_that_are_not_the_model_fail_with_a_clear_message(change, kind, words):
    verdict = judge(RING, change(sent(staircase_generator())))
    assert verdict.kind == kind and words in verdict.message, verdict.message


def test_an_untrained_generator_falls_short_and_the_time_budget_counts():
    verdict = judge(RING, sent(RING.build()))
    assert verdict.kind == "score" and "modes covered is" in verdict.message
    assert "it must be at least 6" in verdict.message
    timed = dataclasses.replace(RING, seconds=10)
    assert judge(timed, sent(staircase_generator()), seconds=9.5).passed
    late = judge(timed, sent(staircase_generator()), seconds=12)
    assert late.kind == "time" and "took 12 s, more than its 10 s budget" in late.message
    broken = dataclasses.replace(RING, measure=lambda model: 1 / 0)
    assert judge(broken, sent(RING.build())).kind == "type"


def test_requirement_bounds_and_nan():
    assert Requirement("acc", at_least=0.5).failure(0.5) is None
    assert "at least 0.5" in Requirement("acc", at_least=0.5).failure(0.4)
    assert "at most 2" in Requirement("loss", at_most=2).failure(3.0)
    assert "nan" in Requirement("acc", at_least=0.5).failure(math.nan)


def test_the_check_measures_for_a_learner_and_only_sends_when_grading(monkeypatch, capsys):
    with checking("gan") as check:
        check.model("your generator", staircase_generator(), "ring_gan")
    out = capsys.readouterr().out
    assert "gan: your generator: modes covered 8" in out and "gan: all tests passed" in out
    with pytest.raises(CheckFailed, match="gan: your generator: modes covered is 0"):
        with checking("gan") as check:
            check.model("your generator", RING.build(), "ring_gan")
    grading = copy_in_mode(monkeypatch, "grading")
    with grading.checking("gan") as check:
        check.model("your generator", RING.build(), "ring_gan")  # fails, but nothing is judged
    (entry,) = check.sent
    assert entry["method"] == "model" and set(entry) == {"method", "name", "value"}
    assert set(from_plain(entry["value"])) == set(RING.state(RING.build()))
    with grading.checking("gan") as check:
        check.model("your generator", object(), "ring_gan")
    assert "not a model of gan_mlp" in check.sent[0]["value"]["repr"]


def test_the_grader_measures_what_was_sent_against_the_keys_task(monkeypatch):
    key = copy_in_mode(monkeypatch, "key")
    with key.checking("gan") as check:
        check.model("your generator", staircase_generator(), "ring_gan")
    checks = check.sent
    assert _judge_models("test-ring", "gan", checks, seconds=3.0) == []
    assert "value" not in checks[0] and checks[0]["expected"] == {"task": "ring_gan"}
    block = {"name": "gan", "hidden": False, "checks": checks}

    def record(model, task="ring_gan"):
        value = to_plain(RING.state(model))
        return {"block": "gan", "outcome": "finished", "error": None,
                "checks": [{"method": "model", "name": "G", "value": value, "task": task}]}

    assert judge_block(block, [record(staircase_generator())], seconds=3.0)[0]
    ok, student, _ = judge_block(block, [record(RING.build())], seconds=3.0)
    assert not ok and "gan: G: modes covered is 0" in student
    hidden = {**block, "hidden": True}
    ok, student, instructor = judge_block(hidden, [record(RING.build())])
    assert student == ("gan: hidden check 1 of 1 failed: the trained model falls short of what "
                       "it must reach") and "modes covered is 0" in instructor
    # a solution whose model falls short stops the grading, with the reason
    with key.checking("gan") as check:
        check.model("your generator", RING.build(), "ring_gan")
    assert "modes covered is 0" in _judge_models("test-ring", "gan", check.sent, None)[0]


def test_a_cell_that_trains_a_graded_model_gets_a_limit_above_its_budget():
    import nbformat

    from dlcourse.model_tasks.task import get_task
    from tools.grading.assignment import BUDGET_GRACE_S, cell_timeouts, model_budget

    nb = nbformat.read("solutions/09_convolution.ipynb", as_version=4)
    longer = cell_timeouts(nb, cell_timeout=60)
    budget = get_task("small_cnn").seconds
    assert list(longer.values()) == [int(budget + BUDGET_GRACE_S)]
    (index,) = longer
    assert 'check.model(' in nb.cells[index].source
    assert cell_timeouts(nb, cell_timeout=600) == {}  # the usual limit is already longer
    assert model_budget('with checking("q") as check:\n    check.model("G", G, "ring_gan")') is None
    assert model_budget("not python (") is None
