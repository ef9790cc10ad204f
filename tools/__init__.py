"""The instructor's and maintainer's tools: generate exercises, grade, refresh outputs, sync cells.

Not part of the learner's package (dlcourse never imports them; tests/unit/test_architecture.py
checks it) and not installed with it: run them from the repository's root, as modules:

    python -m tools.make_exercises [--check]       # exercises/ from solutions/ (make exercises)
    python -m tools.grading ASSIGNMENT SUBMISSIONS # grade a folder of submissions (make grade)
    python -m tools.refresh_outputs [NOTEBOOK ...] # re-execute, refresh outputs (make outputs)
    python -m tools.sync_notebooks [--check]       # badges, setup cells, course map (make sync)
    python -m tools.drift_report LOG ...           # drift of notebook outputs across machines

``tools.notebook_meta`` holds what the tools and the tests share about the notebooks.
"""
