"""Grade a folder of submitted notebooks into a gradebook (CSV) and per-student feedback.

The command (``python -m tools.grading``, or ``make grade``): read the options, check the sandbox,
create the run folder, build the answer key from the solution, grade every submission in its own
worker, write the gradebook (late penalties applied), the rubric sheet of the written answers,
the LMS exports and the similarity report. What happens to one submission is told in
tools/grading/__init__.py. ``python -m tools.grading merge SHEET`` puts the written answers'
points back in (tools/grading/rubric.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from tools.grading.assignment import resolve_source
from tools.grading.export import FORMATS, missing_from_roster, read_roster, write_exports
from tools.grading.gradebook import find_submissions, new_run_dir, write_gradebook
from tools.grading.key import build_key
from tools.grading.late import LatePolicy, parse_duration, parse_time, read_timestamps, submission_time
from tools.grading.rubric import main as merge_main
from tools.grading.rubric import record_run
from tools.grading.sandbox import (
    GIB,
    KERNEL_UID,
    MIB,
    Limits,
    Sandbox,
    bwrap_problem,
    hidden_paths,
)
from tools.grading.scoring import is_notebook
from tools.grading.workers import grade_all, in_child

#: The most submissions graded at a time (each running kernel has a user of its own).
MAX_JOBS = 64

NO_SANDBOX_RISK = (
    "WITHOUT A SANDBOX every submission's code runs as you, with your files and network: it can "
    "read the hidden tests and the answer key's source in solutions/, other students' "
    "submissions and the gradebooks; write into your home folder and the course (which later "
    "submissions import); open network connections; and use all memory, processes and CPU. "
    "The verdicts are still decided outside the kernels. Use --no-sandbox only on a throwaway "
    "machine or container holding nothing but this course.")


def _size(text: str) -> int:
    """``4G``, ``1500M``, ``512MiB`` or a number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?[bB])?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 4G, 1500M)")
    factor = {"": 1, "k": 1024, "m": MIB, "g": GIB}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def _percent(text: str) -> float:
    value = float(text.rstrip("% "))
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r}: a percentage between 0 and 100")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.grading", description=__doc__.splitlines()[0],
        epilog="Then, once the run's rubric sheet (runs/<time>/rubric.csv) has its written "
               "answers' points: python -m tools.grading merge SHEET (--help: its options).")
    p.add_argument("assignment", nargs="?", help="e.g. 00_warmup (a notebook in solutions/)")
    p.add_argument("submissions", nargs="?", type=Path, help="folder of submitted notebooks")
    p.add_argument("--out", type=Path, help="results folder (default: SUBMISSIONS-graded)")
    p.add_argument("--jobs", type=int, default=2, choices=range(1, MAX_JOBS + 1), metavar="N",
                   help=f"submissions graded at a time (2; at most {MAX_JOBS})")
    time = p.add_argument_group("time and output limits")
    time.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (60)")
    time.add_argument("--notebook-timeout", type=int, default=600,
                      help="seconds per submission in all (600)")
    time.add_argument("--max-output-bytes", type=int, default=100_000,
                      help="output kept per cell (100000)")
    box = p.add_argument_group("the sandbox (bubblewrap; see docs/instructors.md)")
    box.add_argument("--no-sandbox", action="store_true",
                     help="run kernels without bubblewrap: only where nothing is worth protecting")
    box.add_argument("--memory-limit", type=_size, default=Limits.memory,
                     help="address space of a kernel (4G)")
    box.add_argument("--process-limit", type=int, default=Limits.processes,
                     help="processes and threads of a kernel (256)")
    box.add_argument("--cpu-limit", type=int, default=None,
                     help="CPU seconds of each kernel process (default: the notebook timeout + 60)")
    box.add_argument("--scratch-limit", type=_size, default=Limits.scratch,
                     help="size of a kernel's scratch folder (2G)")
    late = p.add_argument_group("late penalties (tools/grading/late.py)")
    late.add_argument("--due", type=parse_time, help="due time, ISO 8601 (2025-03-01T23:59+01:00)")
    late.add_argument("--late-penalty", type=_percent, default=10.0,
                      help="percent of the points per started day late (10)")
    late.add_argument("--late-cap", type=_percent, default=100.0, help="largest penalty, percent (100)")
    late.add_argument("--grace", type=parse_duration, default=parse_duration("0"),
                      help="grace period after the due time: 15m, 2h, 1d (0)")
    late.add_argument("--timestamps", type=Path,
                      help="CSV with columns student, submitted (default: the files' times)")
    lms = p.add_argument_group("LMS exports and the similarity report")
    lms.add_argument("--export", default="",
                     help=f"comma-separated formats to write besides the CSV: {', '.join(FORMATS)}")
    lms.add_argument("--roster", type=Path, help="CSV: student and the LMS's identifiers")
    lms.add_argument("--canvas-assignment-id", help="the Canvas assignment's id (its column header)")
    lms.add_argument("--similarity", action="store_true",
                     help="compare the learners' own code across submissions (copydetect)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    p = parser()
    args = p.parse_args(argv)
    if not args.assignment or not args.submissions:
        p.error("give ASSIGNMENT and SUBMISSIONS")
    exports = [f.strip().lower() for f in args.export.split(",") if f.strip()]
    if unknown := [f for f in exports if f not in FORMATS]:
        p.error(f"--export: unknown format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")

    import nbgrader.preprocessors
    import nbgrader.utils  # noqa: F401

    import tools.make_exercises  # noqa: F401 - imported once here, shared by the forked workers

    source = resolve_source(args.assignment)
    assignment = source.stem
    submissions = args.submissions.resolve()
    if not submissions.is_dir():
        raise SystemExit(f"{submissions} is not a folder of submissions")
    out = (args.out or submissions.with_name(submissions.name + "-graded")).resolve()
    stamps = read_timestamps(args.timestamps) if args.timestamps else {}
    roster = read_roster(args.roster) if args.roster else {}

    limits = Limits(memory=args.memory_limit, processes=args.process_limit,
                    cpu_seconds=args.cpu_limit or args.notebook_timeout + 60,
                    file_size=min(GIB, args.scratch_limit), scratch=args.scratch_limit)
    # Kernel users of this run's own (as root): graders running side by side on one machine (CI
    # runs several grading tests at once) never share a user, so one's kernels never count against
    # the other's process limit.
    sandbox = Sandbox(enabled=not args.no_sandbox, hide=hidden_paths(source, submissions, out),
                      limits=limits, uid_base=KERNEL_UID + MAX_JOBS * (os.getpid() % 100_000))
    if sandbox.enabled:
        problem = bwrap_problem()
        if problem:
            raise SystemExit(f"cannot sandbox the kernels: {problem}.\nInstall bubblewrap, or grade "
                             "in a Linux container (docs/instructors.md). --no-sandbox runs them "
                             "unconfined: " + NO_SANDBOX_RISK)
    else:
        print("WARNING: --no-sandbox. " + NO_SANDBOX_RISK)

    run_dir = new_run_dir(out)
    entries = find_submissions(submissions, assignment)
    options = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout,
               "max_output_bytes": args.max_output_bytes, "sandbox": sandbox}
    key: dict = {}
    if any(is_notebook(path) for _, path in entries):  # nothing to run if none is a notebook
        print(f"answer key: running the solution {source.name} once")
        key = in_child(build_key, source_path=source, **options)
    print(f"grading {len(entries)} submission(s) of {assignment} into {run_dir}")
    results = grade_all(entries, source, run_dir, {**options, "key": key}, max(1, args.jobs),
                        hard_limit=args.notebook_timeout + 60)

    policy = LatePolicy(due=args.due, per_day=args.late_penalty, cap=args.late_cap,
                        grace=args.grace)
    times = {student: submission_time(student, path, stamps) for student, path in entries}
    _, rows = write_gradebook(entries, results, source, assignment, run_dir, out, policy, times)
    sheet, n = record_run(run_dir, source, assignment, [s for s, _ in entries], results, policy,
                          times, exports, roster, args.canvas_assignment_id)
    if sheet:
        print(f"rubric:    {sheet}: {n} written answer(s) to grade; fill in 'points', then\n"
              f"           python -m tools.grading merge {sheet}")
    if exports:
        stem = out / f"gradebook-{run_dir.name}"
        for path in write_exports(exports, rows, assignment, roster, args.canvas_assignment_id,
                                  stem):
            print(f"export:    {path}")
        if missing := missing_from_roster(rows, roster):
            print(f"  not in the roster (exported with empty identifiers): {', '.join(missing)}")
    if args.similarity:
        from tools.grading.similarity import similarity_report

        print(f"similarity: {similarity_report(entries, source, run_dir)}")
    return 0
