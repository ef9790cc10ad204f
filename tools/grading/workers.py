"""Many submissions, one worker process each: a hostile or endless one never stops the others.

Each submission is graded in a forked worker (nbgrader is imported once, in the parent), in its
own process group, ``jobs`` at a time; a worker that runs past the hard limit is killed with
everything it started, and its submission scored 0 with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from tools.grading.gradebook import safe_name
from tools.grading.scoring import grade_submission


def _worker(student: str, path: Path, source: Path, result_path: Path, log_path: Path,
            options: dict) -> None:
    """Body of a forked worker process: grade one submission, write its result as JSON."""
    os.setsid()  # its own process group: the parent can kill it and what it started
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        result = grade_submission(path, source, **options)
    except BaseException as error:  # noqa: BLE001 - reported as this submission's status
        import traceback

        traceback.print_exc()
        result = {"status": "error", "reasons": [f"the grader failed on this submission: "
                                                 f"{type(error).__name__}: {error}"]}
    result_path.write_text(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)


def grade_all(entries: list[tuple[str, Path]], source: Path, run_dir: Path, options: dict,
              jobs: int, hard_limit: float) -> dict[str, dict]:
    """Grade each submission in its own forked worker, ``jobs`` at a time; return the results.

    A worker that runs past ``hard_limit`` seconds is killed with its process group, and its
    submission scored 0 with the reason; no submission can stop the others.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")  # nbgrader is imported once, in the parent
    work = run_dir / "work"
    pending, running, results = list(entries), {}, {}
    while pending or running:
        while pending and len(running) < jobs:
            student, path = pending.pop(0)
            name = safe_name(student)
            paths = (work / f"{name}.json", work / f"{name}.log")
            proc = context.Process(target=_worker, args=(student, path, source, *paths, options))
            proc.start()
            running[student] = (proc, time.monotonic(), paths)
        time.sleep(0.05)
        for student, (proc, start, (result_path, log_path)) in list(running.items()):
            overdue = time.monotonic() - start > hard_limit
            if proc.is_alive() and not overdue:
                continue
            if overdue:
                _kill_group(proc.pid)
            proc.join()
            _kill_group(proc.pid)  # whatever the submission left behind
            del running[student]
            if result_path.exists():
                result = json.loads(result_path.read_text())
            else:
                why = (f"killed after the hard limit of {hard_limit:.0f} s" if overdue else
                       f"the grading worker stopped without a result (exit code {proc.exitcode})")
                result = {"status": "timeout" if overdue else "error",
                          "reasons": [f"{why}; see runs/{run_dir.name}/work/{log_path.name}"]}
            result["seconds"] = round(time.monotonic() - start, 1)
            results[student] = result
    return results


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
