"""Launching a ``torchrun`` job from a notebook, and the choices every distributed script makes.

A notebook cannot host the worker processes of ``torch.distributed`` itself: each worker is a
Python process that runs a script from its first line. :func:`launch` starts ``torchrun`` (as
``python -m torch.distributed.run``, so the workers use this Python), streams what the workers
print, stops the whole job after ``timeout_s`` instead of hanging, and when a rank fails raises a
:class:`LaunchError` that names the rank and shows its error and traceback (the script wraps its
``main`` in ``torch.distributed.elastic.multiprocessing.errors.record``, which writes them to a
file that torchrun names for each rank).

The choices a script makes from the device (lesson 14's ``notebooks/scripts/ddp_train.py``):

- :func:`processes_for`: one process per GPU on a CUDA machine, two on a CPU;
- :func:`backend_for`: ``nccl`` between GPUs, ``gloo`` on the CPU;
- :func:`process_device`: the GPU of a process (``cuda:LOCAL_RANK``), made current.

For small experiments inside a notebook, :func:`run_in_processes` forks the kernel into a few
``gloo`` processes on the CPU and returns what a function computed in each (Linux and Colab: it
needs the ``fork`` start method). Exercise 14 runs the learner's averaging that way.

>>> import torch
>>> backend_for(torch.device("cpu")), processes_for(torch.device("cpu"))
('gloo', 2)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["LAUNCH_CLOCK_ENV", "LaunchError", "LaunchResult", "backend_for", "launch", "process_device",
           "processes_for", "run_in_processes", "torchrun_command"]

#: The launcher puts its start time (``time.time()``) here, so a script can measure the launch overhead.
LAUNCH_CLOCK_ENV = "DLCOURSE_LAUNCH_CLOCK"
#: Lines of torchrun's and the backends' own logging, left out of the streamed output (kept in
#: :attr:`LaunchResult.output`): ``W1126 04:40:00.123 ...`` log records, ``[Gloo]`` connection notes.
NOISE = re.compile(r"^\s*(\[?[WIEF]\d{4} \d\d:\d\d:\d\d|\[Gloo\]|\*{5}|\[rank\d+\]:\[[WIEF]\d{4})")


def processes_for(device: torch.device) -> int:
    """Worker processes for one machine: one per CUDA GPU, else 2 (two CPU processes)."""
    return torch.cuda.device_count() if device.type == "cuda" else 2


def backend_for(device: torch.device) -> str:
    """The ``torch.distributed`` backend for tensors on ``device``: ``nccl`` for CUDA, else ``gloo``."""
    return "nccl" if device.type == "cuda" else "gloo"


def process_device(device: torch.device, local_rank: int) -> torch.device:
    """The device of the process with ``local_rank`` on this machine: ``cuda:local_rank`` or ``device``."""
    if device.type != "cuda":
        return device
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def torchrun_command(script: Path | str, args: Sequence[str] = (), nproc: int = 2,
                     log_dir: Path | str | None = None) -> list[str]:
    """``torchrun --standalone --nproc_per_node=NPROC SCRIPT ARGS`` with this Python's torchrun.

    ``--standalone`` runs one machine's job with a rendezvous on a free port of localhost;
    ``log_dir`` is where torchrun keeps each rank's error file.
    """
    logs = ["--log_dir", str(log_dir)] if log_dir is not None else []
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "--max_restarts=0", *logs, str(script), *map(str, args)]


class LaunchError(RuntimeError):
    """A torchrun job failed or timed out; the message names the failed rank and shows its error."""

    def __init__(self, message: str, rank: int | None = None, output: str = "") -> None:
        super().__init__(message)
        self.rank = rank
        self.output = output


@dataclass
class LaunchResult:
    """A finished job: its exit status, wall time in seconds and everything it printed."""

    returncode: int
    seconds: float
    output: str


def _first_failure(log_dir: Path) -> tuple[int, str] | None:
    """The earliest rank error that ``@record`` wrote under ``log_dir``: ``(rank, text)``.

    The first rank to fail is the cause; the others usually fail after it (a closed connection),
    a moment later. The files' modification times order them (their own timestamps are in seconds).
    """
    failures = []
    for path in log_dir.rglob("error.json"):
        try:
            message = json.loads(path.read_text())["message"]
        except (OSError, ValueError, KeyError):
            continue
        if isinstance(message, str):  # an error file without a traceback
            message = {"message": message, "extraInfo": {}}
        info = message.get("extraInfo", {})
        rank = int(path.parent.name) if path.parent.name.isdigit() else -1
        failures.append((path.stat().st_mtime_ns, rank,
                         f"{message.get('message', '')}\n{info.get('py_callstack', '')}".strip()))
    if not failures:
        return None
    _, rank, text = min(failures)
    return rank, text


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def launch(script: Path | str, args: Sequence[str] = (), nproc: int = 2, timeout_s: float = 300,
           echo: bool = True, env: dict[str, str] | None = None,
           cwd: Path | str | None = None) -> LaunchResult:
    """Run ``script`` in ``nproc`` processes with torchrun and wait for it.

    Args:
        script: the training script (a file: every worker runs it from its first line).
        args: its command-line arguments.
        nproc: worker processes on this machine (:func:`processes_for` chooses one per GPU).
        timeout_s: stop the whole job (every process) after this many seconds and raise.
        echo: print the workers' lines as they come (torchrun's own log records are left out).
        env: extra environment variables; ``OMP_NUM_THREADS`` defaults to 1 thread per worker.
        cwd: the working directory of the job.

    Returns:
        A :class:`LaunchResult` with all the output (noise included).

    Raises:
        LaunchError: when the job fails, naming the first rank that failed with its error and
            traceback, or when it runs past ``timeout_s`` (with the last lines it printed).
    """
    script = Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"no training script at {script.resolve()}: launch() runs a file")
    with tempfile.TemporaryDirectory(prefix="torchrun-") as log_dir:
        command = torchrun_command(script, args, nproc, log_dir=log_dir)
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {}),
                    LAUNCH_CLOCK_ENV: repr(time.time()), "PYTHONUNBUFFERED": "1"}
        tic = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=full_env, cwd=cwd, start_new_session=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        output: list[str] = []
        timed_out = False
        while True:
            remaining = timeout_s - (time.perf_counter() - tic)
            try:
                line = lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                timed_out = remaining <= 0
                if timed_out:
                    break
                continue
            if line is None:
                break
            output.append(line)
            if echo and not NOISE.match(line):
                print(line, end="", flush=True)
        if timed_out:
            os.killpg(proc.pid, signal.SIGKILL)  # torchrun and every worker: they share a session
        returncode = proc.wait()
        seconds = time.perf_counter() - tic
        text = "".join(output)
        if timed_out:
            tail = "".join(output[-20:])
            raise LaunchError(f"the torchrun job ran past {timeout_s:g} s and was stopped (every process "
                              f"killed). Its last lines:\n{tail}", output=text)
        if returncode != 0:
            failure = _first_failure(Path(log_dir))
            if failure is None:
                tail = "".join(output[-30:])
                raise LaunchError(f"the torchrun job failed (exit status {returncode}). "
                                  f"Its last lines:\n{tail}", output=text)
            rank, error = failure
            raise LaunchError(f"rank {rank} of the torchrun job failed (exit status {returncode}):\n{error}",
                              rank=rank, output=text)
    return LaunchResult(returncode, seconds, text)


def _rank_main(fn: Callable, rank: int, world_size: int, store_path: str, args: tuple, results) -> None:
    """One forked process: join the gloo group through a file store, run ``fn``, report back."""
    try:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo's connections stay on this machine
        torch.set_num_threads(1)
        store = dist.FileStore(store_path, world_size)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size)
        value = fn(rank, world_size, *args)
    except BaseException as err:  # noqa: BLE001 -- everything goes back to the parent, which raises it
        results.put((time.time(), rank, "error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
        return
    # Plain pickle: a tensor put on the queue as it is would travel as a handle to this process's
    # shared memory, which dies with the process.
    results.put((time.time(), rank, "ok", pickle.dumps(value)))
    dist.destroy_process_group()


def _first_error(results, when: float, rank: int, error: str) -> tuple[int, str]:
    """The earliest error, ``(rank, text)``: the other ranks usually fail a moment after the cause."""
    errors = [(when, rank, error)]
    grace = time.perf_counter() + 1.0
    while time.perf_counter() < grace:
        try:
            when, other, status, value = results.get(timeout=0.1)
        except queue.Empty:
            continue
        if status == "error":
            errors.append((when, other, value))
    _, rank, text = min(errors)
    return rank, text


def run_in_processes(fn: Callable[..., Any], world_size: int, *args: Any,
                     timeout_s: float = 60) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` forked processes joined by ``gloo``.

    Each process is a copy of this one (``fork``), so ``fn`` may be defined in a notebook; it can
    call ``torch.distributed`` collectives (the process group is initialised) and returns a
    picklable value, such as a ``state_dict`` of CPU tensors.

    Returns:
        ``[fn's result in rank 0, ..., in rank world_size - 1]``.

    Raises:
        LaunchError: naming the first rank that raised, with its error and traceback, or after
            ``timeout_s`` (a rank that waits for a collective the others never call); every
            process is stopped either way.
    """
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        raise LaunchError("run_in_processes needs the 'fork' start method (Linux, Colab); elsewhere "
                          "put the code in a script and use launch()")
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    with tempfile.TemporaryDirectory(prefix="gloo-") as folder:
        store = os.path.join(folder, "store")
        procs = [context.Process(target=_rank_main, args=(fn, r, world_size, store, args, results),
                                 daemon=True) for r in range(world_size)]
        for proc in procs:
            proc.start()
        outputs: dict[int, Any] = {}
        deadline = time.perf_counter() + timeout_s
        try:
            while len(outputs) < world_size:
                try:
                    when, rank, status, value = results.get(timeout=max(deadline - time.perf_counter(), 0.01))
                except queue.Empty:
                    missing = sorted(set(range(world_size)) - set(outputs))
                    raise LaunchError(f"ranks {missing} did not finish within {timeout_s:g} s (a collective "
                                      "that not every rank calls waits forever); every process was stopped"
                                      ) from None
                if status == "error":
                    rank, error = _first_error(results, when, rank, value)
                    raise LaunchError(f"rank {rank} of {world_size} failed: {error}", rank=rank)
                outputs[rank] = pickle.loads(value)
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
                proc.join()
    return [outputs[r] for r in range(world_size)]
