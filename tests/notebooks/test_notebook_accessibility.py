"""Accessible notebooks: every picture in a committed notebook also says its point in text.

Every committed notebook cell that shows a picture (an ``image/png`` output) also prints a
one-line text summary, ``Figure: ...`` (the format of ``dlcourse.plots.style.summary_line``), so
that a screen-reader user and a text-only CI log get the point.

What this does not check: the titles and labels of figures drawn inside the notebooks' own cells
(only the PNG is committed; re-running every notebook here would double the notebook tests).
The figures dlcourse draws itself are checked in tests/unit/test_accessibility.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tools import notebook_meta

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = notebook_meta.course_notebooks(*notebook_meta.WITH_OUTPUTS)


def _summary_failures(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    failures = []
    for index, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        if not any("image/png" in out.get("data", {}) for out in outputs):
            continue
        text = "\n".join(out.get("text", "") + "\n" + out.get("data", {}).get("text/plain", "")
                         for out in outputs)
        if not any(line.lstrip().startswith("Figure: ") for line in text.splitlines()):
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            failures.append(f"cell {index} ({first[:60]!r}) shows a picture without a "
                            "'Figure: ...' line: print(summary_line(...)) after it")
    return failures


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_picture_in_a_notebook_has_a_text_summary(path):
    failures = _summary_failures(path)
    assert not failures, f"{path.relative_to(ROOT)}:\n" + "\n".join(failures)
