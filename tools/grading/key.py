"""The answer key: the expected values of every check, from a run of the solution, kept in memory.

Before grading, the grader runs the assignment's source notebook (solutions and hidden tests) once,
in the same sandbox as the submissions, with dlcourse.checks in ``key`` mode: each check compares
as for a learner (so a solution that fails its own checks stops the grading, with the reason) and
sends its expected value and tolerances. The key holds, per test cell and block, the list of checks
in the order they ran: method, name, expected value (plain data), tolerances, and whether the block
is hidden; a trained model's check keeps only its task (the grader measures the solution's model
while making the key, as it will measure each submission's). It lives only in the grader's memory
(the forked workers inherit it); it is never written to a file, and no part of it is sent to a
graded kernel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from dlcourse.checks import compare, from_plain
from dlcourse.exercises import checking_blocks
from tools.grading.assignment import cell_timeouts, is_autograded_test, nbgrader_meta
from tools.grading.execution import execute
from tools.grading.sandbox import Sandbox


def visible_blocks(release: Any) -> dict[str, set[str]]:
    """Per test cell (grade id), the blocks students see; the others are hidden tests."""
    return {nbgrader_meta(c)["grade_id"]: set(checking_blocks(c.source))
            for c in release.cells if is_autograded_test(c)}


def _judge_models(grade_id: str, block: str, checks: list[dict], seconds: float | None
                  ) -> list[str]:
    """Measure the solution's trained models here, as a submission's will be; keep only their
    task in the key (not the solution's parameters). Returns the problems found."""
    problems = []
    for check in checks:
        if check.get("method") == "model":
            failure = compare("model", check["name"], from_plain(check.pop("value", None)),
                              check.get("expected"), seconds=seconds)
            if failure is not None:
                problems.append(f"{grade_id}: block {block!r}: {failure.message}")
    return problems


def build_key(source_path: Path, *, sandbox: Sandbox, cell_timeout: int, notebook_timeout: int,
              max_output_bytes: int) -> dict[str, list[dict]]:
    """Run the solution in ``key`` mode; return ``{grade_id: [block, ...]}`` (see module doc).

    Each block is ``{"name", "hidden", "checks": [{"method", "name", "expected", "params"}]}``.
    Raises SystemExit, saying which check, when the solution does not pass its own checks.
    """
    from nbgrader.preprocessors import ClearOutput

    from tools.make_exercises import release_notebook

    source = nbformat.read(source_path, as_version=4)
    visible = visible_blocks(release_notebook(source))
    nb, _ = ClearOutput().preprocess(nbformat.read(source_path, as_version=4), {})
    nb, info = execute(nb, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                       max_output_bytes=max_output_bytes, sandbox=sandbox, mode="key",
                       longer=cell_timeouts(nb, cell_timeout))
    problems: list[str] = []
    if info["stopped"]:
        problems.append(f"the run stopped early: {info['stopped']}")
    key: dict[str, list[dict]] = {}
    for index, cell in enumerate(nb.cells):
        if not is_autograded_test(cell):
            continue
        grade_id = nbgrader_meta(cell)["grade_id"]
        records = info["records"].get(index, [])
        written = checking_blocks(cell.source)
        blocks = []
        for record in records:
            name = record.get("block")
            if name not in written:
                continue
            if record.get("outcome") != "finished":
                error = record.get("error") or {}
                problems.append(f"{grade_id}: block {name!r} {record.get('outcome')}: "
                                f"{error.get('message') or error.get('type') or ''}")
            checks = record.get("checks", [])
            problems += _judge_models(grade_id, name, checks, info["seconds"].get(index))
            blocks.append({"name": name, "hidden": name not in visible.get(grade_id, set()),
                           "checks": checks})
        ran = [b["name"] for b in blocks]
        missing = [b for b in written if b not in ran]
        if missing:
            errors = [o.get("ename", "") + ": " + str(o.get("evalue", ""))[:200]
                      for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            problems.append(f"{grade_id}: block(s) {', '.join(missing)} did not run"
                            + (f" ({errors[0]})" if errors else ""))
        if len(ran) != len(set(ran)):
            problems.append(f"{grade_id}: a block ran more than once: {ran}")
        key[grade_id] = blocks
    if problems:
        raise SystemExit(f"the solution {source_path} does not pass its own checks, so there is "
                         "no answer key to grade with:\n  " + "\n  ".join(problems))
    return key
