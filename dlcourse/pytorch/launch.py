"""Launching a ``torchrun`` job from a notebook, and the choices every distributed script makes.

A notebook cannot host the worker processes of ``torch.distributed`` itself: each worker is a
Python process that runs a script from its first line. :func:`launch` starts ``torchrun`` (as
``python -m torch.distributed.run``, so the workers use this Python), streams what the workers
print, stops the whole job after ``timeout_s`` instead of hanging, and when a rank fails raises a
:class:`LaunchError` that names the rank and shows its error and traceback (the script wraps its
``main`` in ``torch.distributed.elastic.multiprocessing.errors.record``, which writes them to a
file that torchrun names for each rank).

The choices a script makes from the device (lesson 14's ``notebooks/scripts/ddp_train.py``):

- :func:`gpu_per_process`: whether every process can have a GPU of its own (two GPUs or more);
- :func:`processes_for`: one process per GPU if so, else two processes on the CPU;
- :func:`backend_for`: ``nccl`` between those GPUs, else ``gloo``;
- :func:`process_device`: the GPU of a process (``cuda:LOCAL_RANK``), made current, else the CPU.

With one GPU (Colab) or none (a laptop, a Mac's ``mps``), a two-process job runs on the CPU with
``gloo``: two processes cannot share one GPU under ``nccl``, and ``gloo`` has no ``mps`` tensors.

The workers' ``gloo`` connections stay on this machine's loopback interface
(:func:`loopback_interface`: ``lo`` on Linux, ``lo0`` on macOS), so no firewall or network is
involved; where none is found (Windows), gloo uses the address of the machine's name.

For small experiments inside a notebook, :func:`dlcourse.pytorch.process_group.run_in_processes`
starts a few ``gloo`` processes from the kernel instead (exercise 14).

>>> import torch
>>> backend_for(torch.device("cpu")), processes_for(torch.device("cpu"))
('gloo', 2)
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["LAUNCH_CLOCK_ENV", "LaunchError", "LaunchResult", "backend_for", "course_script",
           "gpu_per_process", "launch", "loopback_env", "loopback_interface", "process_device",
           "processes_for", "torchrun_command"]

#: The launcher puts its start time (``time.time()``) here, so a script can measure the launch overhead.
LAUNCH_CLOCK_ENV = "DLCOURSE_LAUNCH_CLOCK"
#: Lines of torchrun's and the backends' own logging, left out of the streamed output (kept in
#: :attr:`LaunchResult.output`): ``W1126 04:40:00.123 ...`` log records, ``[Gloo]`` connection notes.
NOISE = re.compile(r"^\s*(\[?[WIEF]\d{4} \d\d:\d\d:\d\d|\[Gloo\]|\*{5}|\[rank\d+\]:\[[WIEF]\d{4})")


#: Where the course keeps the scripts its lessons launch (in the repository, next to the lessons).
SCRIPTS = Path(__file__).resolve().parents[2] / "notebooks" / "scripts"


def course_script(name: str) -> Path:
    """The path of one of the course's scripts, ``notebooks/scripts/NAME``, from any working directory.

    Works wherever the course is installed from its repository (``make lab``, or Colab's setup cell,
    which installs it in editable mode), whatever folder the notebook runs in.
    """
    path = SCRIPTS / name
    if not path.is_file():
        raise FileNotFoundError(f"no course script {name!r} in {SCRIPTS}: install the course from its "
                                "repository (pip install -e .), as `make lab` and the setup cell do")
    return path


def gpu_per_process(device: torch.device) -> bool:
    """Whether each of the (at least two) worker processes gets a CUDA GPU of its own."""
    return device.type == "cuda" and torch.cuda.device_count() >= 2


def processes_for(device: torch.device) -> int:
    """Worker processes for one machine: one per GPU when there are two or more, else 2 on the CPU."""
    return torch.cuda.device_count() if gpu_per_process(device) else 2


def backend_for(device: torch.device) -> str:
    """The ``torch.distributed`` backend: ``nccl`` when each process has its own GPU, else ``gloo``."""
    return "nccl" if gpu_per_process(device) else "gloo"


def process_device(device: torch.device, local_rank: int) -> torch.device:
    """The device of the process with ``local_rank``: ``cuda:local_rank`` (made current), else the CPU."""
    if not gpu_per_process(device):
        return torch.device("cpu")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


#: The names of the loopback interface: Linux's, then macOS's and the BSDs'.
LOOPBACK_NAMES = ("lo", "lo0")


def loopback_interface() -> str | None:
    """The name of this machine's loopback interface for ``GLOO_SOCKET_IFNAME``, or None.

    ``lo`` on Linux, ``lo0`` on macOS, read from the machine's interfaces; None where neither exists
    (Windows names its interfaces otherwise): then leave the variable unset.
    """
    try:
        names = {name for _, name in socket.if_nameindex()}
    except (OSError, AttributeError):  # no interface list on this system
        return None
    return next((name for name in LOOPBACK_NAMES if name in names), None)


def loopback_env() -> dict[str, str]:
    """``{"GLOO_SOCKET_IFNAME": loopback}`` unless it is set already or no loopback is found."""
    loopback = loopback_interface()
    if "GLOO_SOCKET_IFNAME" in os.environ or loopback is None:
        return {}
    return {"GLOO_SOCKET_IFNAME": loopback}


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
        nproc: worker processes on this machine (:func:`processes_for` chooses them).
        timeout_s: stop the whole job (every process) after this many seconds and raise.
        echo: print the workers' lines as they come (torchrun's own log records are left out).
        env: extra environment variables; ``OMP_NUM_THREADS`` defaults to 1 thread per worker, and
            ``GLOO_SOCKET_IFNAME`` to the loopback interface (:func:`loopback_interface`).
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
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", **loopback_env(), **(env or {}),
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

