"""Gradebook exports in the column formats that Canvas and Moodle import, from a class roster.

The grader knows students by their submission's name (``alice.ipynb``, ``alice/``); an LMS knows
them by its own identifiers. ``--roster FILE`` is a CSV with the column ``student`` (the submission's
name) and any of ``name``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``section``, ``email``,
``id_number`` (an LMS's own roster export, with a ``student`` column added, is fine). A student
missing from the roster keeps the submission's name and empty identifiers: the export says so.

- **Canvas** (``gradebook-<time>-canvas.csv``): the columns of Canvas's gradebook export,
  ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column for the assignment named
  ``<assignment> (<canvas assignment id>)`` (``--canvas-assignment-id``; without it Canvas creates
  a new assignment column on import). Canvas matches rows by ``ID``, ``SIS User ID`` or
  ``SIS Login ID``.
- **Moodle** (``gradebook-<time>-moodle.csv``): ``Full name, Email address, ID number`` and a column
  ``Assignment: <assignment> (Real)``, as Moodle's own grade export names it. On import (Grades →
  Import → CSV file) map the user by ``Email address`` or ``ID number``, and the grade column to the
  assignment's grade item.

The grade exported is the total after the late penalty: the autograded points, and the written
answers' once their rubric sheet is merged (tools/grading/rubric.py writes the exports again).
"""

from __future__ import annotations

import csv
from pathlib import Path

ROSTER_COLUMNS = ("name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email",
                  "id_number")
FORMATS = ("canvas", "moodle")


def read_lms_csv(option: str, path: Path, columns: tuple[str, ...], needs: str) -> list[dict[str, str]]:
    """The rows of a CSV file given as ``option`` (an LMS's export: a BOM is fine), as dicts.

    Raises SystemExit, naming ``option`` and the file, when it cannot be read or its header lacks
    one of ``columns`` (the message says it ``needs`` them and lists the columns it has).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SystemExit(f"{option} {path}: cannot read it: {error}") from None
    if rows and not set(columns) <= set(rows[0]):
        raise SystemExit(f"{option} {path}: needs {needs}, has {', '.join(k for k in rows[0] if k)}")
    return rows


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """``{student: {column: value}}``; raises SystemExit when the file has no ``student`` column."""
    rows = read_lms_csv("--roster", path, ("student",), "a 'student' column (the submission's name)")
    return {row["student"].strip(): {k: (row.get(k) or "").strip() for k in ROSTER_COLUMNS}
            for row in rows if (row.get("student") or "").strip()}


def write_exports(formats: list[str], rows: list[dict[str, str]], assignment: str,
                  roster: dict[str, dict[str, str]], canvas_assignment_id: str | None,
                  stem: Path) -> list[Path]:
    """Write one CSV per format next to ``stem`` (``<stem>-canvas.csv``); return the paths."""
    written = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}-{fmt}.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if fmt == "canvas":
                column = f"{assignment} ({canvas_assignment_id})" if canvas_assignment_id else assignment
                writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
                for row in rows:
                    who = roster.get(row["student"], {})
                    writer.writerow([who.get("name") or row["student"], who.get("canvas_id", ""),
                                     who.get("sis_user_id", ""), who.get("sis_login_id", ""),
                                     who.get("section", ""), row["total"]])
            else:
                writer.writerow(["Full name", "Email address", "ID number",
                                 f"Assignment: {assignment} (Real)"])
                for row in rows:
                    who = roster.get(row["student"], {})
                    writer.writerow([who.get("name") or row["student"], who.get("email", ""),
                                     who.get("id_number", ""), row["total"]])
        written.append(path)
    return written


def missing_from_roster(rows: list[dict[str, str]], roster: dict[str, dict[str, str]]) -> list[str]:
    return [row["student"] for row in rows if row["student"] not in roster]
