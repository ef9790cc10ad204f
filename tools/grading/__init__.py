"""The instructor's grader: a folder of submitted notebooks into a gradebook (CSV) and feedback.

Usage (from the repository's root):
    python -m tools.grading ASSIGNMENT SUBMISSIONS [--out DIR] [--cell-timeout S] [--jobs N]
    make grade ASSIGNMENT=00_warmup SUBMISSIONS=path/to/folder

ASSIGNMENT names a source notebook in solutions/ (``00_warmup``) or is a path to one.
SUBMISSIONS is a folder with one entry per student: ``alice.ipynb``, or nbgrader's layout
``alice/00_warmup.ipynb``. The results go to ``--out`` (default: ``SUBMISSIONS-graded`` next to
the folder); every run writes a new ``runs/<time>/`` folder and a new ``gradebook-<time>.csv``,
and copies the latter to ``gradebook-latest.csv``: an earlier gradebook is never overwritten.

Each submission is graded in its own worker process and a fresh kernel:

1. read and validate the notebook (not JSON, not a notebook: scored 0, with the reason);
2. clear its outputs, then let nbgrader restore it from the source, as ``nbgrader autograde``
   does: DeduplicateIds, then OverwriteCells (with ``add_missing_cells``) against an in-memory
   gradebook filled by SaveCells from the source *with* its hidden tests, so edited or deleted
   test cells come back as written, hidden tests included; cells are put back in source order;
3. run it with nbgrader's Execute preprocessor (per-cell time limit, interrupt on timeout,
   output capped per cell), in a kernel that runs in a sandbox where it cannot see solutions/,
   the repository's .git, the submissions or the results (Linux namespaces via ``unshare``);
   right before each graded test cell the grader runs a pristine copy of dlcourse.checks with
   a random token (see dlcourse/checks.py), and a test cell scores only if every ``checking``
   block in it reported "passed" with that token *and* nbgrader's ``determine_grade`` gives it
   points (no error, nothing on stderr);
4. write the executed notebook (for the instructor), a feedback file (for the student) and one
   gradebook row: student, assignment, points per question, total, max, status, reason.

Written answers are left for a person (an empty cell in the gradebook; a blank answer scores 0).

The modules, in the order a submission meets them:

- ``cli``: the command: options, the run folder, the sandbox decision, then the two below;
- ``workers``: one forked worker process per submission, killed past the hard limit;
- ``scoring``: one submission: validate, restore, execute, score each graded cell;
- ``assignment``: the source notebook and its graded cells (ids, points, ``checking`` blocks);
- ``restore``: the instructor's locked cells and hidden tests put back into a submission;
- ``sandbox``: the namespaces and limits the kernel runs in, and its kernelspec;
- ``execution``: running the notebook in that kernel, with the grader's guard cells, and
  collecting the plain records its checks report;
- ``gradebook``: finding the submissions, the CSV gradebook and the per-student feedback.

This package imports nothing when imported, so ``import tools.grading.assignment`` stays light.
"""
