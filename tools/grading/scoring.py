"""Grading one submission: validate, restore, execute, and score each graded cell.

A test cell scores only if every ``checking`` block in it reported "passed" with the token the
grader gave it, *and* nbgrader's ``determine_grade`` gives it points (no error, nothing on
stderr). Written answers are left for a person (``None``; a blank answer scores 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat

from tools.grading.assignment import checking_blocks, is_autograded_test, nbgrader_meta, questions
from tools.grading.execution import RECORD_MIME, execute
from tools.grading.restore import restore, suspicious_code

MAX_SUBMISSION_BYTES = 20_000_000


def score_cell(cell: Any, token: str | None, executed: bool) -> tuple[float | None, str]:
    """Return the points a graded cell earned (None: a person grades it) and why."""
    from nbgrader.utils import determine_grade

    if not is_autograded_test(cell):
        points, _ = determine_grade(cell)
        return (0.0, "no answer written") if points == 0 else (None, "to be graded by a person")
    if not executed:
        return 0.0, "not run (an earlier cell crashed the kernel or used up the time limit)"
    records = [o["data"][RECORD_MIME] for o in cell.outputs
               if o.get("output_type") == "display_data" and RECORD_MIME in o.get("data", {})]
    forged = [r for r in records if not isinstance(r, dict) or r.get("token") != token]
    records = [r for r in records if isinstance(r, dict) and r.get("token") == token]
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    failed = [r for r in records if r.get("status") != "passed"]
    if failed:
        first = failed[0]
        return 0.0, first.get("message") or f"{first.get('block')}: {first.get('status')}"
    if errors:
        error = errors[0]
        if error.get("ename") == "CellTimeoutError":
            return 0.0, f"stopped after the time limit of the test cell ({error.get('evalue', '')})"
        return 0.0, f"{error.get('ename')}: {str(error.get('evalue', ''))[:300]}"
    passed = {r.get("block") for r in records}
    missing = [b for b in checking_blocks(cell.source) if b not in passed]
    if missing or not records:
        note = " (records with a wrong token were ignored)" if forged else ""
        return 0.0, (f"no 'passed' report from check(s) {', '.join(missing) or 'in this cell'}: "
                     f"the checks did not run, or the output was tampered with{note}")
    points, max_points = determine_grade(cell)
    if points is None or points < max_points:
        return float(points or 0.0), "output on stderr or a partial score from nbgrader"
    return float(points), "all tests passed" + (" (forged records ignored)" if forged else "")


def grade_submission(path: Path, source_path: Path, *, cell_timeout: int, notebook_timeout: int,
                     max_output_bytes: int, hide: list[Path], sandbox: bool) -> dict:
    """Grade one submission; return its result (scores, status, reasons, feedback data)."""
    from tools.make_exercises import release_notebook

    source_nb = nbformat.read(source_path, as_version=4)
    template = release_notebook(source_nb, hidden_tests=True)
    release = release_notebook(source_nb)
    qs = questions(template)
    result: dict[str, Any] = {"points": {q["id"]: 0.0 for q in qs}, "messages": {},
                              "status": "graded", "reasons": [], "questions": qs}

    def invalid(why: str) -> dict:
        result.update(status="invalid", reasons=[why])
        result["messages"] = {q["id"]: why for q in qs}
        return result

    if path.is_dir():
        return invalid("no notebook found in the submission folder")
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        return invalid(f"the file is {size / 1e6:.0f} MB, more than the "
                       f"{MAX_SUBMISSION_BYTES / 1e6:.0f} MB allowed")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return invalid("not a notebook: the file is not text (UTF-8)")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return invalid(f"not a notebook: not valid JSON ({error.msg} at line {error.lineno})")
    try:
        submission = nbformat.reads(text, as_version=4)
        nbformat.validate(submission)
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds
        return invalid(f"not a notebook: JSON, but not a valid Jupyter notebook "
                       f"({type(error).__name__}: {str(error).splitlines()[0][:200]})")
    if path.suffix != ".ipynb":
        result["reasons"].append(f"file named {path.name}, not .ipynb; graded as a notebook")

    nb, notes = restore(submission, template, release, source_path.stem)
    result["reasons"] += notes
    flags = suspicious_code(nb, release)
    if flags:
        result["reasons"].append("for a person to review: the learner's code " + ", ".join(flags))
    nb, info = execute(nb, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                       max_output_bytes=max_output_bytes, hide=hide, sandbox=sandbox)
    if info["stopped"]:
        result["reasons"].append(f"stopped early: {info['stopped']}")
        result["status"] = info["stop_status"]
    if info["timed_out"]:
        result["reasons"].append(f"{len(info['timed_out'])} cell(s) ran past the {cell_timeout} s "
                                 "limit and were interrupted")
        if result["status"] == "graded":
            result["status"] = "timeout"
    if info["truncated"]:
        result["reasons"].append(f"output of {len(info['truncated'])} cell(s) truncated at "
                                 f"{max_output_bytes} bytes")
    if not sandbox:
        result["reasons"].append("graded WITHOUT the sandbox: the kernel could read files")

    answers = {}
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        points, message = score_cell(cell, info["tokens"].get(i), i in info["executed"])
        result["points"][meta["grade_id"]] = points
        result["messages"][meta["grade_id"]] = message
        if not is_autograded_test(cell):
            answers[meta["grade_id"]] = cell.source
    result["answers"] = answers
    from nbgrader.preprocessors import LimitOutput

    # The saved notebook shows the test cells as the students saw them (outputs kept): the grader
    # never writes hidden tests to a file, where a later submission's kernel might find them.
    visible = {nbgrader_meta(c)["grade_id"]: c.source for c in release.cells if nbgrader_meta(c)}
    for cell in nb.cells:
        if is_autograded_test(cell):
            cell.source = visible.get(nbgrader_meta(cell)["grade_id"], "")
            for output in cell.outputs:  # tracebacks quote the lines around the failure
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
    result["graded_notebook"] = nbformat.writes(LimitOutput().preprocess(nb, {})[0])
    return result
