"""Re-execute notebooks and refresh their committed outputs, deterministically.

Usage:
    python -m tools.refresh_outputs                      # every lesson and solution notebook
    python -m tools.refresh_outputs notebooks/02_*.ipynb # just these

Each notebook runs top to bottom in a fresh kernel of this environment, with the environment
that ``make`` exports (fixed hash seed and thread counts; every notebook also calls
``dlcourse.env.seeding.seed_everything``). The wall-clock run time is recorded in the notebook's
metadata (``dlcourse.cpu_runtime_s``) for the course map, then README.md is re-synced.
Two notebooks run at a time, as in CI.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tools.notebook_meta import ROOT, WITH_OUTPUTS, course_notebooks

CELL_TIMEOUT_S = 600


def execute(path: Path) -> tuple[Path, float]:
    """Execute ``path`` in place; return it with its run time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}, record_timing=False)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.setdefault("dlcourse", {})["cpu_runtime_s"] = round(seconds, 1)
    nbformat.write(nb, path)
    return path, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: all lessons and solutions")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="notebooks run at a time (default 2)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or course_notebooks(*WITH_OUTPUTS)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for path, seconds in pool.map(execute, paths):
            print(f"{seconds:7.1f} s  {path.relative_to(ROOT)}", flush=True)
    from tools import sync_notebooks

    return sync_notebooks.main([])


if __name__ == "__main__":
    sys.exit(main())
