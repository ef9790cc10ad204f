"""Shared knowledge about the course's notebooks, used by the maintainer tools and the tests.

- which folders hold which kind of notebook (lessons, solution sources, generated exercises);
- the repository URL (configured once, in pyproject.toml's ``[project.urls] Repository``);
- the generated parts of every notebook: the Colab badge under the title, and the setup cell;
- which cells are *measured* (their numbers may drift between machines, within a tolerance), and so
  which notebooks ``make test`` checks computing as another CPU would (``python -m
  tools.notebook_meta measured``; the others: ``exact``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import tomllib

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
#: Committed with outputs, checked by strict nbval.
WITH_OUTPUTS = (LESSONS, SOLUTIONS)

#: Exact text of the setup cell, the second cell of every notebook (after the title). ``{repo}`` is
#: filled from pyproject.toml. The Colab-like test (tests/system/test_colab_like.py) runs this very
#: cell with the URL and folder pointed elsewhere.
COLAB_DIR = "/content/dlcourse"
SETUP_CELL = f'''\
import sys

if "google.colab" in sys.modules:  # on Colab, install the course beside Colab's own torch
    !test -d {COLAB_DIR} || git clone -q --depth 1 {{repo}} {COLAB_DIR}
    %pip install --quiet -e {COLAB_DIR}
    sys.path.insert(0, "{COLAB_DIR}")
    # from dlcourse.env.colab import keep_on_drive; keep_on_drive()  # data, checkpoints on Drive'''

#: The tag of a measured cell (tests/notebooks/nbval_measured.py compares it within a tolerance).
MEASURED_TAG = "measured"

BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repository_url() -> str:
    """Return the repository URL configured in pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"]


def colab_url(notebook: Path) -> str:
    """Return the "Open in Colab" link of a notebook in the repository."""
    repo = repository_url().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{repo}/blob/main/{notebook.relative_to(ROOT).as_posix()}"


def badge_markdown(notebook: Path) -> str:
    """Return the markdown of a notebook's Colab badge."""
    return f"[![Open In Colab]({BADGE})]({colab_url(notebook)})"


def with_badge(title_source: str, badge: str) -> str:
    """A title cell's source with ``badge`` as its second paragraph, right under the title line
    (any other copy of a Colab badge in the cell removed)."""
    lines = [line for line in title_source.splitlines() if BADGE not in line]
    title_line, rest = lines[0], "\n".join(lines[1:]).strip("\n")
    return f"{title_line}\n\n{badge}" + (f"\n\n{rest}" if rest else "")


def setup_cell_source() -> str:
    return SETUP_CELL.format(repo=repository_url())


def course_notebooks(*folders: Path) -> list[Path]:
    """Return the ``*.ipynb`` files in ``folders`` (default: all three), sorted by name."""
    folders = folders or (LESSONS, SOLUTIONS, EXERCISES)
    return sorted(p for folder in folders for p in folder.glob("*.ipynb"))


def title(nb: nbformat.NotebookNode) -> str:
    """Return a notebook's title: its first markdown heading (the first line of its first cell)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "(untitled)"


def is_measured(cell: nbformat.NotebookNode) -> bool:
    """A cell tagged ``measured`` or stating its own ``dlcourse.tolerance``."""
    return MEASURED_TAG in cell.metadata.get("tags", []) or "tolerance" in cell.metadata.get("dlcourse", {})


def holds_measured_cells(nb: nbformat.NotebookNode) -> bool:
    return any(is_measured(cell) for cell in nb.cells)


def main(argv: list[str]) -> int:
    """Print the committed notebooks (lessons, solutions) with measured cells, or those without,
    the longest-running first: the test workers take them in this order, so that no worker is left
    with a long notebook at the end while the others wait."""
    if argv not in (["measured"], ["exact"]):
        print("usage: python -m tools.notebook_meta measured|exact", file=sys.stderr)
        return 2
    want = argv == ["measured"]
    listed = []
    for path in course_notebooks(*WITH_OUTPUTS):
        nb = nbformat.read(path, as_version=4)
        if holds_measured_cells(nb) == want:
            listed.append((-nb.metadata.get("dlcourse", {}).get("cpu_runtime_s", 0.0), path.name, path))
    for *_, path in sorted(listed):
        print(path.relative_to(ROOT).as_posix())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
