"""dlcourse.pytorch.launch without starting torchrun: device choices (a faked GPU), the command, the
error files that name the failed rank. tests/system/test_distributed.py launches real jobs."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
import torch

from dlcourse.pytorch import launch, process_group


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


def _rank_and_sum(rank, world_size, scale):
    value = torch.tensor([float(rank + 1)]) * scale
    torch.distributed.all_reduce(value)
    return rank, world_size, value.item()


def test_run_in_processes_all_reduces_across_real_processes():
    # 1 + 2 + 3 = 6 ranks' values, scaled by 10: every rank holds the sum.
    assert process_group.run_in_processes(_rank_and_sum, 3, 10.0) == [(r, 3, 60.0) for r in range(3)]


def _fails_in_rank_1(rank, world_size):
    if rank == 1:
        raise ValueError("rank 1 cannot go on")
    torch.distributed.barrier()  # rank 0 would wait here forever for rank 1


def test_run_in_processes_names_the_failed_rank_instead_of_hanging():
    with pytest.raises(launch.LaunchError, match=r"rank 1 of 2 failed: ValueError: rank 1 cannot go on"):
        process_group.run_in_processes(_fails_in_rank_1, 2, timeout_s=30)


def _waits_alone(rank, world_size):
    if rank == 0:
        torch.distributed.barrier()  # rank 1 never comes: it is busy elsewhere
    else:
        time.sleep(120)


def test_run_in_processes_stops_a_hanging_collective():
    with pytest.raises(launch.LaunchError, match=r"ranks \[0, 1\] did not finish within 3 s"):
        process_group.run_in_processes(_waits_alone, 2, timeout_s=3)


def _joins_on_the_third_start(real_init, starts):
    """init_process_group that fails as gloo does when another group's connection interferes, until
    the third start of the processes (``starts``: a folder where each rank of each start leaves a file)."""

    def init(*args, rank, **kwargs):
        start = len(list(starts.glob(f"rank{rank}-*"))) + 1
        (starts / f"rank{rank}-{start}").touch()
        if start < 3:
            raise RuntimeError("Gloo connectFullMesh failed with [pair.cc:553] Connection closed by peer")
        return real_init(*args, rank=rank, **kwargs)

    return init


def _counts_its_runs(rank, world_size, runs):
    (runs / f"rank{rank}-{len(list(runs.iterdir()))}").touch()
    torch.distributed.barrier()
    return rank


def test_run_in_processes_starts_again_when_joining_the_group_fails(tmp_path, monkeypatch):
    starts, runs = tmp_path / "starts", tmp_path / "runs"
    starts.mkdir()
    runs.mkdir()
    real_init = torch.distributed.init_process_group
    monkeypatch.setattr(torch.distributed, "init_process_group", _joins_on_the_third_start(real_init, starts))
    assert process_group.run_in_processes(_counts_its_runs, 2, runs) == [0, 1]
    assert len(list(starts.iterdir())) == 2 * 3  # both ranks started three times
    assert len(list(runs.iterdir())) == 2  # fn ran once in each rank: only after joining


def test_run_in_processes_gives_up_joining_after_its_attempts(tmp_path, monkeypatch):
    real_init = torch.distributed.init_process_group
    monkeypatch.setattr(process_group, "SETUP_ATTEMPTS", 2)
    failing_init = _joins_on_the_third_start(real_init, tmp_path)
    monkeypatch.setattr(torch.distributed, "init_process_group", failing_init)
    with pytest.raises(launch.LaunchError, match=r"of 2 could not join the gloo group \(2 attempts\): "
                                                 r"RuntimeError: Gloo connectFullMesh failed"):
        process_group.run_in_processes(_tensors, 2, timeout_s=30)


def test_run_in_processes_does_not_start_again_when_fn_fails(tmp_path):
    with pytest.raises(launch.LaunchError, match=r"rank 1 of 2 failed: ValueError: rank 1 cannot go on"):
        process_group.run_in_processes(_fails_in_rank_1_and_counts, 2, tmp_path, timeout_s=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank0", "rank1"]  # one start only


def _fails_in_rank_1_and_counts(rank, world_size, folder):
    (folder / f"rank{rank}").touch(exist_ok=False)
    _fails_in_rank_1(rank, world_size)


def _tensors(rank, world_size):
    return {"weights": torch.full((1000,), float(rank))}


def test_run_in_processes_returns_tensors_that_outlive_their_process():
    got = process_group.run_in_processes(_tensors, 2)
    for rank, result in enumerate(got):
        assert torch.equal(result["weights"], torch.full((1000,), float(rank)))


def test_course_script_is_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert launch.course_script("ddp_train.py").read_text().startswith('"""Lesson 14')
    with pytest.raises(FileNotFoundError, match="no course script 'nothing.py'.*pip install -e"):
        launch.course_script("nothing.py")
