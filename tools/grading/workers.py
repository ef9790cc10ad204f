"""Many submissions, one worker process each: a hostile or endless one never stops the others.

Each submission is graded in a forked worker (nbgrader is imported once, in the parent), in its
own process group, ``jobs`` at a time; a worker that runs past the hard limit is killed with
everything it started, and its submission scored 0 with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from tools.grading.execution import remove_folder
from tools.grading.gradebook import safe_name
from tools.grading.scoring import grade_submission


def temp_folder() -> Path:
    """A new folder for one worker's temporary files (its kernel's scratch folder goes there).

    The parent removes it when the worker ends, however it ends. Under a short path: the kernel's
    sockets live in it, and Unix socket paths are limited to about 100 characters.
    """
    base = Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix="dlcourse-worker-",
                                 dir=base if len(str(base)) <= 36 else "/tmp"))


def _worker(student: str, path: Path, source: Path, result_path: Path, log_path: Path,
            options: dict, temp: Path) -> None:
    """Body of a forked worker process: grade one submission, write its result as JSON."""
    os.setsid()  # its own process group: the parent can kill it and what it started
    _die_with_parent()
    tempfile.tempdir = str(temp)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        result = grade_submission(path, source, **options)
    except BaseException as error:
        import traceback

        traceback.print_exc()
        result = {"status": "error", "reasons": [f"the grader failed on this submission: "
                                                 f"{type(error).__name__}: {error}"]}
    partial = result_path.with_suffix(".partial")  # a worker killed while writing leaves no result
    partial.write_text(json.dumps(result))
    partial.replace(result_path)
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
    free = list(range(jobs))  # slots: kernels running at once get users of their own (as root)
    while pending or running:
        while pending and len(running) < jobs:
            student, path = pending.pop(0)
            name = safe_name(student)
            paths = (work / f"{name}.json", work / f"{name}.log")
            slot = free.pop(0)
            mine = {**options, "sandbox": dataclasses.replace(options["sandbox"], slot=slot)}
            temp = temp_folder()
            proc = context.Process(target=_worker,
                                   args=(student, path, source, *paths, mine, temp))
            proc.start()
            running[student] = (proc, time.monotonic(), paths, slot, temp)
        time.sleep(0.05)
        for student, (proc, start, (result_path, log_path), slot, temp) in list(running.items()):
            overdue = time.monotonic() - start > hard_limit
            if proc.is_alive() and not overdue:
                continue
            if overdue:
                _kill_group(proc.pid)
            proc.join()
            _kill_group(proc.pid)  # whatever the submission left behind
            del running[student]
            free.append(slot)
            remove_folder(temp)  # the kernel's scratch folder too, if the worker was killed
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


def _die_with_parent() -> None:
    """Exit when the grader that forked this process dies (its sandboxes die with it)."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def in_child(function, **kwargs):
    """Return ``function(**kwargs)`` computed in a forked child, passed back through a pipe.

    The parent then never runs a kernel itself: an event loop or ZeroMQ context it held would be
    shared, broken, with every worker forked after it. The result never touches the disk (the
    answer key goes this way). A SystemExit in the child is raised again here.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    temp = temp_folder()

    def body():
        os.setsid()
        _die_with_parent()
        tempfile.tempdir = str(temp)
        try:
            send.send(("ok", function(**kwargs)))
        except SystemExit as error:
            send.send(("exit", str(error.code)))
        except BaseException as error:
            send.send(("exit", f"{type(error).__name__}: {error}"))
        os._exit(0)

    proc = context.Process(target=body)
    proc.start()
    send.close()
    try:
        kind, value = receive.recv()
    except EOFError:
        kind, value = "exit", f"the child process stopped without a result (exit code {proc.exitcode})"
    proc.join()
    _kill_group(proc.pid)
    remove_folder(temp)
    if kind == "exit":
        raise SystemExit(value)
    return value


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
