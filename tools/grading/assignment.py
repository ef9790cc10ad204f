"""The assignment's source notebook and its graded cells, as the grader reads them.

An assignment is a source notebook in solutions/ (nbgrader's format): its graded cells carry
nbgrader metadata (``grade_id``, ``points``); an autograded test cell is a locked, graded code
cell that is not a solution, and its checks are ``with checking("name")`` blocks.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from tools.notebook_meta import SOLUTIONS


def resolve_source(assignment: str) -> Path:
    """Return the source notebook of ``assignment`` (a name in solutions/ or a path)."""
    path = Path(assignment)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    candidate = SOLUTIONS / f"{path.stem}.ipynb"
    if candidate.exists():
        return candidate
    known = ", ".join(p.stem for p in sorted(SOLUTIONS.glob("*.ipynb"))) or "none"
    raise SystemExit(f"no source notebook for assignment {assignment!r} "
                     f"(looked for {candidate}); known assignments: {known}")


def nbgrader_meta(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_autograded_test(cell: Any) -> bool:
    meta = nbgrader_meta(cell)
    return (cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")
            and bool(meta.get("locked")))


def questions(template: Any) -> list[dict]:
    """Return the graded cells of a notebook: id, points and kind (auto or manual), in order."""
    out = []
    for cell in template.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            out.append({"id": meta["grade_id"], "points": float(meta.get("points", 0)),
                        "kind": "auto" if is_autograded_test(cell) else "manual"})
    return out


def checking_blocks(source: str) -> list[str]:
    """Return the names of the ``with checking("name")`` blocks in a cell's source."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "checking"
                        and call.args and isinstance(call.args[0], ast.Constant)
                        and isinstance(call.args[0].value, str)):
                    names.append(call.args[0].value)
    return names
