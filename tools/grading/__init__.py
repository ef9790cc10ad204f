"""The instructor's grader: a folder of submitted notebooks into a gradebook (CSV) and feedback.

Usage (from the repository's root; docs/instructors.md has every option):
    python -m tools.grading ASSIGNMENT SUBMISSIONS [--out DIR] [--cell-timeout S] [--jobs N]
        [--memory-limit 4G] [--due TIME --late-penalty 10 --late-cap 50 --grace 15m]
        [--export canvas,moodle --roster FILE] [--similarity] [--no-sandbox]
    make grade ASSIGNMENT=00_warmup SUBMISSIONS=path/to/folder
    python -m tools.grading merge RUBRIC_SHEET   # the written answers' points, once graded

ASSIGNMENT names a source notebook in solutions/ (``00_warmup``) or is a path to one.
SUBMISSIONS is a folder with one entry per student: ``alice.ipynb``, or nbgrader's layout
``alice/00_warmup.ipynb``. The results go to ``--out`` (default: ``SUBMISSIONS-graded`` next to
the folder); every run writes a new ``runs/<time>/`` folder and a new ``gradebook-<time>.csv``,
and copies the latter to ``gradebook-latest.csv``: an earlier gradebook is never overwritten.

The threat model: a submission controls everything inside its kernel. So pass or fail is decided
by the grader's own process, from plain values the kernel sends, against expected values the kernel
never sees; and the kernel runs in a bubblewrap sandbox (read-only system and course, a private
scratch folder, no network, its own processes, limits on memory, processes and CPU).

Once per run, the solution runs in the sandbox to make the answer key (every check's expected
value, in memory only). Then each submission is graded in its own worker process and a fresh
kernel:

1. read and validate the notebook (not JSON, not a notebook: scored 0, with the reason);
2. clear its outputs, then let nbgrader restore it from the source, as ``nbgrader autograde``
   does: DeduplicateIds, then OverwriteCells (with ``add_missing_cells``) against an in-memory
   gradebook filled by SaveCells from the source *with* its hidden tests, so edited or deleted
   test cells come back as written, hidden tests included; cells are put back in source order;
3. remove from the test cells what only serves the expected values (the checks' expected
   arguments, ``reference_`` functions, hidden checks' names and hints);
4. run it with nbgrader's Execute preprocessor (per-cell time limit, interrupt on timeout,
   output capped per cell) in the sandboxed kernel, where dlcourse.checks is in grading mode:
   each ``checking`` block sends the values its checks computed, and compares nothing;
5. judge each test cell here, against the key (``dlcourse.checks.compare``): it earns its points
   when every block sent exactly its checks' values and each one passes;
6. write the executed notebook (for the instructor, with the grader's verdicts), a feedback file
   (for the student: what failed, hidden tests without their inputs or answers) and one gradebook
   row, the late penalty applied; then the LMS exports and the similarity report if asked.

Written answers are left for a person (a blank answer scores 0): each run writes a rubric sheet
(``rubric.csv``) with every answer to grade; ``merge`` reads the filled sheet back into a new
gradebook, feedback and exports, the late penalty applied.

The modules, in the order a submission meets them:

- ``cli``: the command: options, the sandbox check, the run folder, then the modules below;
- ``key``: the answer key, from a run of the solution;
- ``workers``: one forked worker process per submission, killed past the hard limit;
- ``scoring``: one submission: validate, restore, execute, judge each test cell;
- ``assignment``: the source notebook and its graded cells; test cells without expected values;
- ``restore``: the instructor's locked cells and hidden tests put back into a submission;
- ``execution``: running a notebook in the sandboxed kernel, collecting the checks' records;
- ``sandbox`` and ``launch``: bubblewrap's command line, the limits, the kernelspec;
- ``gradebook``, ``late``, ``export``, ``similarity``: the CSV and the feedback, late penalties,
  Canvas and Moodle, the similarity report;
- ``rubric``: the written answers' sheet, and merging its points back;
- ``gradescope``: the same grader packaged as Gradescope's autograder (``make gradescope``).

This package imports nothing when imported, so ``import tools.grading.assignment`` stays light.
"""
