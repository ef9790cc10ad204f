"""Restoring a submission from the source: the instructor's locked cells and hidden tests go back.

nbgrader's preprocessors do the restoring (ClearOutput, DeduplicateIds, SaveCells into an
in-memory gradebook, OverwriteCells with ``add_missing_cells``), as ``nbgrader autograde`` does;
around them this module makes the graded cells' metadata the source's and puts the graded cells
back in the source's order. It also flags a learner's code that deserves a person's look.
"""

from __future__ import annotations

import copy
import re
import secrets
import warnings
from typing import Any

from tools.grading.assignment import nbgrader_meta

#: Code in a learner's cells that reaches into the checker or the interpreter: graded as usual,
#: but flagged for a person to look at (see docs/instructors.md).
SUSPICIOUS = {
    r"dlcourse\.checks|from\s+dlcourse\s+import\s+checks": "touches dlcourse.checks",
    r"sys\.modules": "edits sys.modules",
    r"\bbuiltins\b|__builtins__": "touches builtins",
    r"get_ipython|\bIPython\b": "touches the IPython shell",
    r"settrace|setprofile|addaudithook|_getframe|f_back|f_locals|__closure__|__code__"
    r"|__defaults__|\bgc\.": "inspects or hooks the interpreter",
    r"\bthreading\b|\bmultiprocessing\b|os\.fork": "starts threads or processes",
    r"\bctypes\b|os\._exit|os\.kill|signal\.": "can crash or signal the kernel",
    r"\b(?:np|numpy|math)\.\w+\s*=[^=]": "replaces a NumPy or math function",
    r"\bsetattr\s*\(": "uses setattr",
    r"HIDDEN TESTS|\bos\.walk\b|\bglob\b|\brglob\b|solutions/": "searches files",
}



def _memory_gradebook_url() -> tuple[str, Any]:
    """An in-memory SQLite database shared by nbgrader's Gradebook objects in this process.

    Returns its URL and a connection that keeps it alive: nothing is written to disk, so the
    hidden tests it stores never exist in a file a submission could read.
    """
    import sqlite3

    name = f"dlcourse-gradebook-{secrets.token_hex(8)}"
    keeper = sqlite3.connect(f"file:{name}?mode=memory&cache=shared", uri=True)
    return f"sqlite:///file:{name}?mode=memory&cache=shared&uri=true", keeper


def restore(submission: Any, template: Any, release: Any, assignment: str
            ) -> tuple[Any, list[str]]:
    """Return the submission restored from ``template`` (hidden tests included), and notes.

    ``release`` is the notebook the students were given (to tell which cells they edited).

    nbgrader does the restoring: ClearOutput, DeduplicateIds, SaveCells (template into an
    in-memory gradebook) and OverwriteCells with ``add_missing_cells``. Around them, this makes
    the graded-cell metadata the source's (so a changed flag cannot unlock a test cell or break
    nbgrader's checksums) and puts the graded cells back in the source's order.
    """
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds, OverwriteCells, SaveCells

    notes: list[str] = []
    nb = copy.deepcopy(submission)
    nb, _ = ClearOutput().preprocess(nb, {})  # outputs a student saved never count
    nb, _ = DeduplicateIds().preprocess(nb, {})
    source_cells = {nbgrader_meta(c)["grade_id"]: c for c in template.cells if nbgrader_meta(c)}
    given = {nbgrader_meta(c)["grade_id"]: c.source for c in release.cells if nbgrader_meta(c)}
    order = [nbgrader_meta(c)["grade_id"] for c in template.cells if nbgrader_meta(c)]

    seen = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta:
            cell.metadata.pop("nbgrader", None)
            continue
        grade_id = meta.get("grade_id")
        if grade_id not in source_cells:
            notes.append(f"cell {grade_id!r} is not in the assignment: graded as an ordinary cell")
            cell.metadata.pop("nbgrader")
            continue
        seen.append(grade_id)
        original = source_cells[grade_id]
        wanted = {k: v for k, v in nbgrader_meta(original).items()
                  if k not in ("checksum", "cell_type")}
        if cell.cell_type != original.cell_type or any(meta.get(k) != v for k, v in wanted.items()):
            notes.append(f"cell {grade_id!r}: its nbgrader metadata or type was changed; restored")
            if cell.cell_type != original.cell_type:
                nb.cells[nb.cells.index(cell)] = cell = copy.deepcopy(original)
            cell.metadata["nbgrader"] = copy.deepcopy(nbgrader_meta(original))
        if nbgrader_meta(original).get("locked") and cell.source != given[grade_id]:
            notes.append(f"locked cell {grade_id!r} was edited; restored from the source")
    for grade_id in order:
        if grade_id not in seen and nbgrader_meta(source_cells[grade_id]).get("grade"):
            notes.append(f"graded cell {grade_id!r} was deleted; restored from the source")

    url, keeper = _memory_gradebook_url()
    try:
        resources = {"nbgrader": {"notebook": "nb", "assignment": assignment, "db_url": url}}
        import nbgrader.api
        from nbgrader.api import Gradebook

        # A new database records its alembic schema version, which nbgrader asks the `alembic`
        # command for (a subprocess that may not be on PATH). An in-memory gradebook that lives
        # for one submission never migrates, so the version is irrelevant.
        nbgrader.api.get_alembic_version = lambda: "in-memory"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Gradebook(url) as gb:
                gb.add_assignment(assignment)
        with warnings.catch_warnings():  # SQLAlchemy's note on in-memory pools; harmless here
            warnings.simplefilter("ignore")
            SaveCells().preprocess(copy.deepcopy(template), resources)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb, _ = OverwriteCells(add_missing_cells=True).preprocess(nb, resources)
    finally:
        keeper.close()

    # Graded and solution cells in the source's order; a student's own cells travel with the
    # graded cell they followed.
    groups: dict[str | None, list] = {None: []}
    current = None
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in source_cells and grade_id not in groups:
            current = grade_id
            groups[current] = [cell]
        else:
            groups[current].append(cell)
    present = [g for g in groups if g is not None]
    wanted_order = [g for g in order if g in groups]
    if present != wanted_order:
        notes.append("graded cells were reordered; put back in the source's order")
    nb.cells = groups[None] + [cell for g in wanted_order for cell in groups[g]]
    return nb, notes


def suspicious_code(nb: Any, release: Any) -> list[str]:
    """Return what a learner's own code cells do that deserves a person's look."""
    found = []
    given = {c.source for c in release.cells}
    for cell in nb.cells:
        if cell.cell_type != "code" or nbgrader_meta(cell).get("locked") or cell.source in given:
            continue
        for pattern, what in SUSPICIOUS.items():
            if what not in found and re.search(pattern, cell.source):
                found.append(what)
    return found
