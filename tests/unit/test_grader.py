"""The instructor's grader (tools/grading/) in the parts that need no kernel: restoring a
submission from the source, and the gradebooks of a rerun. The end-to-end run over every kind of
submission, in the sandbox, is tests/system/test_grading.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests.grading import hostile
from tests.grading.results import read_csv
from tools.grading import cli, restore
from tools.make_exercises import release_notebook

ROOT = Path(__file__).resolve().parents[2]


def test_rerun_keeps_earlier_gradebooks(tmp_path):
    submissions = tmp_path / "subs"
    submissions.mkdir()
    (submissions / "broken.ipynb").write_text("{")
    (submissions / "essay.txt").write_text("not a notebook")
    out = tmp_path / "out"
    for _ in range(2):
        assert cli.main([hostile.ASSIGNMENT, str(submissions), "--out", str(out)]) == 0
    books = sorted(out.glob("gradebook-2*.csv"))
    assert len(books) == 2 and len(list((out / "runs").iterdir())) == 2
    assert (out / "gradebook-latest.csv").read_text() == books[-1].read_text()
    rows = read_csv(books[0])
    assert rows["broken"]["status"] == rows["essay.txt"]["status"] == "invalid"


def test_restore_of_the_exercise_gives_the_graded_template():
    """Every exercise: an untouched copy restores to the source with its hidden tests."""
    for source_path in sorted((ROOT / "solutions").glob("*.ipynb")):
        source = nbformat.read(source_path, as_version=4)
        template = release_notebook(source, hidden_tests=True)
        release = release_notebook(source)
        restored, notes = restore.restore(release, template, release, source_path.stem)
        assert notes == [], (source_path.name, notes)
        assert [c.source for c in restored.cells] == [c.source for c in template.cells]
