"""dlcourse.pytorch.launch without starting torchrun: device choices (a faked GPU), the command, the
error files that name the failed rank. tests/system/test_distributed.py launches real jobs."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch

from dlcourse.pytorch import launch


def test_cpu_choices():
    cpu = torch.device("cpu")
    assert launch.backend_for(cpu) == "gloo" and launch.processes_for(cpu) == 2
    assert launch.process_device(cpu, 1) == cpu


def test_gpu_choices_with_a_faked_machine_of_four_gpus(monkeypatch):
    current = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    cuda = torch.device("cuda")
    assert launch.backend_for(cuda) == "nccl" and launch.processes_for(cuda) == 4
    assert launch.process_device(cuda, 3) == torch.device("cuda", 3) and current == [3]


def test_torchrun_command_uses_this_python_and_a_standalone_rendezvous(tmp_path):
    command = launch.torchrun_command("train.py", ["--epochs", 2], nproc=3, log_dir=tmp_path)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert {"--standalone", "--nproc_per_node=3", "--max_restarts=0"} <= set(command)
    assert command[command.index("--log_dir") + 1] == str(tmp_path)
    assert command[-3:] == ["train.py", "--epochs", "2"]


def _error_file(folder, rank, message, mtime_ns):
    path = folder / "run" / "attempt_0" / str(rank) / "error.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"message": {"message": message, "extraInfo": {
        "py_callstack": f"Traceback ...\n{message}", "timestamp": "1700000000"}}}))
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_the_first_rank_to_fail_is_named_even_within_one_second(tmp_path):
    _error_file(tmp_path, 0, "RuntimeError: Connection closed by peer", 2_000_000_500)
    _error_file(tmp_path, 1, "ValueError: the real cause", 2_000_000_100)
    rank, text = launch._first_failure(tmp_path)
    assert rank == 1 and text.startswith("ValueError: the real cause\nTraceback")
    assert launch._first_failure(tmp_path / "nothing-here") is None


def test_launch_needs_a_script_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training script at .*missing.py: launch"):
        launch.launch(tmp_path / "missing.py")


def test_noise_filter_keeps_the_workers_lines():
    assert launch.NOISE.match("W1126 04:40:24.175000 3263 torch/distributed/run.py:766] ")
    assert launch.NOISE.match("[Gloo] Rank 0 is connected to 1 peer ranks.")
    assert not launch.NOISE.match("epoch 1: mean training loss 1.4468")
