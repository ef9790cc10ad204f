"""Every notebook follows the course's conventions, and the generated parts are current."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from tools import notebook_meta

ROOT = Path(__file__).resolve().parents[2]

LESSONS = notebook_meta.course_notebooks(notebook_meta.LESSONS)
WITH_OUTPUTS = notebook_meta.course_notebooks(*notebook_meta.WITH_OUTPUTS)


def test_generated_cells_and_course_map_are_current():
    result = subprocess.run([sys.executable, "-m", "tools.sync_notebooks", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_badges_and_setup_cell_follow_the_one_configured_url(monkeypatch):
    monkeypatch.setattr(notebook_meta, "repository_url", lambda: "https://github.com/someone/elsewhere")
    nb = ROOT / "notebooks" / "00_setup.ipynb"
    assert notebook_meta.badge_markdown(nb).endswith(
        "(https://colab.research.google.com/github/someone/elsewhere/blob/main/notebooks/00_setup.ipynb)")
    assert " https://github.com/someone/elsewhere /content/dlcourse\n" in notebook_meta.setup_cell_source()


def test_setup_cell_does_nothing_outside_colab():
    python = TransformerManager().transform_cell(notebook_meta.setup_cell_source())
    calls = []
    namespace = {"get_ipython": lambda: type("Shell", (), {"system": calls.append,
                                                             "run_line_magic": lambda *a: calls.append(a)})()}
    saved = dict(sys.modules)
    exec(compile(python, "setup-cell", "exec"), namespace)
    assert calls == [] and "google.colab" not in sys.modules and sys.modules.keys() == saved.keys()


@pytest.mark.parametrize("path", WITH_OUTPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_title_cell(path):
    """The title comes first, the Colab badge right under it, then the short setup cell."""
    nb = nbformat.read(path, as_version=4)
    title_cell = nb.cells[0]
    assert title_cell.cell_type == "markdown"
    first_line, _, badge = title_cell.source.splitlines()[:3]
    assert first_line.startswith(f"# {path.name[:2]} · "), f"title should read '# {path.name[:2]} · ...'"
    assert badge == notebook_meta.badge_markdown(path), "the Colab badge goes under the title (make sync)"
    assert "run time" in title_cell.source.lower(), "state the expected run time in the title cell"
    setup = nb.cells[1].source
    assert setup == notebook_meta.setup_cell_source() and len(setup.splitlines()) <= 7


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lessons_start_and_end_with_a_summary(path):
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "rng = start(seed=" in code, \
        "lessons begin with dlcourse.lesson.start(seed=...) so that outputs are reproducible"
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "summary" in last.source.lower()


@pytest.mark.parametrize("path", WITH_OUTPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_outputs_have_no_errors_and_were_executed_in_order(path):
    nb = nbformat.read(path, as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert None not in counts, "run `make outputs`: some code cells were never executed"
    assert counts == sorted(counts), "outputs come from an out-of-order run: run `make outputs`"
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"committed error output: {out.get('ename')}"
    assert "cpu_runtime_s" in nb.metadata.get("dlcourse", {}), "run `make outputs` to measure its run time"


@pytest.mark.parametrize("path", WITH_OUTPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_claim_cells_assert_and_stay_out_of_the_way(path):
    """A claim cell checks what the prose says about a result (CONTRIBUTING.md): it asserts, prints
    nothing, and is collapsed in JupyterLab and left out of the rendered page."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if "claim" in cell.metadata.get("tags", []):
            assert "assert " in cell.source, f"claim cell {index} asserts nothing"
            assert not cell.get("outputs"), f"claim cell {index} should print nothing"
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, f"cell {index}: collapse it"
            assert "remove-input" in cell.metadata["tags"], f"claim cell {index}: tag it remove-input"


@pytest.mark.parametrize("path", WITH_OUTPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_tolerances_are_well_formed(path):
    """A measured cell's tolerance names only known keys, with non-negative numbers."""
    nb = nbformat.read(path, as_version=4)
    cells = [nb] + [c for c in nb.cells if c.cell_type == "code"]
    for cell in cells:
        tolerance = cell.metadata.get("dlcourse", {}).get("tolerance")
        if tolerance is not None:
            assert set(tolerance) <= {"abs", "rel", "int_abs"}, tolerance
            assert all(isinstance(v, int | float) and v >= 0 for v in tolerance.values()), tolerance



def test_make_test_runs_every_committed_notebook_once(capsys):
    """The Makefile splits the notebook run by `python -m tools.notebook_meta measured|exact`."""
    listed = {}
    for kind in ("measured", "exact"):
        assert notebook_meta.main([kind]) == 0
        listed[kind] = set(capsys.readouterr().out.split())
    assert not listed["measured"] & listed["exact"]
    assert listed["measured"] | listed["exact"] == {p.relative_to(ROOT).as_posix() for p in WITH_OUTPUTS}
    for path in WITH_OUTPUTS:
        nb = nbformat.read(path, as_version=4)
        tagged = any("measured" in c.metadata.get("tags", []) for c in nb.cells)
        assert not tagged or path.relative_to(ROOT).as_posix() in listed["measured"], path.name
    assert notebook_meta.main(["everything"]) == 2


SOLUTION_SOURCES = notebook_meta.course_notebooks(notebook_meta.SOLUTIONS)


@pytest.mark.parametrize("path", SOLUTION_SOURCES, ids=lambda p: p.name)
def test_graded_test_cells_import_nothing(path):
    """One convention for graded test cells: what a test uses is imported in the notebook's first
    code cells, so that a test cell holds only its checks."""
    import ast

    nb = nbformat.read(path, as_version=4)
    graded = [cell for cell in nb.cells if cell.cell_type == "code"
              and cell.metadata.get("nbgrader", {}).get("grade")]
    assert graded, f"{path.name} has no graded test cell"
    for cell in graded:
        name = cell.metadata["nbgrader"]["grade_id"]
        imports = [node for node in ast.parse(cell.source).body
                   if isinstance(node, ast.Import | ast.ImportFrom)]
        assert not imports, f"{name} imports {[ast.unparse(i) for i in imports]}: import in the first cell"


@pytest.mark.parametrize("path", WITH_OUTPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_cell_a_learner_reads_silences_the_linter(path):
    for cell in nbformat.read(path, as_version=4).cells:
        assert "noqa" not in cell.source, f"{path.name}: a noqa comment in a cell a learner reads"
