"""The grader on exercise 05, whose last question trains a model: one run, every kind graded.

tests/grading/hostile_models.py builds the submissions from the real exercise: the correct one,
the untouched one, and hostile ones whose ``train_digits`` trains nothing and sends what is not a
trained ``mlp([64, 128, 64, 10])``: an object that answers with the test labels read from the
notebook's globals (the issue's attack) or from the data files, the checks replaced so that they
claim success, NaN parameters, the wrong shapes, a parameter of millions of entries, a dict. The
grader measures the parameters sent in its own process (dlcourse/model_tasks/digits_mlp.py), so
each hostile kind loses exactly question 4's points, with a reason that says why, while its other
answers are graded as usual. The sandbox's own defences are tested by tests/system/test_grading.py
(whose helpers this shares); the judge's edge cases by tests/unit/test_model_tasks_models_a.py.

Kept cheap: only the key run and the correct submission train (about 5 s each), the others stop
at the check; the cell timeout is short. Measured on the project's 2-core machine while other work
shared it: 146 and 157 s (load average 6 to 10, 2026-12-08); each of the ten kernels (the key's and
nine submissions') spends most of its time importing (torch, scikit-learn), about 7 s when idle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.grading import hostile_models
from tests.grading.results import read_csv
from tests.system.test_grading import PROBLEM, run_dir

ROOT = hostile_models.ROOT

pytestmark = pytest.mark.skipif(
    bool(PROBLEM) and not os.environ.get("DLCOURSE_REQUIRE_SANDBOX"),
    reason=f"no bubblewrap sandbox here: {PROBLEM} (CI installs it and runs this test)")


def test_one_grading_run_of_exercise_05_scores_every_model_on_its_merits(tmp_path):
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    hostile_models.build(submissions)
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "tools.grading", hostile_models.ASSIGNMENT, str(submissions),
         "--out", str(out), "--jobs", "2", "--cell-timeout", "45", "--notebook-timeout", "180"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    seconds = time.monotonic() - began
    assert run.returncode == 0, run.stdout + run.stderr
    rows = read_csv(out / "gradebook-latest.csv")
    assert set(rows) == set(hostile_models.EXPECTED)
    folder = run_dir({"out": out})
    failures = []
    for kind, (points, status, words) in hostile_models.EXPECTED.items():
        row = rows[kind]
        scored = sum(float(row[cell] or 0) for cell in hostile_models.TEST_CELLS)
        said = row["reason"] + (folder / "feedback" / f"{kind}.md").read_text()
        if (scored, row["status"]) != (points, status) or words not in said:
            failures.append(f"{kind}: {scored} points, {row['status']} ({row['reason']}); "
                            f"expected {points}, {status}, and the words {words!r}")
        if kind not in ("correct", "untouched"):  # only the trained-model question is lost
            assert [row[cell] for cell in hostile_models.TEST_CELLS] == ["2", "3", "3", "0"], kind
    assert not failures, "\n".join(failures)
    correct = (folder / "feedback" / "correct.md").read_text()
    assert "test-train-digits | 2 / 2" in correct
    print(f"grading run of {len(rows)} submissions: {seconds:.0f} s")
