"""The notebook harness catches a stale output and tolerates what honestly varies.

A tiny notebook is executed once to record its outputs (as `make outputs` does), then checked by
strict nbval with the course's sanitize file, as `make test` does:
- re-running it passes although its timings and progress bar differ from run to run;
- changing one printed number in a committed output makes the check fail;
- the same holds for the real lesson 00_setup.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ROOT / "tests" / "nbval-sanitize.cfg"

VARYING = [
    "import time\nstart = time.perf_counter()\ntime.sleep(0.01 + (time.time_ns() % 7) / 1000)\n"
    "print(f'step took {time.perf_counter() - start:.4f} s')",
    "from tqdm import tqdm\nimport sys\n"
    "for _ in tqdm(range(3), file=sys.stdout, desc='epoch'):\n    time.sleep(0.01)",
    "print('accuracy:', round(2 / 3, 3))",
]


def nbval(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--nbval",
         "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE), str(path), "-q",
         "--rootdir", str(path.parent)],
        capture_output=True, text=True, timeout=300, cwd=path.parent)


def change_output(path: Path, old: str, new: str) -> None:
    nb = nbformat.read(path, as_version=4)
    changed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout" and old in out.text:
                out.text = out.text.replace(old, new)
                changed += 1
    assert changed == 1, f"expected exactly one output containing {old!r}"
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("harness") / "varying.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in VARYING])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    nbformat.write(nb, path)
    return path


def test_timings_and_progress_bars_may_differ(executed):
    result = nbval(executed)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 passed" in result.stdout


def test_a_changed_number_fails(executed, tmp_path):
    path = tmp_path / "changed.ipynb"
    shutil.copy(executed, path)
    change_output(path, "accuracy: 0.667", "accuracy: 0.668")
    result = nbval(path)
    assert result.returncode == 1
    assert "1 failed" in result.stdout and "accuracy: 0.668" in result.stdout


def test_a_changed_number_in_a_real_lesson_fails(tmp_path):
    path = tmp_path / "00_setup.ipynb"
    shutil.copy(ROOT / "notebooks" / "00_setup.ipynb", path)
    change_output(path, "sum of 0..999 = 499500", "sum of 0..999 = 499501")
    result = nbval(path)
    assert result.returncode == 1
    assert "1 failed" in result.stdout and "499501" in result.stdout
