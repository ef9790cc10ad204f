"""The exercises as the course ships them: their questions, points and check blocks.

A question of an exercise is a graded test cell (nbgrader metadata: ``grade_id``, ``points``);
its checks are ``with checking("name") as check:`` blocks with literal names. The grader
(tools/grading/) and a learner's progress (:mod:`dlcourse.learner_record`) read them the same way,
with the functions here.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dlcourse.data.paths import REPO_DIR

#: Where a clone of the course keeps the exercises learners work on.
EXERCISES = REPO_DIR / "exercises"
#: Where it keeps the lessons.
LESSONS = REPO_DIR / "notebooks"


def checking_name(item: ast.withitem) -> str | None:
    """The block's name when ``item`` is ``checking("name")`` with a literal name, else None."""
    call = item.context_expr
    if (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "checking"
            and call.args and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)):
        return call.args[0].value
    return None


def checking_items(tree: ast.AST) -> Iterator[tuple[str, ast.withitem, ast.With]]:
    """Every ``with checking("name") [as check]`` block in ``tree``: its name, the ``checking(...)``
    item and the ``with`` statement, in the order of ``ast.walk``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                name = checking_name(item)
                if name is not None:
                    yield name, item, node


def checking_blocks(source: str) -> list[str]:
    """The names of the ``with checking("name")`` blocks in a cell's source (none if it does not
    parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [name for name, _, _ in checking_items(tree)]


@dataclass(frozen=True)
class Question:
    """One graded question of an exercise: its id, points and the check blocks a learner runs."""

    exercise: str
    grade_id: str
    points: float
    blocks: tuple[str, ...]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def questions(path: Path) -> list[Question]:
    """The autograded questions of the exercise notebook at ``path``, in order."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    found = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            found.append(Question(path.stem, meta["grade_id"], float(meta.get("points", 0)),
                                  tuple(checking_blocks(_source(cell)))))
    return found


def title(path: Path) -> str:
    """A notebook's title: its first markdown heading (the file's name if it has none)."""
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem
