"""The instructor's grader (tools/grading/) on one submission of every kind, correct to hostile.

One grading run over a folder built by tests/grading/hostile.py (from the real exercise
00_warmup), checked by the check_* helpers; it takes about a minute on two cores. The grader's
parts that need no kernel (restoring, the gradebooks of a rerun) are tested in
tests/unit/test_grader.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from tests.grading import hostile
from tests.grading.results import read_csv
from tools.grading import gradebook

ROOT = Path(__file__).resolve().parents[2]
CELL_TIMEOUT = 20  # the endless loop costs this much


def run_grader(tmp_path_factory):
    """Grade one submission of each kind; return (output folder, gradebook rows, run output)."""
    base = tmp_path_factory.mktemp("grading")
    submissions = base / "submissions"
    hostile.build(submissions)
    out = base / "graded"
    run = subprocess.run(
        [sys.executable, "-m", "tools.grading", hostile.ASSIGNMENT, str(submissions),
         "--out", str(out), "--cell-timeout", str(CELL_TIMEOUT), "--notebook-timeout", "120",
         "--max-output-bytes", "20000", "--jobs", "2"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    return out, read_csv(out / "gradebook-latest.csv"), run.stdout


def autograded_total(row: dict[str, str]) -> float:
    return sum(float(row[q]) for q in ("test-standardise", "test-one-hot") if row[q])


def check_gradebook_is_complete(graded):
    out, rows, _ = graded
    assert set(rows) == set(hostile.EXPECTED)
    header = list(next(iter(rows.values())))
    assert header == ["student", "assignment", "test-standardise", "test-one-hot",
                      "explain-constant-input", "total", "max", "status", "reason"]
    for student, row in rows.items():
        assert row["assignment"] == "00_warmup"
        assert row["max"] == "5"
        assert row["status"] in gradebook.STATUSES, student
        assert row["reason"], f"{student} has no stated reason"
        assert float(row["total"]) == autograded_total(row) + float(
            row["explain-constant-input"] or 0)
        feedback = (out / (out / "LATEST").read_text().strip() / "feedback" / f"{student}.md")
        assert feedback.exists(), student


def check_each_submission_scores_what_it_earned(graded, kind):
    _, rows, stdout = graded
    points, status, reason = hostile.EXPECTED[kind]
    row = rows[kind]
    if kind == "disk_search" and "WITHOUT the sandbox" in row["reason"]:
        return  # no sandbox on this machine: hidden tests are readable by submissions
    assert autograded_total(row) == points, (kind, row)
    assert row["status"] == status, (kind, row)
    assert reason.lower() in row["reason"].lower(), (kind, row["reason"])


def check_correct_submission_full_marks_and_manual_answer_left_for_a_person(graded):
    _, rows, _ = graded
    row = rows["correct"]
    assert row["test-standardise"] == "2" and row["test-one-hot"] == "2"
    assert row["explain-constant-input"] == ""  # a person grades it
    assert rows["untouched"]["explain-constant-input"] == "0"  # a blank answer scores 0


def check_feedback_is_specific_and_hides_hidden_test_source(graded):
    out, _, _ = graded
    run_dir = out / (out / "LATEST").read_text().strip()
    partial = (run_dir / "feedback" / "partial.md").read_text()
    assert "one_hot([2, 0], 3)" in partial and "wrong at index" in partial
    untouched = (run_dir / "feedback" / "untouched.md").read_text()
    assert "not attempted" in untouched
    source = nbformat.read(hostile.SOLUTION, as_version=4)
    hidden = [line.strip() for cell in source.cells
              for region in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS",
                                       cell.source, flags=re.S)
              for line in region.splitlines() if len(line.strip()) > 20]
    assert hidden
    for feedback in (run_dir / "feedback").glob("*.md"):
        text = feedback.read_text()
        assert "### BEGIN" not in text
        for line in hidden:
            assert line not in text, (feedback.name, line)
    written = (run_dir / "written-answers.md").read_text()
    assert "divide 0 by 0" in written


def check_monkeypatched_checks_and_forged_records_do_not_pass(graded):
    out, rows, _ = graded
    run_dir = out / (out / "LATEST").read_text().strip()
    nb = nbformat.read(run_dir / "graded" / "monkeypatched.ipynb", as_version=4)
    test_cell = next(c for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") == "test-standardise")
    text = json.dumps(test_cell.outputs)
    assert "CheckFailed" in text  # the pristine checks ran and failed the wrong answer
    assert "touches dlcourse.checks" in rows["monkeypatched"]["reason"]


def check_deleted_and_edited_test_cells_run_with_their_hidden_tests(graded):
    out, _, _ = graded
    run_dir = out / (out / "LATEST").read_text().strip()
    for kind, block in (("deleted_reordered", "one_hot (hidden): all tests passed"),
                        ("edited_tests", "standardise: mean of standardise([2, 4, 6])")):
        nb = nbformat.read(run_dir / "graded" / f"{kind}.ipynb", as_version=4)
        assert block in json.dumps([c.get("outputs", []) for c in nb.cells]), kind
        # the saved notebook shows the tests as students saw them: no hidden test source
        assert "### BEGIN HIDDEN" not in json.dumps(nb)
        assert 'checking("one_hot (hidden)")' not in json.dumps(nb)


def test_one_grading_run_over_every_kind_of_submission(tmp_path_factory):
    """One run (about a minute on two cores), so it is also run once under pytest-xdist."""
    graded = run_grader(tmp_path_factory)
    check_gradebook_is_complete(graded)
    failures = []
    for kind in sorted(hostile.EXPECTED):
        try:
            check_each_submission_scores_what_it_earned(graded, kind)
        except AssertionError as error:
            failures.append(f"{kind}: {error}")
    assert not failures, "\n".join(failures)
    check_correct_submission_full_marks_and_manual_answer_left_for_a_person(graded)
    check_feedback_is_specific_and_hides_hidden_test_source(graded)
    check_monkeypatched_checks_and_forged_records_do_not_pass(graded)
    check_deleted_and_edited_test_cells_run_with_their_hidden_tests(graded)


def test_disk_search_would_find_hidden_tests_without_the_sandbox(tmp_path):
    """The hostile search is real: outside the sandbox it finds the solution source."""
    namespace = {"np": __import__("numpy")}
    search = hostile.DISK_SEARCH.split("FOUND = ")[0]
    exec(compile(search, "disk_search", "exec"), namespace)  # noqa: S102 - our own fixture
    found = namespace["find_hidden_tests"]()
    assert any(Path(p).resolve() == hostile.SOLUTION.resolve() for p in found)
