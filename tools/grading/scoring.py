"""Grading one submission: validate, restore, execute, and judge each test cell in this process.

The verdicts are decided here, outside the kernel: a test cell's checks sent plain values
(dlcourse/checks.py, grading mode), and :func:`judge_cell` compares them, with
``dlcourse.checks.compare`` (the grader's own copy of the module), against the answer key
(tools/grading/key.py). A test cell earns its points when every block of it in the key sent exactly
its checks' values, in order, and each one passes. What the kernel prints, raises or publishes
otherwise does not count. Written answers are left for a person (``None``; a blank answer
scores 0).

Feedback names what failed: for a visible block, the same message a learner sees in the notebook;
for a hidden block, only which check of how many failed and what kind of failure it was (a wrong
value, a wrong shape, NaN, an error of which type), never its inputs or expected values.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import nbformat

from dlcourse.checks import KIND_TEXT, RECORD_MIME, Failure, compare, from_plain
from tools.grading.assignment import (
    cell_timeouts,
    graded_source,
    is_autograded_test,
    nbgrader_meta,
    questions,
)
from tools.grading.execution import execute
from tools.grading.restore import restore, suspicious_code
from tools.grading.sandbox import Sandbox

MAX_SUBMISSION_BYTES = 20_000_000


def _short(text: Any, limit: int = 300) -> str:
    try:
        text = str(text).replace("\n", " ")
    except RecursionError:  # what a kernel sent, nested too deeply to print
        text = "(nested too deeply)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _verdict(key: dict, label: str, check: dict, seconds: float | None = None) -> Failure | None:
    """One check: the value sent against the key (``same``: the two values sent, each other;
    ``model``: the parameters sent, measured here, the cell's observed ``seconds`` its time)."""
    params = key.get("params") or {}
    if key["method"] == "model":  # the key names the task (plain data, not a value)
        return compare("model", label, from_plain(check.get("value")), key["expected"],
                       seconds=seconds)
    value = from_plain(check.get("value"))
    if key["method"] == "same":
        return compare("same", label, value, from_plain(check.get("other")), **params)
    expected = from_plain(key["expected"])
    failure = compare(key["method"], label, value, expected, **params)
    if failure is None and key["method"] == "grad":  # and the function's own finite differences
        failure = compare("function_fd", label, from_plain(check.get("other")), expected, **params)
    return failure


def judge_block(block: dict, records: list, seconds: float | None = None
                ) -> tuple[bool, str, str]:
    """Judge one block of the key against the records a kernel sent for it.

    ``seconds`` is the cell's run time as the grader observed it. Returns (passed, message for
    the student, message for the instructor).
    """
    name, hidden, expected = block["name"], block["hidden"], block["checks"]
    mine = [r for r in records if isinstance(r, dict) and r.get("block") == name]
    if not mine:
        return False, f"{name}: did not run (an error earlier in the cell?)", ""
    if len(mine) > 1:
        why = f"{name}: reported {len(mine)} times (the test ran once): not counted"
        return False, why, why
    record = mine[0]
    sent = record.get("checks")
    outcome = record.get("outcome")
    if outcome == "not attempted":
        why = f"{name}: not attempted (the stub still raises NotImplementedError)"
        return False, why, why
    if not isinstance(sent, list):
        why = f"{name}: the values sent were malformed: not counted"
        return False, why, why
    total = len(expected)
    for i, check in enumerate(sent):
        if i >= total:
            why = f"{name}: sent more values ({len(sent)}) than the test has checks ({total})"
            return False, why, why
        key = expected[i]
        try:
            if not isinstance(check, dict) or check.get("method") != key["method"]:
                raise ValueError("a value from another check")
            label = "" if hidden else _short(check.get("name", key["name"]), 300)
            failure = _verdict(key, label, check, seconds)
            full = (_verdict(key, key["name"], check, seconds) if failure is not None and hidden
                    else None)
        except Exception as error:
            failure = full = Failure("missing", f"{key['name']}: the value sent could not be read "
                                                f"({type(error).__name__}: {_short(error, 100)})")
        if failure is not None:
            if hidden:
                student = (f"{name}: hidden check {i + 1} of {total} failed: "
                           f"{KIND_TEXT.get(failure.kind, 'it failed')}")
                return False, student, f"{name}: {(full or failure).message}"
            return False, f"{name}: {failure.message}", f"{name}: {failure.message}"
    error = record.get("error") if isinstance(record.get("error"), dict) else {}
    if outcome == "error":
        kind = _short(error.get("type", "an error"), 100)
        detail = _short(error.get("message", ""), 300)
        full = f"{name}: your code raised {kind}" + (f": {detail}" if detail else "")
        return False, (f"{name}: your code raised {kind}" if hidden else full), full
    if outcome != "finished":
        why = f"{name}: the values sent were malformed: not counted"
        return False, why, why
    if len(sent) < total:
        why = f"{name}: only {len(sent)} of its {total} checks ran"
        return False, why, why
    return True, f"{name}: all tests passed", f"{name}: all tests passed"


def judge_cell(blocks: list[dict], records: list, *, executed: bool, overflow: bool,
               errors: list[str], details: list | None = None, seconds: float | None = None
               ) -> tuple[bool, str, list[str]]:
    """Judge a test cell: (passed, feedback for the student, lines for the instructor).

    ``seconds``: how long the cell ran, by the grader's clock (for a model check's budget).
    ``details``, when given, receives each block's verdict when the cell ran: ``{"name",
    "hidden", "passed", "message"}`` with the student's message (for the Gradescope autograder,
    which shows visible and hidden blocks at different times).
    """
    if not executed:
        why = "not run (an earlier cell crashed the kernel or used up the time limit)"
        return False, why, [why]
    if overflow:
        why = "its checks sent more data than the grader accepts: not counted"
        return False, why, [why]
    results = [judge_block(block, records, seconds) for block in blocks]
    if details is not None:
        details += [{"name": block["name"], "hidden": block["hidden"], "passed": ok, "message": s}
                    for block, (ok, s, _) in zip(blocks, results, strict=True)]
    student = [s for ok, s, _ in results if not ok]
    instructor = [i or s for _, s, i in results]
    if not student:
        return True, "all tests passed", instructor
    if errors and any("did not run" in s for s in student):
        student.append(f"the cell stopped with {errors[0]}")
    return False, "; ".join(student), instructor


def score_written(cell: Any) -> tuple[float | None, str]:
    """A written answer: 0 when blank, else left for a person (None)."""
    from nbgrader.utils import determine_grade

    points, _ = determine_grade(cell)
    return (0.0, "no answer written") if points == 0 else (None, "to be graded by a person")


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return kind
    return "not a file"


def read_regular_file(path: Path, limit: int) -> tuple[bytes | None, str]:
    """At most ``limit + 1`` bytes of ``path`` if it is a regular file, else None and why not.

    A submitted path is never followed and never blocks: a symbolic link (to the solution, to
    /dev/zero, to a file elsewhere), a named pipe, a device or a folder is not opened for what it
    points to (``O_NOFOLLOW | O_NONBLOCK``, then ``fstat``: the file that was opened is the one
    checked). Links in the folders above ``path`` are the discovery's to refuse
    (tools/grading/gradebook.py's ``find_submissions``).
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        try:
            kind = _file_kind(os.lstat(path).st_mode)
        except OSError:
            kind = "missing"
        if kind == "not a file":  # a regular file that could not be opened
            return None, f"the file could not be read ({type(error).__name__})"
        return None, f"not a regular file: {path.name} is {kind}"
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        return None, f"not a regular file: {path.name} is {_file_kind(mode)}"
    with os.fdopen(descriptor, "rb") as f:
        return f.read(limit + 1), ""


def _read(path: Path) -> tuple[Any | None, str]:
    """The submission as a notebook, or None and why it is not one."""
    if path.is_dir() and not path.is_symlink() and path.suffix != ".ipynb":
        return None, "no notebook found in the submission folder"
    raw, why = read_regular_file(path, MAX_SUBMISSION_BYTES)
    if raw is None:
        return None, why
    if len(raw) > MAX_SUBMISSION_BYTES:
        return None, (f"the file is more than the {MAX_SUBMISSION_BYTES / 1e6:.0f} MB allowed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not a notebook: the file is not text (UTF-8)"
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"not a notebook: not valid JSON ({error.msg} at line {error.lineno})"
    except RecursionError:
        return None, "not a notebook: JSON nested too deeply"
    try:
        submission = nbformat.reads(text, as_version=4)
        nbformat.validate(submission)
    except Exception as error:
        return None, (f"not a notebook: JSON, but not a valid Jupyter notebook "
                      f"({type(error).__name__}: {str(error).splitlines()[0][:200]})")
    return submission, ""


def is_notebook(path: Path) -> bool:
    """True if ``path`` reads as a valid notebook (what :func:`grade_submission` would run)."""
    try:
        return _read(path)[0] is not None
    except (OSError, RecursionError):
        return False


def grade_submission(path: Path, source_path: Path, *, key: dict, cell_timeout: int,
                     notebook_timeout: int, max_output_bytes: int, sandbox: Sandbox) -> dict:
    """Grade one submission; return its result (scores, status, reasons, feedback data)."""
    from tools.make_exercises import release_notebook

    source_nb = nbformat.read(source_path, as_version=4)
    template = release_notebook(source_nb, hidden_tests=True)
    release = release_notebook(source_nb)
    qs = questions(template)
    result: dict[str, Any] = {"points": {q["id"]: 0.0 for q in qs}, "messages": {},
                              "status": "graded", "reasons": [], "questions": qs}

    submission, why = _read(path)
    if submission is None:
        result.update(status="invalid", reasons=[why])
        result["messages"] = {q["id"]: why for q in qs}
        return result
    if path.suffix != ".ipynb":
        result["reasons"].append(f"file named {path.name}, not .ipynb; graded as a notebook")

    nb, notes = restore(submission, template, release, source_path.stem)
    result["reasons"] += notes
    flags = suspicious_code(nb, release)
    if flags:
        result["reasons"].append("for a person to review: the learner's code " + ", ".join(flags))
    # The test cells run without their expected values: the key holds them.
    sources = {}
    for i, cell in enumerate(nb.cells):
        if is_autograded_test(cell):
            grade_id = nbgrader_meta(cell)["grade_id"]
            hidden = {b["name"] for b in key.get(grade_id, []) if b["hidden"]}
            sources[i] = graded_source(cell.source, hidden)
    nb, info = execute(nb, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                       max_output_bytes=max_output_bytes, sandbox=sandbox, sources=sources,
                       longer=cell_timeouts(nb, cell_timeout))
    if info["stopped"]:
        result["reasons"].append(f"stopped early: {info['stopped']}")
        result["status"] = info["stop_status"]
    if info["timed_out"]:
        result["reasons"].append(f"{len(info['timed_out'])} cell(s) ran past the {cell_timeout} s "
                                 "limit and were interrupted")
        if result["status"] == "graded":
            result["status"] = "timeout"
    if info.get("dropped"):
        result["reasons"].append(f"{info['dropped']} message(s) from the kernel could not be read "
                                 "and were ignored")
    if info["truncated"]:
        result["reasons"].append(f"output of {len(info['truncated'])} cell(s) truncated at "
                                 f"{max_output_bytes} bytes")
    if not sandbox.enabled:
        result["reasons"].append("graded WITHOUT the sandbox (--no-sandbox)")

    answers, verdicts = {}, {}
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        grade_id = meta["grade_id"]
        if is_autograded_test(cell):
            errors = [f"{o.get('ename')}: {_short(o.get('evalue', ''), 200)}"
                      for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            details: list[dict] = []
            passed, message, lines = judge_cell(
                key.get(grade_id, []), info["records"].get(i, []),
                executed=i in info["executed"], overflow=i in info["records_overflow"],
                errors=errors, details=details, seconds=info["seconds"].get(i))
            result.setdefault("blocks", {})[grade_id] = details
            points = float(meta.get("points", 0)) if passed else 0.0
            verdicts[i] = lines
        else:
            points, message = score_written(cell)
            answers[grade_id] = cell.source
        result["points"][grade_id] = points
        result["messages"][grade_id] = message
    result["answers"] = answers
    result["graded_notebook"] = _graded_notebook(nb, release, verdicts)
    return result


def _graded_notebook(nb: Any, release: Any, verdicts: dict[int, list[str]]) -> str:
    """The executed notebook for the instructor: test cells as students saw them, with verdicts.

    The values the checks sent are replaced by the grader's verdict on each block (hidden blocks
    included, with their expected values: this notebook is for the instructor, not the student).
    The grader never writes hidden tests' source to a file, where a later kernel might find it.
    """
    from nbgrader.preprocessors import LimitOutput

    visible = {nbgrader_meta(c)["grade_id"]: c.source for c in release.cells if nbgrader_meta(c)}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs = [o for o in cell.get("outputs", [])
                        if RECORD_MIME not in o.get("data", {})]
        if is_autograded_test(cell):
            cell.source = visible.get(nbgrader_meta(cell)["grade_id"], "")
            for output in cell.outputs:  # tracebacks quote the lines around the failure
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
            lines = verdicts.get(i, [])
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout",
                text="".join(f"[grader] {line}\n" for line in lines) or "[grader] no verdict\n"))
    return nbformat.writes(LimitOutput().preprocess(nb, {})[0])
