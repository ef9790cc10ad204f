"""Late penalties: a due date and a policy (per day, a cap, a grace period), applied per submission.

A submission's time comes from ``--timestamps FILE`` when the file lists the student (a CSV with the
columns ``student`` and ``submitted``, ISO 8601 times such as ``2025-03-02T14:05:00+01:00``, as an
LMS export gives them), else from the submitted file's modification time (which copying can
change: prefer the LMS's times). A time without a zone is the grading machine's local time.

Days late count started days after the due time plus the grace period: one minute past the grace
period is one day late. The penalty is ``per_day`` percent of the points per day late, at most
``cap`` percent; it applies to the row's points, the written answers' included once their rubric
sheet is merged (tools/grading/rubric.py), and the gradebook shows the percentage.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tools.grading.export import read_lms_csv

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone, the local time of this machine."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.astimezone()


def parse_duration(text: str) -> timedelta:
    """``90`` (minutes), ``30s``, ``15m``, ``2h`` or ``1d``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 15m, 2h, 1d; a bare number is "
                         "minutes)")
    amount, unit = float(match.group(1)), match.group(2) or "m"
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


@dataclass
class LatePolicy:
    """Due time and penalty policy; no ``due``: nothing is late."""

    due: datetime | None = None
    per_day: float = 0.0            # percent of the points per started day late
    cap: float = 100.0              # largest penalty, percent
    grace: timedelta = timedelta(0)

    def days_late(self, submitted: datetime | None) -> int:
        if self.due is None or submitted is None:
            return 0
        late = submitted - (self.due + self.grace)
        return max(0, math.ceil(late / timedelta(days=1))) if late > timedelta(0) else 0

    def penalty(self, submitted: datetime | None) -> float:
        """The penalty in percent of the points for a submission at ``submitted``."""
        return min(self.cap, self.days_late(submitted) * self.per_day)

    def describe(self) -> str:
        if self.due is None:
            return "no due date"
        grace = f", {_human(self.grace)} grace" if self.grace else ""
        return (f"due {self.due.isoformat(timespec='minutes')}{grace}; {self.per_day:g} % per day "
                f"late, at most {self.cap:g} %")


def _human(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"


def read_timestamps(path: Path) -> dict[str, datetime]:
    """``{student: time}`` from a CSV with columns ``student`` and ``submitted``.

    Raises SystemExit naming the line when the file is not such a CSV (nothing is graded then).
    """
    rows = read_lms_csv("--timestamps", path, ("student", "submitted"),
                        "the columns 'student' and 'submitted'")
    times = {}
    for line, row in enumerate(rows, start=2):
        try:
            times[row["student"].strip()] = parse_time(row["submitted"] or "")
        except (ValueError, AttributeError):
            raise SystemExit(f"--timestamps {path}, line {line}: {row.get('submitted')!r} is not an "
                             "ISO 8601 time (for example 2025-03-02T14:05:00+01:00)") from None
    return times


def submission_time(student: str, path: Path, stamps: dict[str, datetime]
                    ) -> tuple[datetime | None, str]:
    """When ``student`` submitted, and where that time comes from."""
    if student in stamps:
        return stamps[student], "timestamps file"
    try:
        target = path if path.is_file() else max(path.glob("*.ipynb"), key=lambda p: p.stat().st_mtime)
        return datetime.fromtimestamp(target.stat().st_mtime).astimezone(), "file modification time"
    except (OSError, ValueError):
        return None, "unknown"
