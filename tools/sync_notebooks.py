"""Write the generated parts of the course: each notebook's badge and setup cell, and README's map.

Usage:
    python -m tools.sync_notebooks          # rewrite what is out of date
    python -m tools.sync_notebooks --check  # only report; exit 1 if anything is out of date

Every lesson and solution notebook starts with its title cell, the "Open in Colab" badge (generated)
right under the title line, then the generated setup code cell. README.md's course map, between the markers
``<!-- course-map:start -->`` and ``<!-- course-map:end -->``, lists each lesson and exercise
with its topic, its measured CPU run time (recorded by ``make outputs``) and its badge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from tools.notebook_meta import (
    EXERCISES,
    LESSONS,
    ROOT,
    SOLUTIONS,
    badge_markdown,
    course_notebooks,
    setup_cell_source,
    title,
    with_badge,
)

MAP_START, MAP_END = "<!-- course-map:start -->", "<!-- course-map:end -->"


def _is_title(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "markdown" and any(line.startswith("# ")
                                                 for line in cell.source.splitlines()[:1])


def synced_cells(nb: nbformat.NotebookNode, path: Path) -> bool:
    """Make the first cell the title (its badge right under the title line) and the second the
    setup cell; return True if anything changed.

    A notebook in the earlier layout (a badge cell, the setup cell, then the title) is moved to
    this one: the badge cell goes, the badge joins the title cell.
    """
    before = [(c.cell_type, c.source) for c in nb.cells]
    cells = [c for c in nb.cells if not (c.cell_type == "markdown" and "colab-badge" in c.source
                                         and not _is_title(c) and len(c.source.splitlines()) == 1)]
    title = next((c for c in cells if _is_title(c)), None)
    if title is None:
        raise SystemExit(f"{path}: no title cell (a markdown cell whose first line is '# NN · ...')")
    setup = next((c for c in cells if c.cell_type == "code" and "google.colab" in c.source),
                 nbformat.v4.new_code_cell())
    setup.source = setup_cell_source()
    title.source = with_badge(title.source, badge_markdown(path))
    nb.cells = [title, setup] + [c for c in cells if c is not title and c is not setup]
    return [(c.cell_type, c.source) for c in nb.cells] != before


def runtime(nb: nbformat.NotebookNode) -> str:
    seconds = nb.metadata.get("dlcourse", {}).get("cpu_runtime_s")
    return "not measured" if seconds is None else f"{seconds:.0f} s"


def course_map() -> str:
    """Return the markdown table of the course map."""
    rows = ["| Notebook | Topic | CPU run time | Colab |", "|---|---|---|---|"]
    for path in course_notebooks(LESSONS, SOLUTIONS):
        nb = nbformat.read(path, as_version=4)
        # Learners open the generated exercise; its run time is the solution's.
        shown = EXERCISES / path.name if path.parent == SOLUTIONS else path
        link = f"[`{shown.relative_to(ROOT).as_posix()}`]({shown.relative_to(ROOT).as_posix()})"
        rows.append(f"| {link} | {title(nb)} | {runtime(nb)} | {badge_markdown(shown)} |")
    return "\n".join(rows)


def synced_readme(text: str) -> str:
    start, end = text.index(MAP_START) + len(MAP_START), text.index(MAP_END)
    return text[:start] + "\n" + course_map() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report only; exit 1 when out of date")
    args = parser.parse_args(argv)
    stale = []
    for path in course_notebooks(LESSONS, SOLUTIONS):
        nb = nbformat.read(path, as_version=4)
        if synced_cells(nb, path):
            stale.append(path)
            if not args.check:
                nbformat.write(nb, path)
    readme = ROOT / "README.md"
    text = readme.read_text()
    if synced_readme(text) != text:
        stale.append(readme)
        if not args.check:
            readme.write_text(synced_readme(text))
    for path in stale:
        print(f"{'out of date' if args.check else 'updated'}: {path.relative_to(ROOT)}")
    if args.check and stale:
        print("Run `make sync` (or `make outputs` after changing a notebook) and commit the result.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
