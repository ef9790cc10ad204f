"""Reading what the grader wrote, for the grading tests (unit and system)."""

from __future__ import annotations

import csv
from pathlib import Path


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    """A gradebook CSV as ``{student: row}``."""
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}
