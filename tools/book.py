"""Build the course as a website (``make book``): Sphinx with MyST-NB and the Sphinx Book Theme.

Usage:
    python -m tools.book              # stage the pages, build build/book/html; warnings are errors
    python -m tools.book --linkcheck  # check the external links instead (needs the network)

Nothing is executed: the lessons are shown with the outputs they are committed with. The pages are
staged under ``build/book-src`` in the repository's own layout (``notebooks/…``, ``exercises/…``,
``docs/…``, ``data/README.md``), so that the theme's Colab and source buttons point at the real files:

- the home page is README's introduction and course map; a page per part of the curriculum
  (COURSE_DESIGN.md) lists its lessons, each followed by its exercises, in course order. The table
  of contents is generated from the notebooks present (``course_notebooks``), so a new lesson
  appears without editing anything here: its number places it in its part;
- links to repository files that are not pages of the site (``solutions/``, CONTRIBUTING.md, …)
  become links to the repository; links to files that do not exist are left as they are, so that
  Sphinx reports them and the build fails;
- the Colab badge image is a copy shipped in ``book/_static`` and MathJax is the copy in the
  ``django-static-mathjax`` package: the site loads nothing from another server.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.resources
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools.notebook_meta import (
    BADGE,
    EXERCISES,
    LESSONS,
    ROOT,
    course_notebooks,
    repository_url,
    setup_cell_source,
    title,
)

CONF = ROOT / "book"
STAGE = ROOT / "build" / "book-src"
OUT = ROOT / "build" / "book"
HTML = OUT / "html"
#: Pages taken as they are (besides the notebooks), in the order of the sidebar's reference section.
REFERENCE = ("docs/architecture.md", "docs/instructors.md", "data/README.md")
#: Where the badge image lives in the staged site (a path from the source folder's root).
LOCAL_BADGE = "/_static/colab-badge.svg"
#: The parts of MathJax 3's ``es5`` folder the site needs: the TeX-to-HTML component, its fonts,
#: the TeX extensions it loads on demand, and what its right-click menu may load.
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


@dataclass(frozen=True)
class Part:
    """A part of the curriculum: its page name, heading, and the first lesson number it holds."""

    page: str
    label: str
    heading: str
    first: int
    intro: str


PARTS = (
    Part("part1", "Part I", "A neural network from scratch in NumPy", 0,
         "Neurons, losses, gradient descent and backpropagation, written out in NumPy and checked "
         "against finite differences, until a small network of our own learns to read digits."),
    Part("part2", "Part II", "PyTorch on the GPU", 6,
         "The same network again in PyTorch, proven equal to the NumPy one, then the training loop "
         "as it is done in practice: data loaders, checkpoints, a GPU and mixed precision."),
    Part("part3", "Part III", "Making it work, and the architectures", 8,
         "Overfitting and regularisation, convolutional and recurrent networks, generative "
         "adversarial networks, the ethics of deploying models, and what comes after."),
)


def number(notebook: Path) -> int:
    """Return a notebook's lesson number: the digits its name starts with (``10a_…`` -> 10)."""
    match = re.match(r"\d+", notebook.name)
    if not match:
        raise ValueError(f"{notebook.name}: a course notebook's name starts with its lesson number")
    return int(match.group())


def part_of(notebook: Path) -> Part:
    return [part for part in PARTS if part.first <= number(notebook)][-1]


def course_order() -> list[Path]:
    """Return the lessons and exercises in course order: each lesson, then its exercises."""
    notebooks = course_notebooks(LESSONS, EXERCISES)
    return sorted(notebooks, key=lambda p: (number(p), p.parent == EXERCISES, p.name))


def site_url() -> str:
    """Return the site's address on GitHub Pages, derived from the repository URL."""
    owner, name = repository_url().removeprefix("https://github.com/").strip("/").split("/")[:2]
    return f"https://{owner.lower()}.github.io/{name}/"


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def rewrite_links(text: str, source: Path, pages: set[Path]) -> str:
    """Point ``source``'s relative links at repository files that are not pages to the repository.

    ``source`` is the file's path in the repository; ``pages`` the repository paths of the pages.
    The Colab badge image becomes the site's own copy.
    """
    text = text.replace(f"]({BADGE})", f"]({LOCAL_BADGE})")

    def repoint(match: re.Match) -> str:
        target = match.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target):
            return match.group(0)
        path, _, fragment = target.partition("#")
        resolved = (ROOT / source.parent / path).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists() or resolved in pages:
            return match.group(0)
        kind = "tree" if resolved.is_dir() else "blob"
        url = f"{repository_url()}/{kind}/main/{resolved.relative_to(ROOT).as_posix()}"
        return f"]({url}{'#' + fragment if fragment else ''})"

    return _LINK.sub(repoint, text)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def home_page(pages: set[Path]) -> str:
    """Return the home page: README's introduction and course map, and the site's contents."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    intro = readme.split("\n## ", 1)[0]
    course_map = "## Course map" + readme.split("\n## Course map", 1)[1].split("\n## ", 1)[0].rstrip()
    course_map = course_map.replace("<!-- course-map:start -->\n", "").replace("<!-- course-map:end -->", "")
    parts = "\n".join(f"- [{p.label}: {p.heading}]({p.page}.md)" for p in PARTS)
    reference = "\n".join(f"{path.removesuffix('.md')}" for path in REFERENCE)
    toc = "\n".join(p.page for p in PARTS)
    text = (f"{intro.strip()}\n\nThis site shows every lesson with the outputs it is committed with; "
            f"run them in JupyterLab (`make lab`) or on Colab (the badge on each page). "
            f"The source is at <{repository_url()}>.\n\n## The parts\n\n{parts}\n\n{course_map}\n\n"
            f"```{{toctree}}\n:hidden:\n:caption: The course\n\n{toc}\n```\n\n"
            f"```{{toctree}}\n:hidden:\n:caption: Reference\n\n{reference}\n```\n")
    return rewrite_links(text, Path("README.md"), pages)


def part_page(part: Part, notebooks: list[Path]) -> str:
    rows = "\n".join(f"- [{title(nbformat.read(nb, as_version=4))}]({nb.relative_to(ROOT).as_posix()})"
                     for nb in notebooks)
    toc = "\n".join(nb.relative_to(ROOT).with_suffix("").as_posix() for nb in notebooks)
    return (f"# {part.label}: {part.heading}\n\n{part.intro}\n\n{rows}\n\n"
            f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toc}\n```\n")


def stage_notebook(notebook: Path, pages: set[Path]) -> None:
    nb = nbformat.read(notebook, as_version=4)
    source = notebook.relative_to(ROOT)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, source, pages)
        elif cell.source == setup_cell_source():  # Colab's set-up, noise on a web page
            cell.metadata.setdefault("tags", []).append("remove-cell")
    _write(STAGE / source, nbformat.writes(nb))


def stage_mathjax() -> None:
    es5 = importlib.resources.files("mathjax") / "static" / "mathjax" / "es5"
    target = STAGE / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source = Path(str(es5 / part))
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


def stage() -> list[Path]:
    """Write the site's sources to build/book-src afresh; return the notebooks in course order."""
    shutil.rmtree(STAGE, ignore_errors=True)
    notebooks = course_order()
    pages = {nb.resolve() for nb in notebooks} | {(ROOT / p).resolve() for p in REFERENCE}
    pages.add((ROOT / "README.md").resolve())
    shutil.copytree(CONF / "_static", STAGE / "_static")
    stage_mathjax()
    _write(STAGE / "index.md", home_page(pages))
    for part in PARTS:
        _write(STAGE / f"{part.page}.md", part_page(part, [nb for nb in notebooks if part_of(nb) == part]))
    for nb in notebooks:
        stage_notebook(nb, pages)
    for path in REFERENCE:
        _write(STAGE / path, rewrite_links((ROOT / path).read_text(encoding="utf-8"), Path(path), pages))
    assert filecmp.cmp(CONF / "_static" / "colab-badge.svg", STAGE / LOCAL_BADGE.lstrip("/"), shallow=False)
    return notebooks


def sphinx_command(builder: str, source: Path, out: Path) -> list[str]:
    """Return the sphinx-build command: from scratch (``-E``), with every warning an error."""
    return [sys.executable, "-m", "sphinx", "-b", builder, "-E", "-W", "--keep-going", "-q",
            "-c", str(CONF), "-d", str(out.parent / f"{out.name}-doctrees"), str(source), str(out)]


def sphinx(builder: str, out: Path) -> int:
    return subprocess.call(sphinx_command(builder, STAGE, out), cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--linkcheck", action="store_true", help="check external links (needs the network)")
    args = parser.parse_args(argv)
    notebooks = stage()
    if args.linkcheck:
        return sphinx("linkcheck", OUT / "linkcheck")
    shutil.rmtree(HTML, ignore_errors=True)
    status = sphinx("html", HTML)
    if status == 0:
        print(f"{len(notebooks)} notebooks -> {HTML / 'index.html'} (to be published at {site_url()})")
    return status


if __name__ == "__main__":
    sys.exit(main())
