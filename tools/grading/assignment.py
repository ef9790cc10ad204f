"""The assignment's source notebook and its graded cells, as the grader reads them.

An assignment is a source notebook in solutions/ (nbgrader's format): its graded cells carry
nbgrader metadata (``grade_id``, ``points``); an autograded test cell is a locked, graded code
cell that is not a solution, and its checks are ``with checking("name")`` blocks.

Before a test cell runs in a graded kernel, :func:`graded_source` removes what only serves the
expected values: the expected arguments of its checks (``dlcourse.checks.EXPECTED_ARGUMENTS``),
the functions named ``reference_...`` that compute them, and, in a hidden block, the checks'
names and hints (they may quote hidden inputs or answers). The grader holds the expected values.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from dlcourse.checks import EXPECTED_ARGUMENTS
from dlcourse.exercises import checking_items, checking_name
from tools.notebook_meta import SOLUTIONS

#: Functions whose name starts with this compute expected values: never sent to a graded kernel.
REFERENCE_PREFIX = "reference_"


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


def check_calls(tree: ast.AST) -> list[tuple[str, ast.Call, str]]:
    """``(method, call, block name)`` of every ``check.<method>(...)`` inside a block
    ``with checking("name") as check`` (the checks a test cell declares)."""
    found = []
    for block, item, node in checking_items(tree):
        if isinstance(item.optional_vars, ast.Name):
            check = item.optional_vars.id
            found += [(inner.func.attr, inner, block) for inner in ast.walk(node)
                      if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
                      and getattr(inner.func.value, "id", None) == check]
    return found


#: Seconds a model check's cell may run past its task's time budget before it is interrupted, so
#: that an overrun gets the budget's verdict (the cell took N s) rather than a timeout.
BUDGET_GRACE_S = 30


def model_budget(source: str) -> float | None:
    """The longest time budget of the ``check.model(name, model, "task")`` calls in a test cell's
    source (:mod:`dlcourse.model_tasks`), or None when it has none with a budget."""
    from dlcourse.model_tasks.task import get_task

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    budgets = []
    for method, call, _ in check_calls(tree):
        task = call.args[2] if len(call.args) > 2 else next(
            (k.value for k in call.keywords if k.arg == "task"), None)
        if method == "model" and isinstance(task, ast.Constant) and isinstance(task.value, str):
            seconds = get_task(task.value).seconds
            if seconds is not None:
                budgets.append(seconds)
    return max(budgets, default=None)


def cell_timeouts(nb: Any, cell_timeout: int) -> dict[int, int]:
    """Per test cell (index) with a trained model's time budget: a limit above that budget, when
    it exceeds ``cell_timeout`` (the other cells keep ``cell_timeout``)."""
    longer = {}
    for index, cell in enumerate(nb.cells):
        if is_autograded_test(cell):
            budget = model_budget(cell.source)
            if budget is not None and budget + BUDGET_GRACE_S > cell_timeout:
                longer[index] = int(budget + BUDGET_GRACE_S)
    return longer


class _StripExpected(ast.NodeTransformer):
    """Remove expected arguments and reference functions; blank names and hints in hidden blocks."""

    def __init__(self, hidden: set[str]) -> None:
        self.hidden = hidden
        self.check_names: list[tuple[str, bool]] = []  # (name bound by ``as``, hidden?)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        if node.name.startswith(REFERENCE_PREFIX):
            return None
        return self.generic_visit(node)

    def visit_With(self, node: ast.With) -> Any:
        bound = []
        for item in node.items:
            block = checking_name(item)
            if block is not None and isinstance(item.optional_vars, ast.Name):
                bound.append((item.optional_vars.id, block in self.hidden))
        self.check_names.extend(bound)
        self.generic_visit(node)
        del self.check_names[len(self.check_names) - len(bound):]
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        self.generic_visit(node)
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return node
        owners = {name: hidden for name, hidden in self.check_names}
        if func.value.id not in owners:
            return node
        hidden = owners[func.value.id]
        strip = EXPECTED_ARGUMENTS.get(func.attr, {})
        node.args = [ast.Constant(None) if i in strip else arg for i, arg in enumerate(node.args)]
        node.keywords = [ast.keyword(k.arg, ast.Constant(None)) if k.arg in strip.values()
                         else k for k in node.keywords]
        if hidden:
            if node.args:
                node.args[0] = ast.Constant("")
            node.keywords = [ast.keyword(k.arg, ast.Constant("")) if k.arg in ("hint", "name")
                             else k for k in node.keywords]
        return node


def graded_source(source: str, hidden_blocks: set[str]) -> str:
    """Return a test cell's source as a graded kernel runs it: without its expected values.

    Removed: the expected arguments of every check (``check.close(name, got, EXPECTED)`` becomes
    ``check.close(name, got, None)``; ``check.grad``'s function and point), every function named
    ``reference_...``; in the blocks named in ``hidden_blocks``, also the checks' names and hints.
    Comments go too (the source is rebuilt from its syntax tree).
    """
    tree = ast.parse(source)
    tree = _StripExpected(hidden_blocks).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))
