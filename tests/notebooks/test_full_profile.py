"""Every branch of the full run profile executes in CI, on the CPU, at tiny sizes.

The lessons that read the run profile (:mod:`dlcourse.env.profile`) run top to bottom in
``full-tiny`` through the same script that ``make gpu-check`` runs on a GPU (``tools/gpu_check.py``):
the full data loaders (a few batches of the real full Fashion-MNIST), mixed precision through
``torch.autocast`` in bfloat16, the larger models for a step or an epoch. Claim cells are skipped
there (at tiny sizes they would assert nothing meaningful); the quick profile's claims are checked
by nbval and the full profile's by ``make gpu-check``.

And no lesson tests the device itself: CUDA-only lines live in :mod:`dlcourse.env.accelerator`,
where they are unit-tested with a faked device.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dlcourse.data.fashion_mnist import find_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "solutions").glob("*.ipynb")])
#: The lessons that had device switches before the run profile: they must read it now.
MUST_READ_PROFILE = {"07_training_in_practice.ipynb", "09_cnns.ipynb",
                     "11b_gans_images.ipynb"}
DEVICE_TEST = re.compile(r"\.type\s*[!=]=\s*[\"']cuda[\"']|torch\.cuda\.|cuda\.is_available")


def code_of(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_notebook_tests_the_device_itself(path):
    found = DEVICE_TEST.findall(code_of(path))
    assert not found, (f"{path.name} tests the device ({found}): read the run profile "
                       "(dlcourse.env.profile) or call dlcourse.env.accelerator instead")


def test_lessons_reading_the_profile_run_in_full_tiny(tmp_path):
    if find_fashion_mnist() is None:
        if os.environ.get("DLCOURSE_REQUIRE_FULL_DATA") == "1":
            pytest.fail("DLCOURSE_REQUIRE_FULL_DATA=1 but the full Fashion-MNIST is not on this machine")
        pytest.skip("the full Fashion-MNIST is not on this machine (CI installs dataset-fashion-mnist)")
    reading = {p.name for p in (ROOT / "notebooks").glob("*.ipynb") if "run_profile(" in code_of(p)}
    assert MUST_READ_PROFILE <= reading
    out = tmp_path / "full-tiny.md"
    env = {**os.environ, "DLCOURSE_DEVICE": "cpu", "DLCOURSE_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "tools.gpu_check", "--profile", "full-tiny",
                           "--lessons-reading-profile", "--no-benchmark", "-j", "2", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    lessons_table = out.read_text().split("## Lessons")[1].split("## Claims")[0]  # not the claims' rows
    rows = {line.split("|")[1].strip(): line for line in lessons_table.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip().endswith(".ipynb")}
    assert set(rows) == reading
    for lesson, row in rows.items():
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[2] == "ok", f"{lesson}: {row}"
        assert cells[3].startswith("run profile: full (tiny sizes) on cpu"), row
