"""Lesson 14's training script under torchrun: two gloo processes on the CPU, as CI runs them; and
exercise 14's processes spawned from a real Jupyter kernel, as on macOS and Windows.

The distributed runs must compute what one process computes on the combined batch (to float32
rounding), a run resumed from rank 0's checkpoint must equal the uninterrupted run, and a rank that
raises must make the launch fail with that rank's error, not hang. About half a minute on two cores,
most of it spent starting Python processes that import torch.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from dlcourse.pytorch.launch import LaunchError, launch
from dlcourse.pytorch.process_group import START_METHOD_ENV

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "notebooks" / "scripts" / "ddp_train.py"
#: Small enough for CI: 16 steps of 2 x 32 images.
SIZES = ["--examples", "512", "--batch-per-rank", "32", "--epochs", "2"]
#: Summing 64 gradients in one process or 32 + 32 in two differs only in rounding: a few float32
#: ulps per step (3e-7 measured); a gradient that is not averaged (or averaged twice) is off by 1e-2.
TOLERANCE = 1e-5


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_two_processes_equal_one_process_on_the_combined_batch_and_resume_exactly(tmp_path):
    main = runpy.run_path(str(SCRIPT), run_name="ddp_train")["main"]
    reference = main(["--reference", "--world", "2", *SIZES])
    runs = {}
    for sync in ("manual", "ddp"):
        extra = ["--checkpoint-dir", str(tmp_path / "checkpoints")] if sync == "ddp" else []
        out = tmp_path / f"{sync}.pt"
        launch(SCRIPT, ["--sync", sync, "--out", str(out), *SIZES, *extra], timeout_s=240, echo=False)
        runs[sync] = torch.load(out, weights_only=False)
        assert runs[sync]["world"] == 2 and runs[sync]["backend"] == "gloo"
        difference = largest_difference(runs[sync]["state"], reference["state"])
        assert difference < TOLERANCE, f"--sync {sync}: parameters off one process's by {difference:.1e}"
        assert runs[sync]["losses"] == pytest.approx(reference["losses"], rel=1e-5)
    # The averaging matters: without it each rank follows its own half of the data.
    assert largest_difference(runs["ddp"]["state"], runs["manual"]["state"]) < TOLERANCE

    # An interruption after epoch 1: new processes resume from rank 0's checkpoint.
    checkpoint = tmp_path / "checkpoints" / "epoch_1.pt"
    launch(SCRIPT, ["--sync", "ddp", "--out", str(tmp_path / "resumed.pt"), *SIZES,
                    "--resume-from", str(checkpoint)], nproc=2, timeout_s=240, echo=False)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=False)
    assert resumed["losses"] == runs["ddp"]["losses"][1:]
    for name, value in runs["ddp"]["state"].items():
        assert torch.equal(resumed["state"][name], value), f"{name}: the resumed run differs from the other"


def test_unaveraged_gradients_would_be_caught():
    """The tolerance is meaningful: one process on half the batch ends far from the reference."""
    main = runpy.run_path(str(SCRIPT), run_name="ddp_train")["main"]
    reference = main(["--reference", "--world", "2", *SIZES])
    half = main(["--reference", "--world", "1", *SIZES])  # what one rank learns alone, on its own shards
    assert largest_difference(half["state"], reference["state"]) > 100 * TOLERANCE


def test_a_failing_rank_fails_the_launch_with_its_own_error():
    expected = r"rank 1 of the torchrun job failed[\s\S]*RuntimeError: rank 1 failed on purpose"
    with pytest.raises(LaunchError, match=expected) as failure:
        launch(SCRIPT, [*SIZES, "--fail-rank", "1"], nproc=2, timeout_s=240, echo=False)
    assert failure.value.rank == 1
    assert 'raise RuntimeError(f"rank {rank} failed on purpose' in str(failure.value), "show the traceback"


def test_a_hanging_job_is_stopped_at_the_timeout(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text("import time\nprint('worker started', flush=True)\ntime.sleep(600)\n")
    with pytest.raises(LaunchError, match=r"ran past 8 s and was stopped \(every process killed\)"):
        launch(script, nproc=1, timeout_s=8, echo=False)


#: A notebook's cells as exercise 14 writes them: functions defined in the kernel, run in processes.
SPAWNED_FROM_A_KERNEL = [
    "import sys\nimport torch\nimport torch.distributed as dist\n"
    "from dlcourse.pytorch.process_group import run_in_processes, start_method",
    "def shard_sum(rank):\n    return rank + 1.0\n\n\n"
    "def fn(rank, world_size):\n    total = torch.tensor([shard_sum(rank)])\n    dist.all_reduce(total)\n"
    "    return total.item(), 'ipykernel' in sys.modules\n\n\n"
    "print(start_method(), run_in_processes(fn, 2, timeout_s=120))",
]


def test_a_kernels_functions_run_in_spawned_processes(monkeypatch):
    """macOS and Windows spawn: fresh processes (no ipykernel in them) run what the kernel defined."""
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in SPAWNED_FROM_A_KERNEL])
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    assert nb.cells[1].outputs[0]["text"] == "spawn [(3.0, False), (3.0, False)]\n"
