"""Written answers, graded once and merged: a run's rubric sheet, and merging it back.

A grading run leaves written answers to a person (an empty cell in the gradebook). Beside its
gradebook, every run writes into ``runs/<time>/``:

- ``rubric.csv``, the rubric sheet: one row per written answer to grade, sorted by question then
  student (grading one question across the class keeps its rubric consistent), with the columns
  ``assignment, run, student, question, max points, points, comment, answer``. The instructor
  fills in ``points`` (and, for the student, ``comment``); ``answer`` holds the learner's text, so
  the answer and its points sit on one line of any spreadsheet (``written-answers.md`` has the
  same answers rendered, for long or formatted ones). ``assignment`` and ``run`` (the run's
  folder and a random token) are on every row, so they survive sorting and filtering, and merge
  refuses a sheet, or a row pasted in, from another run or assignment;
- ``run.json``, what merge needs of the run: the questions, each student's autograded points,
  messages, status and reasons, the late policy and submission times, the LMS export options.
  It holds nothing a student's feedback does not show.

``python -m tools.grading merge SHEET [--results FOLDER]`` reads the sheet back. It validates the
whole sheet first and writes nothing if any row is wrong (a missing column, an unknown student
or question, an autograded question, an answer that was not to grade, a number that is not one,
negative or above the maximum, a changed maximum, a duplicated row, a row of another run or
assignment), listing every problem with its line. Then it writes, as a grading run does, new files
only: ``runs/<time>/merged-<time>/`` (``gradebook.csv`` and ``feedback/``, with the written points
and comments), ``gradebook-<run>-merged-<time>.csv`` and its LMS exports in the results folder,
and moves ``gradebook-latest.csv`` to it when the run is the latest. The late penalty applies to
the written points as to the others (tools/grading/late.py). The sheet holds all of a run's
written points: each merge starts from the run's own results, so merging again replaces an
earlier merge and never adds to it. Empty ``points`` are left to grade, and merge lists them.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import re
import secrets
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

from tools.grading.assignment import questions
from tools.grading.export import missing_from_roster, write_exports
from tools.grading.gradebook import feedback_markdown, gradebook_rows, safe_name, write_csv
from tools.grading.late import LatePolicy

SHEET = "rubric.csv"
RECORD = "run.json"
COLUMNS = ["assignment", "run", "student", "question", "max points", "points", "comment", "answer"]
#: Columns a sheet must keep; ``answer`` is for reading and may be deleted.
REQUIRED = COLUMNS[:-1]
#: A spreadsheet cell holds at most 32,767 characters; longer answers are cut in the sheet only.
MAX_ANSWER_CHARS = 30_000
#: A cell starting with one of these is a formula to a spreadsheet: a learner's text never is one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
MAX_LISTED = 30


def _as_text(value: str) -> str:
    """``value`` as a spreadsheet shows it literally: a leading ``'`` before a formula's start."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _from_text(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def run_id(record: dict) -> str:
    """What identifies a run on every row of its sheet: its folder's name and its token."""
    return f"{record['run']}/{record['token']}"


def to_grade(record: dict) -> list[tuple[str, str]]:
    """(student, question) of every written answer the run left to a person, in the sheet's order."""
    return [(student, q["id"]) for q in record["questions"] if q["kind"] == "manual"
            for student in record["students"]
            if record["results"][student]["points"].get(q["id"], 0.0) is None]


# ---- The grading run: its record and its sheet.

def record_run(run_dir: Path, source: Path, assignment: str, students: list[str],
               results: dict[str, dict], policy: LatePolicy, times: dict[str, tuple],
               exports: list[str], roster: dict[str, dict[str, str]],
               canvas_assignment_id: str | None) -> tuple[Path | None, int]:
    """Write ``run.json`` and, when answers are left to grade, ``rubric.csv`` into ``run_dir``.

    ``results`` are the graded results as the gradebook was written from them; ``times`` maps a
    student to (submission time or None, where it comes from). Returns the sheet's path (None
    without answers to grade) and the number of its rows.
    """
    record = {
        "assignment": assignment, "run": run_dir.name, "token": secrets.token_hex(4),
        "questions": questions(nbformat.read(source, as_version=4)), "students": students,
        "results": {s: {"points": results[s].get("points", {}),
                        "messages": results[s].get("messages", {}),
                        "status": results[s]["status"], "reasons": results[s].get("reasons", []),
                        "seconds": results[s].get("seconds", 0)} for s in students},
        "late": {"due": policy.due.isoformat() if policy.due else None, "per_day": policy.per_day,
                 "cap": policy.cap, "grace_seconds": policy.grace.total_seconds()},
        "times": {s: [when.isoformat() if when else None, where]
                  for s, (when, where) in ((s, times.get(s, (None, "unknown"))) for s in students)},
        "exports": exports, "roster": roster, "canvas_assignment_id": canvas_assignment_id}
    (run_dir / RECORD).write_text(json.dumps(record, indent=1))
    rows = to_grade(record)
    if not rows:
        return None, 0
    points = {q["id"]: q["points"] for q in record["questions"]}
    with open(run_dir / SHEET, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for student, question in rows:
            answer = results[student].get("answers", {}).get(question, "")
            if len(answer) > MAX_ANSWER_CHARS:
                answer = (answer[:MAX_ANSWER_CHARS] + f" [... cut at {MAX_ANSWER_CHARS} characters: "
                          "the whole answer is in written-answers.md]")
            writer.writerow([assignment, run_id(record), _as_text(student), question,
                             f"{points[question]:g}", "", "", _as_text(answer)])
    return run_dir / SHEET, len(rows)


def load_record(run_dir: Path) -> dict:
    """The run's record; raises SystemExit when ``run_dir`` has none."""
    try:
        return json.loads((run_dir / RECORD).read_text())
    except FileNotFoundError:
        raise SystemExit(f"{run_dir} has no {RECORD}: it is not a grading run's folder, or the run "
                         "is older than rubric sheets (grade it again)") from None


def policy_of(record: dict) -> LatePolicy:
    late = record["late"]
    return LatePolicy(due=datetime.fromisoformat(late["due"]) if late["due"] else None,
                      per_day=late["per_day"], cap=late["cap"],
                      grace=timedelta(seconds=late["grace_seconds"]))


# ---- Reading a filled sheet.

def read_sheet(path: Path) -> list[tuple[int, dict[str, str]]]:
    """``(line, row)`` for every row of the sheet that is not empty; columns named as in
    :data:`COLUMNS` (case and spaces around a name do not matter). A sheet saved with ``;`` between
    columns (a spreadsheet in a language with a decimal comma) reads too.

    Raises SystemExit when the file cannot be read as UTF-8 CSV or lacks a required column.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SystemExit(f"rubric sheet {path}: not UTF-8 text; save it as 'CSV UTF-8'. "
                         "Nothing was merged.") from None
    except OSError as error:
        raise SystemExit(f"rubric sheet {path}: cannot read it: {error}") from None
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    try:
        table = list(csv.reader(text.splitlines(keepends=True), delimiter=delimiter))
    except csv.Error as error:
        raise SystemExit(f"rubric sheet {path}: not a CSV file ({error}). Nothing was merged."
                         ) from None
    names = [name.strip().lower() for name in (table[0] if table else [])]
    if missing := [c for c in REQUIRED if c not in names]:
        raise SystemExit(f"rubric sheet {path}: missing column(s) {', '.join(map(repr, missing))}; "
                         f"it needs {', '.join(REQUIRED)} (the header the grader wrote). "
                         "Nothing was merged.")
    rows = []
    for line, cells in enumerate(table[1:], start=2):
        if any(cell.strip() for cell in cells):
            rows.append((line, {name: (cells[i] if i < len(cells) else "").strip()
                                for i, name in enumerate(names) if name in COLUMNS}))
    return rows


def parse_points(text: str) -> float | None:
    """``2``, ``1.5`` or ``1,5`` as a number; None when ``text`` is not one (nor NaN, inf)."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text.replace(",", "."))
    return value if math.isfinite(value) else None


def validate(rows: list[tuple[int, dict[str, str]]], record: dict
             ) -> tuple[dict[tuple[str, str], tuple[float, str]], list[str]]:
    """The points and comment of each filled row, keyed by (student, question), and every problem
    found (``line N: ...``). Nothing is merged unless the problems are none."""
    problems, graded, seen = [], {}, {}
    qs = {q["id"]: q for q in record["questions"]}
    open_ = set(to_grade(record))
    expected_run = run_id(record)
    ours = (record["assignment"], expected_run)
    theirs = sorted({(row["assignment"], row["run"]) for _, row in rows})
    if theirs and ours not in theirs:
        named = "; ".join(f"assignment {a!r}, run {r!r}" for a, r in theirs[:3])
        return {}, [f"the sheet is from another run or assignment ({named}); this is "
                    f"assignment {ours[0]!r}, run {ours[1]!r}: merge each run's rubric.csv "
                    "into its own run"]
    for line, row in rows:
        def problem(text: str, line: int = line) -> None:
            problems.append(f"line {line}: {text}")

        if row["assignment"] != record["assignment"]:
            problem(f"assignment {row['assignment']!r}: this run graded {record['assignment']!r}; "
                    "the row is from another assignment's sheet")
            continue
        if row["run"] != expected_run:
            problem(f"run {row['run']!r}: the sheet of this run says {expected_run!r}; the row is "
                    "from another run's sheet (merge each run's rubric.csv into its own run)")
            continue
        student, question = _from_text(row["student"]), row["question"]
        if student not in record["results"]:
            problem(f"unknown student {student!r}: not among this run's submissions (keep the "
                    "name as the grader wrote it: a spreadsheet may drop leading zeros)")
            continue
        if question not in qs:
            problem(f"unknown question {question!r}; this assignment's written answers are "
                    f"{', '.join(q for q in qs if qs[q]['kind'] == 'manual') or 'none'}")
            continue
        if qs[question]["kind"] != "manual":
            problem(f"{question} is autograded: the rubric sheet grades written answers only")
            continue
        if (student, question) in seen:
            problem(f"{student} · {question} again (first on line {seen[student, question]}): "
                    "keep one row per answer")
            continue
        seen[student, question] = line
        if (student, question) not in open_:
            given = record["results"][student]["points"].get(question, 0.0)
            problem(f"{student} · {question} was not left to grade: the grader gave it {given:g} "
                    f"({record['results'][student].get('messages', {}).get(question, '')})")
            continue
        maximum = qs[question]["points"]
        if parse_points(row["max points"]) != maximum:
            problem(f"max points {row['max points']!r} for {question}: the question is worth "
                    f"{maximum:g} (from the assignment); change the points, not the maximum")
            continue
        if not row["points"]:
            continue  # left to grade
        points = parse_points(row["points"])
        if points is None:
            problem(f"points {row['points']!r} for {student} · {question} is not a number")
        elif points < 0:
            problem(f"points {row['points']} for {student} · {question} are negative")
        elif points > maximum + 1e-9:
            problem(f"points {row['points']} for {student} · {question} are more than its "
                    f"maximum, {maximum:g}")
        else:
            graded[student, question] = (points, row["comment"])
    return graded, problems


# ---- Merging.

def find_run(sheet: Path, rows: list[tuple[int, dict[str, str]]], results: Path | None) -> Path:
    """The run folder to merge ``sheet`` into: ``results`` if it is a run's folder, the run the
    sheet names in ``results`` if it is a results folder, else the folder the sheet is in."""
    folder = results if results is not None else sheet.parent
    if (folder / RECORD).exists() or results is None:
        return folder
    named = rows[0][1]["run"].split("/")[0] if rows else ""
    if not (folder / "runs").is_dir():
        raise SystemExit(f"--results {folder}: neither a run's folder (with {RECORD}) nor a results "
                         "folder (with runs/)")
    if not named or not re.fullmatch(r"[\w.-]+", named) or not (folder / "runs" / named).is_dir():
        raise SystemExit(f"rubric sheet {sheet}: its run {named!r} is not in {folder / 'runs'}; "
                         "the sheet is from another results folder")
    return folder / "runs" / named


def _new_folder(run_dir: Path, out: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name, n = f"merged-{stamp}", 1
    while (run_dir / name).exists() or (out / f"gradebook-{run_dir.name}-{name}.csv").exists():
        n += 1
        name = f"merged-{stamp}-{n}"
    (run_dir / name / "feedback").mkdir(parents=True)
    return run_dir / name


def merge(sheet: Path, results: Path | None = None) -> int:
    """Merge a filled rubric sheet into its run; see the module's docstring. Returns 0."""
    rows = read_sheet(sheet)
    run_dir = find_run(sheet, rows, results).resolve()
    if results is None and not (run_dir / RECORD).exists():
        raise SystemExit(f"rubric sheet {sheet}: not in its run's folder; say where the run is: "
                         "--results FOLDER (the grading's results folder, or its runs/<time>)")
    record = load_record(run_dir)
    graded, problems = validate(rows, record)
    if problems:
        listed = problems[:MAX_LISTED] + ([f"... and {len(problems) - MAX_LISTED} more"]
                                          if len(problems) > MAX_LISTED else [])
        raise SystemExit(f"rubric sheet {sheet}: {len(problems)} problem(s); nothing was merged, "
                         "nothing was written:\n  " + "\n  ".join(listed))
    left = [pair for pair in to_grade(record) if pair not in graded]
    if not graded:
        print(f"nothing to merge: no points filled in {sheet}; {len(left)} answer(s) to grade")
        return 0

    out = run_dir.parent.parent
    assignment, qs = record["assignment"], record["questions"]
    merged = copy.deepcopy(record["results"])
    for (student, question), (points, comment) in graded.items():
        merged[student]["points"][question] = points
        merged[student]["messages"][question] = comment or "graded by a person"
    for student in record["students"]:
        done = [q for s, q in graded if s == student]
        if done:
            merged[student]["reasons"].append(f"written answer(s) graded by a person: "
                                              f"{', '.join(done)}")
        merged[student]["questions"] = qs
    times = {s: (datetime.fromisoformat(when) if when else None, where)
             for s, (when, where) in record["times"].items()}
    entries = [(student, run_dir) for student in record["students"]]
    columns, book, lates = gradebook_rows(entries, merged, qs, assignment, policy_of(record), times)

    folder = _new_folder(run_dir, out)
    for student in record["students"]:
        (folder / "feedback" / f"{safe_name(student)}.md").write_text(
            feedback_markdown(student, assignment, merged[student], lates[student]))
    write_csv(folder / "gradebook.csv", columns, book)
    gradebook = out / f"gradebook-{run_dir.name}-{folder.name}.csv"
    write_csv(gradebook, columns, book)
    print(f"merged {len(graded)} written answer(s) from {sheet}\ngradebook: {gradebook}\n"
          f"feedback:  {folder / 'feedback'}")
    latest = out / "LATEST"
    if latest.exists() and latest.read_text().strip() == f"runs/{run_dir.name}":
        shutil.copyfile(gradebook, out / "gradebook-latest.csv")
    else:
        print("gradebook-latest.csv not moved: a later run has graded since this one")
    if record["exports"]:
        for path in write_exports(record["exports"], book, assignment, record["roster"],
                                  record["canvas_assignment_id"], gradebook.with_suffix("")):
            print(f"export:    {path}")
        if missing := missing_from_roster(book, record["roster"]):
            print(f"  not in the roster (exported with empty identifiers): {', '.join(missing)}")
    if left:
        shown = ", ".join(f"{s} · {q}" for s, q in left[:MAX_LISTED])
        print(f"left to grade: {len(left)} answer(s): {shown}"
              + (" ..." if len(left) > MAX_LISTED else ""))
    else:
        print("every written answer is graded")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.grading merge",
        description="Merge a filled rubric sheet (runs/<time>/rubric.csv) into its run's "
                    "gradebook, feedback and LMS exports, the late penalty applied.")
    p.add_argument("sheet", type=Path, help="the rubric sheet, its 'points' filled in")
    p.add_argument("--results", type=Path,
                   help="the run's folder (runs/<time>) or the results folder (--out of the "
                        "grading run); default: the folder the sheet is in")
    args = p.parse_args(argv)
    return merge(args.sheet.resolve(), args.results.resolve() if args.results else None)
