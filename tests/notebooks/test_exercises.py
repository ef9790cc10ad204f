"""Every exercise in solutions/: generated exercises/ up to date, nothing secret leaks, metadata sane.

Parametrised over solutions/*.ipynb, so a new exercise is covered as soon as it is added.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from dlcourse.checks import EXPECTED_ARGUMENTS
from dlcourse.exercises import checking_blocks
from tools import make_exercises
from tools.grading.assignment import REFERENCE_PREFIX, check_calls, graded_source, is_autograded_test

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


# ---- What a graded kernel gets: test cells without expected values (tools/grading/assignment.py).

#: Checks whose expected value the grader holds or computes itself. A claim (``true``) and a
#: consistency check (``same``) are the kernel's word; a shape alone is sent as easily as it is
#: read off the exercise.
GRADER_VALUE_CHECKS = {"close", "equal", "grad", "model"}
HIDDEN = re.compile(r"^### BEGIN HIDDEN TESTS\n(.*?)^### END HIDDEN TESTS", re.S | re.M)


def graded_test_cells(source):
    nb = nbformat.read(source, as_version=4)
    release = {nbgrader(c)["grade_id"]: c for c in make_exercises.release_notebook(nb).cells
               if nbgrader(c)}
    for cell in nb.cells:
        if is_autograded_test(cell):
            grade_id = nbgrader(cell)["grade_id"]
            visible = set(checking_blocks(release[grade_id].source))
            yield grade_id, cell.source, set(checking_blocks(cell.source)) - visible


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_hidden_tests_are_whole_blocks(source):
    """A hidden test is a block of its own, so the grader knows which feedback to keep short."""
    for grade_id, text, hidden in graded_test_cells(source):
        regions = HIDDEN.findall(text)
        assert "### BEGIN HIDDEN TESTS" not in HIDDEN.sub("", text), (
            f"{grade_id}: hidden-test markers must start their lines, outside any block")
        in_regions = {b for region in regions for b in checking_blocks(region)}
        assert in_regions == hidden, (f"{grade_id}: the hidden region must hold whole "
                                      f"`with checking(...)` blocks: {in_regions} vs {hidden}")
        for region in regions:
            loose = [m for m, call, _ in check_calls(ast.parse(region))]
            assert len(loose) == sum(1 for _ in re.finditer(r"\bcheck\.\w+\(", region)), grade_id


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_graded_kernels_get_no_expected_values(source):
    """The graded source runs (no reference function left behind) and holds no answer."""
    for grade_id, text, hidden in graded_test_cells(source):
        graded = graded_source(text, hidden)
        tree = ast.parse(graded)
        left = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                and n.id.startswith(REFERENCE_PREFIX)}
        assert not left, f"{grade_id}: {left} used outside an expected argument"
        original = ast.parse(text)
        answers = set()
        for method, call, block in check_calls(original):
            for position in EXPECTED_ARGUMENTS.get(method, {}):
                if block in hidden and position < len(call.args):
                    answers |= significant_numbers(call.args[position])
        for node in ast.walk(original):
            if isinstance(node, ast.FunctionDef) and node.name.startswith(REFERENCE_PREFIX):
                answers |= significant_numbers(node)
        leaked = answers & significant_numbers(tree)
        assert not leaked, f"{grade_id}: expected values reach the graded kernel: {leaked}"
        # and no other precise number in a hidden test: an answer kept in a variable
        for region in HIDDEN.findall(text):
            left = significant_numbers(ast.parse(graded_source(region, hidden)))
            assert not left, (f"{grade_id}: hidden test numbers {left} reach the graded kernel; "
                              "put expected values in the check's expected argument")


def significant_numbers(tree) -> set[float]:
    """Float literals with at least five significant digits: answers, not inputs."""
    def digits(x: float) -> int:
        mantissa = f"{abs(x):.15g}".split("e")[0].replace(".", "")
        return len(mantissa.strip("0"))

    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, float) and digits(n.value) >= 5}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_test_cell_rests_on_values_the_grader_holds(source):
    """A question's points never rest on what the kernel says alone: each test cell has a check
    whose expected value the grader holds (close, equal, grad) or computes itself (model: a
    trained model, rebuilt from its parameters and measured by the grader)."""
    for grade_id, text, _ in graded_test_cells(source):
        methods = {m for m, _, _ in check_calls(ast.parse(text))}
        assert methods & GRADER_VALUE_CHECKS, (
            f"{source.stem} {grade_id} rests on the kernel's word ({sorted(methods)}): add a "
            "close, equal or grad check on values, or check a trained model with check.model")
