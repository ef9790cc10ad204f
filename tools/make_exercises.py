"""Generate the student notebooks in exercises/ from their single source in solutions/.

Usage:
    python -m tools.make_exercises            # (re)write exercises/ from every solutions/*.ipynb
    python -m tools.make_exercises --check    # only report; exit 1 if exercises/ is out of date
    python -m tools.make_exercises --out DIR  # write somewhere else (the tests compare with it)

nbgrader's own preprocessors do the work, used as a library (no nbgrader database, no course
directory), in the order of ``nbgrader generate_assignment``:

    LockCells -> ClearSolutions -> ClearOutput -> CheckCellMetadata -> ComputeChecksums
    -> ClearHiddenTests -> ClearMarkScheme -> ComputeChecksums -> CheckCellMetadata

so solution code between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` becomes the stub
``# YOUR CODE HERE / raise NotImplementedError()``, written answers become ``YOUR ANSWER HERE``,
hidden tests between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` are removed, outputs
are cleared, locked cells are made read-only, and every graded cell gets its nbgrader checksum.
The grader (tools/grading/) builds the same notebook *with* the hidden tests from
:func:`release_notebook` and never writes it to disk.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

from tools.notebook_meta import EXERCISES, ROOT, SOLUTIONS, badge_markdown, with_badge


def _run(nb: nbformat.NotebookNode, preprocessors: list) -> nbformat.NotebookNode:
    resources: dict = {}
    for preprocessor in preprocessors:
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb


def release_notebook(source: nbformat.NotebookNode, *, hidden_tests: bool = False
                     ) -> nbformat.NotebookNode:
    """Return the student version of a solution notebook (the input is left unchanged).

    With ``hidden_tests=True`` the hidden tests stay in (the version the grader executes; it is
    never written to a file a student's kernel could read).
    """
    nb = copy.deepcopy(source)
    nb = _run(nb, [LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata(),
                   ComputeChecksums()])
    if not hidden_tests:
        nb = _run(nb, [ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
                       CheckCellMetadata()])
    # Outputs are cleared; run times belong to the solution's course-map entry, not here.
    nb.metadata.pop("dlcourse", None)
    return nb


def exercise_for(source_path: Path, exercise_path: Path) -> nbformat.NotebookNode:
    """Return the exercise generated from ``source_path``, with the badge of ``exercise_path``."""
    nb = release_notebook(nbformat.read(source_path, as_version=4))
    if nb.cells and nb.cells[0].cell_type == "markdown" and "colab-badge" in nb.cells[0].source:
        nb.cells[0].source = with_badge(nb.cells[0].source, badge_markdown(exercise_path))
    return nb


def generate(out_dir: Path = EXERCISES, sources: list[Path] | None = None) -> list[Path]:
    """Write one exercise per solution notebook into ``out_dir``; return the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources or sorted(SOLUTIONS.glob("*.ipynb")):
        target = out_dir / source.name
        # The badge always names the exercise's place in the repository, wherever it is written.
        nb = exercise_for(source, EXERCISES / source.name)
        nbformat.write(nb, target)
        written.append(target)
    return written


def stale_exercises(tmp_dir: Path) -> list[str]:
    """Regenerate into ``tmp_dir`` and return a description of each difference with exercises/."""
    generate(tmp_dir)
    problems = []
    expected = {p.name for p in tmp_dir.glob("*.ipynb")}
    present = {p.name for p in EXERCISES.glob("*.ipynb")}
    for name in sorted(present - expected):
        problems.append(f"exercises/{name} has no source in solutions/ (delete it)")
    for name in sorted(expected):
        new = (tmp_dir / name).read_text()
        old = (EXERCISES / name).read_text() if name in present else None
        if old is None:
            problems.append(f"exercises/{name} is missing")
        elif old != new:
            diff = "".join(list(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                     f"exercises/{name}", "regenerated", n=1))[:40])
            problems.append(f"exercises/{name} is out of date:\n{diff}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report only; exit 1 when out of date")
    parser.add_argument("--out", type=Path, default=EXERCISES, help="output folder (default exercises/)")
    args = parser.parse_args(argv)
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            problems = stale_exercises(Path(tmp))
        for problem in problems:
            print(problem)
        if problems:
            print("Run `make exercises` and commit exercises/.")
        return 1 if problems else 0
    for path in generate(args.out.resolve()):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
