"""dlcourse.pytorch.launch without starting torchrun: device choices (faked GPUs), the loopback
interface and start method on each system (faked), the command, the error files that name the
failed rank; run_in_processes in real processes, forked and spawned. tests/system/test_distributed.py
launches real jobs."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sys
import time

import pytest
import torch

from dlcourse.pytorch import launch, process_group


def test_cpu_choices():
    cpu = torch.device("cpu")
    assert launch.backend_for(cpu) == "gloo" and launch.processes_for(cpu) == 2
    assert launch.process_device(cpu, 1) == cpu


def _fake_gpus(monkeypatch, count):
    """A machine with ``count`` CUDA GPUs, as torch.cuda reports it; returns the GPUs made current."""
    current = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    return current


def test_gpu_choices_with_a_faked_machine_of_four_gpus(monkeypatch):
    current = _fake_gpus(monkeypatch, 4)
    cuda = torch.device("cuda")
    assert launch.gpu_per_process(cuda)
    assert launch.backend_for(cuda) == "nccl" and launch.processes_for(cuda) == 4
    assert launch.process_device(cuda, 3) == torch.device("cuda", 3) and current == [3]


def test_two_gpus_are_enough_for_nccl(monkeypatch):
    current = _fake_gpus(monkeypatch, 2)
    cuda = torch.device("cuda")
    assert launch.backend_for(cuda) == "nccl" and launch.processes_for(cuda) == 2
    assert launch.process_device(cuda, 1) == torch.device("cuda", 1) and current == [1]


def test_one_gpu_runs_two_gloo_processes_on_the_cpu(monkeypatch):
    # Colab: get_device() says cuda, but rank 1 has no GPU of its own, and nccl cannot share one.
    current = _fake_gpus(monkeypatch, 1)
    cuda = torch.device("cuda")
    assert not launch.gpu_per_process(cuda)
    assert launch.processes_for(cuda) == 2 and launch.backend_for(cuda) == "gloo"
    assert [launch.process_device(cuda, r) for r in (0, 1)] == [torch.device("cpu")] * 2
    assert current == [], "no GPU is made current for a CPU process"


def test_a_mac_gpu_runs_two_gloo_processes_on_the_cpu(monkeypatch):
    _fake_gpus(monkeypatch, 0)
    mps = torch.device("mps")  # gloo has no mps tensors
    assert launch.processes_for(mps) == 2 and launch.backend_for(mps) == "gloo"
    assert launch.process_device(mps, 1) == torch.device("cpu")


INTERFACES = {  # what socket.if_nameindex() lists on each system
    "linux": [(1, "lo"), (2, "eth0"), (3, "docker0")],
    "darwin": [(1, "lo0"), (2, "gif0"), (3, "stf0"), (4, "en0"), (5, "utun0")],
    "win32": [(1, "loopback_0"), (7, "ethernet_32768"), (12, "wireless_32768")],
}


@pytest.mark.parametrize(("system", "loopback"), [("linux", "lo"), ("darwin", "lo0"), ("win32", None)])
def test_the_loopback_interface_is_read_from_the_machine(monkeypatch, system, loopback):
    monkeypatch.setattr(socket, "if_nameindex", lambda: INTERFACES[system])
    monkeypatch.delenv("GLOO_SOCKET_IFNAME", raising=False)
    assert launch.loopback_interface() == loopback
    assert launch.loopback_env() == ({"GLOO_SOCKET_IFNAME": loopback} if loopback else {})


def test_no_interface_list_means_no_loopback_and_a_set_variable_is_kept(monkeypatch):
    def unsupported():
        raise OSError("if_nameindex is not supported here")

    monkeypatch.setattr(socket, "if_nameindex", unsupported)
    assert launch.loopback_interface() is None
    monkeypatch.setattr(socket, "if_nameindex", lambda: INTERFACES["linux"])
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "eth0")  # the learner's own choice wins
    assert launch.loopback_env() == {}


@pytest.mark.parametrize(("system", "methods", "expected"), [
    ("linux", ["fork", "spawn", "forkserver"], "fork"),
    ("darwin", ["fork", "spawn", "forkserver"], "spawn"),  # fork exists, but is not safe there
    ("win32", ["spawn"], "spawn"),
])
def test_the_start_method_follows_the_system(monkeypatch, system, methods, expected):
    monkeypatch.delenv(process_group.START_METHOD_ENV, raising=False)
    monkeypatch.setattr(sys, "platform", system)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: methods)
    assert process_group.start_method() == expected


def test_the_start_method_can_be_chosen(monkeypatch):
    monkeypatch.setenv(process_group.START_METHOD_ENV, "spawn")
    assert process_group.start_method() == "spawn"
    monkeypatch.setenv(process_group.START_METHOD_ENV, "threads")
    with pytest.raises(ValueError, match="DLCOURSE_START_METHOD='threads': choose 'fork' or 'spawn'"):
        process_group.start_method()


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


#: Two functions as a notebook defines them: in ``__main__``, so no other process can import them.
NOTEBOOK_CELL = """
def scaled(value, scale):
    return value * scale


def rank_report(rank, world_size, scale):
    total = torch.tensor([scaled(rank + 1.0, scale)])
    dist.all_reduce(total)
    return total.item(), "_pytest" in sys.modules, torch.get_num_threads()
"""


def test_run_in_processes_spawns_fresh_processes_that_run_a_notebooks_functions(monkeypatch):
    # Windows: no fork. The real spawn path runs: fresh Pythons (pytest is not loaded in them)
    # receive the notebook's functions by value.
    monkeypatch.delenv(process_group.START_METHOD_ENV, raising=False)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    notebook = {"__name__": "__main__", "torch": torch, "dist": torch.distributed, "sys": sys}
    exec(NOTEBOOK_CELL, notebook)
    assert notebook["rank_report"].__module__ == "__main__"
    assert process_group.start_method() == "spawn"
    got = process_group.run_in_processes(notebook["rank_report"], 2, 10.0, timeout_s=120)
    assert got == [(30.0, False, 1)] * 2  # (1 + 2) x 10 in both ranks, in fresh processes


def test_forked_processes_are_copies_of_this_one(monkeypatch):
    monkeypatch.setenv(process_group.START_METHOD_ENV, "fork")
    notebook = {"__name__": "__main__", "torch": torch, "dist": torch.distributed, "sys": sys}
    exec(NOTEBOOK_CELL, notebook)
    assert process_group.run_in_processes(notebook["rank_report"], 2, 10.0) == [(30.0, True, 1)] * 2
