"""Shared knowledge about the course's notebooks, used by the maintainer tools and the tests.

- which folders hold which kind of notebook (lessons, solution sources, generated exercises);
- the repository URL (configured once, in pyproject.toml's ``[project.urls] Repository``);
- the generated first two cells of every notebook: the Colab badge and the setup cell.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import tomllib

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
#: Committed with outputs, checked by strict nbval.
WITH_OUTPUTS = (LESSONS, SOLUTIONS)

#: Exact text of the setup cell. ``{repo}`` is filled from pyproject.toml. The Colab-like test
#: (tests/system/test_colab_like.py) runs this very cell with the URL and folder pointed elsewhere.
COLAB_DIR = "/content/dlcourse"
SETUP_CELL = f'''\
# Course setup, the same in every notebook: on Colab, fetch the course and install it beside
# Colab's own torch and numpy. Anywhere else it does nothing (`make lab` installed the course).
import sys

if "google.colab" in sys.modules:
    !test -d {COLAB_DIR} || git clone -q --depth 1 {{repo}} {COLAB_DIR}
    %pip install --quiet -e {COLAB_DIR}
    sys.path.insert(0, "{COLAB_DIR}")'''

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


def setup_cell_source() -> str:
    return SETUP_CELL.format(repo=repository_url())


def course_notebooks(*folders: Path) -> list[Path]:
    """Return the ``*.ipynb`` files in ``folders`` (default: all three), sorted by name."""
    folders = folders or (LESSONS, SOLUTIONS, EXERCISES)
    return sorted(p for folder in folders for p in folder.glob("*.ipynb"))


def title(nb: nbformat.NotebookNode) -> str:
    """Return a notebook's title: the first markdown heading after the badge."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "(untitled)"
