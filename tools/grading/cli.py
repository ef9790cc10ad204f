"""Grade a folder of submitted notebooks into a gradebook (CSV) and per-student feedback.

The command (``python -m tools.grading``, or ``make grade``): read the options, create the run
folder, decide on the sandbox, grade every submission in its own worker, write the gradebook.
What happens to one submission is told in tools/grading/__init__.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.grading.assignment import resolve_source
from tools.grading.gradebook import find_submissions, new_run_dir, write_gradebook
from tools.grading.sandbox import hidden_paths, sandbox_available
from tools.grading.workers import grade_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grading",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="?", help="e.g. 00_warmup (a notebook in solutions/)")
    parser.add_argument("submissions", nargs="?", type=Path, help="folder of submitted notebooks")
    parser.add_argument("--out", type=Path, help="results folder (default: SUBMISSIONS-graded)")
    parser.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (60)")
    parser.add_argument("--notebook-timeout", type=int, default=600,
                        help="seconds per submission in all (600)")
    parser.add_argument("--max-output-bytes", type=int, default=100_000,
                        help="output kept per cell (100000)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at a time (2)")
    parser.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                        help="hide solutions/ and more from the kernels (default: when possible)")
    args = parser.parse_args(argv)
    if not args.assignment or not args.submissions:
        parser.error("give ASSIGNMENT and SUBMISSIONS")

    import nbgrader.preprocessors  # noqa: F401
    import nbgrader.utils  # noqa: F401

    import tools.make_exercises  # noqa: F401 - imported once here, shared by the forked workers

    source = resolve_source(args.assignment)
    assignment = source.stem
    submissions = args.submissions.resolve()
    if not submissions.is_dir():
        raise SystemExit(f"{submissions} is not a folder of submissions")
    out = (args.out or submissions.with_name(submissions.name + "-graded")).resolve()
    run_dir = new_run_dir(out)

    sandbox = {"on": True, "off": False}.get(args.sandbox)
    if sandbox is None:
        sandbox = sandbox_available()
    if args.sandbox == "on" and not sandbox_available():
        raise SystemExit("--sandbox on, but `unshare` cannot create namespaces on this machine")
    hide = hidden_paths(source, submissions, out)
    if not sandbox:
        print("WARNING: no sandbox (unshare unavailable or --sandbox off): a submission's code "
              f"could read the hidden tests in {source.parent}. See docs/instructors.md.")

    entries = find_submissions(submissions, assignment)
    print(f"grading {len(entries)} submission(s) of {assignment} into {run_dir}")
    options = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout,
               "max_output_bytes": args.max_output_bytes, "hide": hide, "sandbox": sandbox}
    results = grade_all(entries, source, run_dir, options, max(1, args.jobs),
                        hard_limit=args.notebook_timeout + 60)

    write_gradebook(entries, results, source, assignment, run_dir, out)
    return 0
