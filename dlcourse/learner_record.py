"""A learner's progress: which checks they have run, kept on their own machine, and a table of it.

Each time a ``with checking(...)`` block finishes in a learner's notebook
(:mod:`dlcourse.checks`, never when grading), one line is appended to a file of JSON lines: the
block's name, its outcome (``passed``, ``failed``, ``error``, ``not attempted``), the time, and the
notebook's file name when JupyterLab tells the kernel (``JPY_SESSION_NAME``; Colab does not).
Nothing else is recorded and nothing is sent anywhere. :func:`progress_table` (also
``python -m dlcourse progress``) maps the blocks to the exercises' questions
(:mod:`dlcourse.exercises`): a question is *passed* when its blocks' latest runs all passed,
*attempted* when some ran, *not started* otherwise.

Where: ``$DLCOURSE_PROGRESS`` when it names a file, else ``progress.jsonl`` in the user's data
folder (``platformdirs``; on Linux ``~/.local/share/dlcourse``). Off: ``DLCOURSE_PROGRESS=off``,
or ``python -m dlcourse progress --off`` (a marker file beside the record; ``--on`` removes it).

Concurrent notebooks: each line is written with one ``write`` on a file opened for appending,
under an exclusive ``flock``, so two kernels never interleave or lose a line. A damaged file (a
cut-off line, bytes that are not JSON) is reported, its good lines kept: :func:`read_record`
rewrites it in place, under the lock, and keeps a copy of what it dropped beside it. Recording
never raises into a learner's notebook: a record that cannot be written is reported once and
recording stops for that session.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dlcourse.exercises import EXERCISES, questions, title

#: The environment variable: ``off``, or the record's path.
VARIABLE = "DLCOURSE_PROGRESS"
OUTCOMES = ("passed", "failed", "error", "not attempted")
_warned = False


def record_path() -> Path:
    """Where the record is (see the module docstring)."""
    chosen = os.environ.get(VARIABLE, "")
    if chosen and chosen.lower() != "off":
        return Path(chosen).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("dlcourse", appauthor=False)) / "progress.jsonl"


def _off_marker() -> Path:
    return record_path().with_name(record_path().name + ".off")


def is_on() -> bool:
    """True unless ``DLCOURSE_PROGRESS=off`` or ``python -m dlcourse progress --off``."""
    return os.environ.get(VARIABLE, "").lower() != "off" and not _off_marker().exists()


def turn(on: bool) -> str:
    """Turn recording on or off for this machine's user; return what was done, in words."""
    marker = _off_marker()
    if on:
        marker.unlink(missing_ok=True)
        return f"progress recording is on ({record_path()})"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("recording turned off with `python -m dlcourse progress --off`\n")
    return "progress recording is off (turn it on: python -m dlcourse progress --on)"


def notebook_name() -> str | None:
    """The running notebook's file name without its folder, when the front end says it."""
    name = os.environ.get("JPY_SESSION_NAME") or ""
    return Path(name).name or None


def record(block: str, outcome: str) -> None:
    """Append one block's outcome to the record (a no-op when recording is off)."""
    global _warned
    if _warned or not is_on():
        return
    line = json.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "notebook": notebook_name(), "block": str(block)[:200],
                       "outcome": outcome}) + "\n"
    path = record_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as error:
        _warned = True
        print(f"(progress not recorded: {path}: {error.strerror or error}; "
              f"set {VARIABLE}=off to stop trying)")


@dataclass(frozen=True)
class Entry:
    """One line of the record."""

    time: str
    notebook: str | None
    block: str
    outcome: str


def _parse(line: str) -> Entry | None:
    try:
        data = json.loads(line)
        entry = Entry(str(data["time"]), data.get("notebook"), str(data["block"]),
                      str(data["outcome"]))
    except (ValueError, KeyError, TypeError):
        return None
    return entry if entry.outcome in OUTCOMES else None


def read_record(path: Path | None = None) -> tuple[list[Entry], str]:
    """The record's entries, and a note (empty when all is well).

    A missing record is empty. Damaged lines are dropped: the file is rewritten in place with the
    good ones (under the lock), the dropped lines saved beside it, and the note says so.
    """
    path = path or record_path()
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return [], ""
    except OSError as error:
        return [], f"the progress record {path} cannot be read ({error.strerror or error})"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read()
        entries, good, bad = [], [], []
        for line in raw.decode("utf-8", errors="replace").splitlines(keepends=True):
            entry = _parse(line) if line.endswith("\n") else None
            (good if entry else bad).append(line)
            if entry:
                entries.append(entry)
        if not bad:
            return entries, ""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        dropped = path.with_name(f"{path.name}.damaged-{stamp}")
        dropped.write_text("".join(bad), encoding="utf-8")
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, "".join(good).encode())
        return entries, (f"the progress record had {len(bad)} damaged line(s): they were "
                         f"removed (kept in {dropped}) and the record rebuilt from the rest")
    finally:
        os.close(fd)


def _status(blocks: tuple[str, ...], latest: dict[str, Entry]) -> tuple[str, str]:
    """Passed (every block's latest run passed), attempted, or not started (no run, or only runs
    of the untouched stub), and when last run."""
    runs = [latest[b] for b in blocks if b in latest and latest[b].outcome != "not attempted"]
    if not runs:
        return "not started", ""
    when = max(r.time for r in runs)[:16].replace("T", " ")
    if len(runs) == len(blocks) and all(r.outcome == "passed" for r in runs):
        return "passed", when
    return "attempted", when


def progress_table(folder: Path = EXERCISES, path: Path | None = None, detail: bool = True) -> str:
    """The learner's progress as text: per exercise, how many questions passed, and with
    ``detail`` each question's status and last run."""
    if not folder.is_dir():
        return f"no exercises found in {folder} (progress needs a clone of the course)"
    entries, note = read_record(path) if is_on() else ([], "")  # off: nothing read or written
    latest: dict[str, Entry] = {}
    for entry in entries:
        latest[entry.block] = entry  # the file is in time order: the last run wins
    lines = []
    totals = {"passed": 0, "attempted": 0, "not started": 0}
    for exercise in sorted(folder.glob("*.ipynb")):
        qs = questions(exercise)
        rows = [(q, *_status(q.blocks, latest)) for q in qs]
        done = sum(1 for _, status, _ in rows if status == "passed")
        lines.append(f"{title(exercise)}: {done} of {len(qs)} questions passed")
        for q, status, when in rows:
            totals[status] += 1
            if detail:
                lines.append(f"    {q.grade_id:<28} {q.points:>3g} pt  {status:<12} {when}".rstrip())
    head = (f"Your progress: {totals['passed']} questions passed, {totals['attempted']} "
            f"attempted, {totals['not started']} not started.")
    where = (f"Recording is off ({VARIABLE}=off, or `python -m dlcourse progress --off`): "
             "nothing is read or written."
             if not is_on() else f"Recorded in {path or record_path()}.")
    tail = [f"{where} Only the checks you ran count; lessons are not listed: reading leaves "
            "no trace the course could count honestly."]
    tail += [f"Note: {note}."] if note else []
    return "\n".join([head, "", *lines, "", *tail])
