"""Every exercise in solutions/: generated exercises/ up to date, nothing secret leaks, metadata sane.

Parametrised over solutions/*.ipynb, so a new exercise is covered as soon as it is added.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tools import make_exercises
from tools.grading.assignment import checking_blocks, is_autograded_test

ROOT = Path(__file__).resolve().parents[2]


SOURCES = sorted((ROOT / "solutions").glob("*.ipynb"))
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exercises")
    make_exercises.generate(out)
    return out


def test_every_solution_has_an_exercise_and_no_exercise_is_orphaned():
    assert SOURCES, "solutions/ has no exercise"
    assert {p.name for p in SOURCES} == {p.name for p in (ROOT / "exercises").glob("*.ipynb")}, \
        "run `make exercises` and commit exercises/"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_exercise_is_up_to_date(source, regenerated):
    committed = ROOT / "exercises" / source.name
    assert committed.exists(), f"exercises/{source.name} is missing: run `make exercises`"
    assert committed.read_text() == (regenerated / source.name).read_text(), (
        f"exercises/{source.name} is out of date with solutions/{source.name}: "
        "run `make exercises` and commit exercises/")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_no_solution_or_hidden_test_text_in_exercise(source):
    nb = nbformat.read(source, as_version=4)
    exercise_text = (ROOT / "exercises" / source.name).read_text()
    exercise = nbformat.read(ROOT / "exercises" / source.name, as_version=4)
    exercise_sources = "\n".join(c.source for c in exercise.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in exercise_text, f"{marker!r} in exercises/{source.name}"
    # Lines that are visible anyway (outside every secret region) may appear in the exercise.
    outside = REGION.sub("", "\n".join(c.source for c in nb.cells))
    secret_regions = [m.group(2) for c in nb.cells for m in REGION.finditer(c.source)]
    assert secret_regions, f"solutions/{source.name} has no solution or hidden-test region"
    for region in secret_regions:
        for line in region.splitlines():
            line = line.strip()
            if len(line) >= 12 and line not in outside and not line.startswith("#"):
                assert line not in exercise_sources, (
                    f"exercises/{source.name} contains solution or hidden-test text: {line!r}")
    assert '"outputs": []' in exercise_text or "outputs" not in exercise_text
    assert all(not c.get("outputs") for c in exercise.cells if c.cell_type == "code")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_nbgrader_metadata_is_sane(source):
    nb = nbformat.read(source, as_version=4)
    ids = [nbgrader(c)["grade_id"] for c in nb.cells if nbgrader(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {ids}"
    graded = [c for c in nb.cells if nbgrader(c).get("grade")]
    auto = [c for c in graded if is_autograded_test(c)]
    assert 2 <= len(graded) and auto, "an exercise needs graded questions with autograded tests"
    for cell in nb.cells:
        meta = nbgrader(cell)
        if not meta:
            assert "### BEGIN" not in cell.source, "solution/hidden regions need nbgrader cells"
            continue
        assert meta.get("schema_version") == 3, meta
        assert isinstance(meta.get("grade_id"), str) and re.fullmatch(r"[A-Za-z0-9_-]+",
                                                                       meta["grade_id"])
        if meta.get("grade"):
            assert isinstance(meta.get("points"), int) and meta["points"] > 0, meta
        if meta.get("grade") and not meta.get("solution"):
            assert cell.cell_type == "code" and meta.get("locked"), (
                f"test cell {meta['grade_id']} must be a locked code cell")
            blocks = checking_blocks(cell.source)
            assert blocks, (f"test cell {meta['grade_id']} needs `with checking(\"name\")` blocks "
                            "with literal names: the grader counts their reports")
            assert len(blocks) == len(set(blocks)), f"repeated block names in {meta['grade_id']}"
        if meta.get("solution") and cell.cell_type == "code":
            assert not meta.get("locked")
            assert "### BEGIN SOLUTION" in cell.source, f"{meta['grade_id']} has no solution region"
        if meta.get("solution") and meta.get("grade"):
            assert cell.cell_type == "markdown", "written answers are markdown cells"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_solution_passes_its_own_checks(source):
    """The committed outputs of the solution show every graded block passing."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if is_autograded_test(cell):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []))
            for block in checking_blocks(cell.source):
                assert f"{block}: all tests passed" in text, (
                    f"solutions/{source.name}: {block!r} does not pass (refresh its outputs?)")
