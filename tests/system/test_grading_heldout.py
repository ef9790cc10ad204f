"""The grader on exercise 09's trained CNN: correct, untouched, and hostile to the held-out data.

One grading run, in the bubblewrap sandbox, over the folder tests/grading/hostile_heldout.py builds
from the real exercise 09: the CNN's test cell is judged by its parameters, measured by the
grader on the Fashion-MNIST test split, which the sandbox hides. A ``train_cnn`` that reads the
test split wherever it could be finds nothing (and so trains nothing); a model whose ``forward``
looks the labels up, and one that was never trained, earn nothing for that cell. The run reuses
the helpers of tests/system/test_grading.py. Most of its time is two trainings of the CNN (the
solution's, for the key, and the correct submission's; 15 s each on an idle core), and with two
jobs the other submissions grade beside the correct one: measured, 3 min 35 s at a load average of
7 to 10 on two cores (other suites running); its parts add up to about a minute on idle ones.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.grading import hostile_heldout
from tests.grading.results import read_csv
from tests.system.test_grading import MEMORY_LIMIT, PROBLEM, ROOT, outputs, run_dir

pytestmark = pytest.mark.skipif(
    bool(PROBLEM) and not os.environ.get("DLCOURSE_REQUIRE_SANDBOX"),
    reason=f"no bubblewrap sandbox here: {PROBLEM} (CI installs it and runs this test)")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("heldout")
    submissions, out = base / "submissions", base / "graded"
    hostile_heldout.build(submissions)
    run = subprocess.run(
        [sys.executable, "-m", "tools.grading", hostile_heldout.ASSIGNMENT, str(submissions),
         "--out", str(out), "--cell-timeout", "60", "--notebook-timeout", "300", "--jobs", "2",
         "--memory-limit", str(MEMORY_LIMIT)],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    return {"out": out, "rows": read_csv(out / "gradebook-latest.csv")}


def autograded(row: dict[str, str]) -> dict[str, float]:
    return {q: float(row[q] or 0) for q in hostile_heldout.QUESTIONS}


@pytest.mark.parametrize("kind", sorted(hostile_heldout.EXPECTED))
def test_each_submission_scores_what_it_earned(graded, kind):
    points, status = hostile_heldout.EXPECTED[kind]
    row = graded["rows"][kind]
    assert sum(autograded(row).values()) == points and row["status"] == status, (kind, row)
    if kind not in ("correct", "untouched"):  # everything but the trained CNN
        assert autograded(row) == {**hostile_heldout.QUESTIONS, "test-train-cnn": 0.0}, row


def test_the_test_split_is_nowhere_a_kernel_can_read_it(graded):
    text = outputs(graded, "reads_test_split")
    assert hostile_heldout.FOUND_NOTHING in text and "training on the test labels" not in text
    for place in ("fashion-mnist-subset", "/usr/share/datasets/fashion-mnist", "load_fashion_mnist"):
        assert place in text  # each attempt was made, and failed


def test_the_grader_says_what_it_measured(graded):
    feedback = (run_dir(graded) / "feedback" / "lookup_forward.md").read_text()
    assert "test-train-cnn | 0 / 3 | train_cnn: your trained CNN" in feedback
    assert "it must be at least 0.86 (measured: test accuracy" in feedback
