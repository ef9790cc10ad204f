"""Submissions in, gradebook out: finding the submissions, the CSV gradebook, per-student feedback.

Every run writes a new ``runs/<time>/`` folder and a new ``gradebook-<time>.csv``, and copies the
latter to ``gradebook-latest.csv``: an earlier gradebook is never overwritten. A run folder holds
``feedback/<student>.md`` (for the student), ``graded/<student>.ipynb`` (the executed notebook,
for the instructor), ``written-answers.md`` (for a person to grade; the rubric sheet beside it
is tools/grading/rubric.py's) and ``work/`` (one log per submission). Late penalties
(tools/grading/late.py) are applied here, and shown in the gradebook and the feedback; LMS
exports are written by tools/grading/export.py.
"""

from __future__ import annotations

import csv
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from tools.grading.assignment import questions
from tools.grading.late import LatePolicy

STATUSES = ("graded", "timeout", "crashed", "invalid", "error")


def find_submissions(folder: Path, assignment: str) -> list[tuple[str, Path]]:
    """Return (student, path) for each entry of ``folder``, sorted by student.

    A link is never followed: a student's folder that is a link, or a link named like a notebook,
    is returned as it is, and reading it then says it is not a regular file (a link could name the
    solution, or a file elsewhere the grader may read). A folder named ``x.ipynb`` is a file entry.
    """
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink() and entry.suffix != ".ipynb":
            notebooks = sorted(entry.glob("*.ipynb"))
            named = entry / f"{assignment}.ipynb"
            found.append((entry.name, named if named.is_symlink() or named.exists() else
                          (notebooks[0] if len(notebooks) == 1 else entry)))
        else:
            found.append((entry.stem if entry.suffix == ".ipynb" else entry.name, entry))
    return found


def safe_name(student: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", student)[:100] or "_"


def feedback_markdown(student: str, assignment: str, result: dict, late: dict | None = None
                      ) -> str:
    """The feedback file for one student: points per question, what failed, the late penalty."""
    qs = result["questions"]
    auto_total = sum(v for v in result["points"].values() if v is not None)
    late = late or {}
    score = "Score" if None not in result["points"].values() else "Score so far"
    lines = [f"# Feedback: {assignment}", "", f"**Student:** {student}  "]
    if late.get("penalty"):
        lines += [f"**{score}:** {late['total']:g} of {sum(q['points'] for q in qs):g} points "
                  f"({auto_total:g} before a late penalty of {late['penalty']:g} %)  "]
    else:
        lines += [f"**{score}:** {auto_total:g} of {sum(q['points'] for q in qs):g} points  "]
    lines += [f"**Status:** {result['status']}  "]
    if late.get("submitted"):
        lines += [f"**Submitted:** {late['submitted']} ({late['source']}); {late['days']} day(s) "
                  f"late under the policy: {late['policy']}  "]
    lines += [""]
    if result["reasons"]:
        lines += ["**Notes from the grader:**", ""] + [f"- {r}" for r in result["reasons"]] + [""]
    lines += ["| question | points | feedback |", "|---|---:|---|"]
    for q in qs:
        got = result["points"].get(q["id"])
        shown = "to be graded" if got is None else f"{got:g}"
        message = str(result["messages"].get(q["id"], "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {q['id']} | {shown} / {q['points']:g} | {message} |")
    lines += ["", "Visible checks are in your notebook; hidden tests are run by the grader only: "
                  "their feedback says which check failed and how, not its inputs or answers."]
    return "\n".join(lines) + "\n"


def new_run_dir(out: Path) -> Path:
    """Create and return a new ``runs/<time>/`` folder in ``out`` (never an existing one)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = out / "runs" / stamp
    n = 1
    while run_dir.exists() or (out / f"gradebook-{run_dir.name}.csv").exists():
        n += 1
        run_dir = out / "runs" / f"{stamp}-{n}"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "feedback").mkdir()
    (run_dir / "graded").mkdir()
    return run_dir


def gradebook_rows(entries: list[tuple[str, Path]], results: dict[str, dict], qs: list[dict],
                   assignment: str, policy: LatePolicy, times: dict[str, tuple]
                   ) -> tuple[list[str], list[dict], dict[str, dict]]:
    """The gradebook's columns and rows, and each student's late-penalty details."""
    columns = (["student", "assignment"] + [q["id"] for q in qs]
               + ["points", "late penalty %", "total", "max", "submitted", "days late", "status",
                  "reason"])
    rows, lates = [], {}
    for student, _ in entries:
        result = results[student]
        result.setdefault("questions", qs)
        result.setdefault("points", {q["id"]: 0.0 for q in qs})
        result.setdefault("messages", {})
        points = result["points"]
        raw = sum(v for v in points.values() if v is not None)
        submitted, source = times.get(student, (None, "unknown"))
        days = policy.days_late(submitted)
        penalty = policy.penalty(submitted)
        total = round(raw * (1 - penalty / 100), 4)
        manual = [q["id"] for q in qs if points.get(q["id"]) is None]
        reasons = list(result.get("reasons", []))
        if manual:
            reasons.append(f"to be graded by a person: {', '.join(manual)}")
        if penalty:
            reasons.append(f"{days} day(s) late: {penalty:g} % late penalty")
        row = {"student": student, "assignment": assignment, "points": f"{raw:g}",
               "late penalty %": f"{penalty:g}", "total": f"{total:g}",
               "max": f"{sum(q['points'] for q in qs):g}",
               "submitted": submitted.isoformat(timespec="seconds") if submitted else "",
               "days late": str(days) if policy.due else "", "status": result["status"],
               "reason": "; ".join(reasons) or "all questions graded"}
        for q in qs:
            value = points.get(q["id"])
            row[q["id"]] = "" if value is None else f"{value:g}"
        rows.append(row)
        lates[student] = {"penalty": penalty, "total": total, "days": days, "source": source,
                          "submitted": row["submitted"] if policy.due else "",
                          "policy": policy.describe()}
    return columns, rows, lates


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write a gradebook's ``rows`` (dicts keyed by ``columns``) as CSV, header first."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_gradebook(entries: list[tuple[str, Path]], results: dict[str, dict], source: Path,
                    assignment: str, run_dir: Path, out: Path, policy: LatePolicy | None = None,
                    times: dict[str, tuple] | None = None) -> tuple[Path, list[dict]]:
    """Write the gradebook, the feedback and the graded notebooks of one run.

    Returns the CSV's path and its rows (for the LMS exports).
    """
    template = nbformat.read(source, as_version=4)
    qs = questions(template)
    columns, rows, lates = gradebook_rows(entries, results, qs, assignment,
                                          policy or LatePolicy(), times or {})
    for (student, _), row in zip(entries, rows, strict=True):
        result = results[student]
        name = safe_name(student)
        (run_dir / "feedback" / f"{name}.md").write_text(
            feedback_markdown(student, assignment, result, lates[student]))
        if "graded_notebook" in result:
            (run_dir / "graded" / f"{name}.ipynb").write_text(result["graded_notebook"])
        if result.get("answers"):
            with open(run_dir / "written-answers.md", "a") as f:
                for grade_id, text in result["answers"].items():
                    f.write(f"## {student} · {grade_id}\n\n{text}\n\n")
        print(f"  {student:24} {row['total']:>5} / {row['max']:<4} {result['status']:8} "
              f"{result.get('seconds', 0):5.1f} s  {row['reason'][:100]}")

    write_csv(run_dir / "gradebook.csv", columns, rows)
    gradebook = out / f"gradebook-{run_dir.name}.csv"
    write_csv(gradebook, columns, rows)
    shutil.copyfile(gradebook, out / "gradebook-latest.csv")
    (out / "LATEST").write_text(f"runs/{run_dir.name}\n")
    print(f"gradebook: {gradebook}\nfeedback:  {run_dir / 'feedback'}")
    return gradebook, rows
