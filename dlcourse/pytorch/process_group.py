"""A few processes joined in a ``gloo`` group, for small experiments inside a notebook.

``torchrun`` (:func:`dlcourse.pytorch.launch.launch`) starts every worker from a script's first
line. For an experiment of a few lines, :func:`run_in_processes` instead starts ``world_size``
processes from the running kernel, on the CPU, so a function defined in the notebook runs in each
of them with ``torch.distributed`` ready, and returns what each computed. Exercise 14 runs the
learner's gradient averaging this way. How the processes start (:func:`start_method`):

- on Linux (Colab too) they are *forked*: copies of the kernel, with everything it defined;
- on macOS (where forking a process that has loaded Apple's system libraries can crash it) and on
  Windows (which cannot fork) they are *spawned*: fresh Pythons that import torch, to which ``fn``
  and its arguments are sent *by value* with ``cloudpickle`` (a function defined in a notebook
  cannot be imported by name from another process, as plain ``pickle`` would need).

Their ``gloo`` connections stay on the loopback interface
(:func:`dlcourse.pytorch.launch.loopback_interface`), and they meet through a file.

Joining the group can fail for a reason outside the run: two groups set up at the same time on one
machine (two notebooks, two test workers) can meet each other's TCP connections when the system
reuses a port, and gloo then reports "connectFullMesh failed ... Connection closed by peer" (about
1 set-up in 200 with two busy groups side by side, none alone). So a failure *while joining*, before
``fn`` has run in any process, starts the processes again, up to :data:`SETUP_ATTEMPTS` times; an
error raised by ``fn`` is never retried.

>>> def rank_plus_one(rank, world_size):
...     t = torch.tensor([rank + 1.0])
...     dist.all_reduce(t)
...     return t.item()
>>> run_in_processes(rank_plus_one, 2)
[3.0, 3.0]
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

import cloudpickle
import torch
import torch.distributed as dist

from dlcourse.pytorch.launch import LaunchError, loopback_env

__all__ = ["SETUP_ATTEMPTS", "START_METHOD_ENV", "run_in_processes", "start_method"]

#: How many times the processes are started when joining the gloo group fails (see above).
SETUP_ATTEMPTS = 3
#: Set to ``fork`` or ``spawn`` to choose how the processes start (tests run the spawn path on Linux).
START_METHOD_ENV = "DLCOURSE_START_METHOD"


def start_method() -> str:
    """How :func:`run_in_processes` starts its processes: ``fork`` on Linux, else ``spawn``.

    ``$DLCOURSE_START_METHOD`` overrides it. ``fork`` only where the system has it and it is safe:
    not on Windows (no ``fork``) nor on macOS (Python's own default there is ``spawn``).
    """
    chosen = os.environ.get(START_METHOD_ENV)
    if chosen is None:
        forks = "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"
        chosen = "fork" if forks else "spawn"
    if chosen not in ("fork", "spawn"):
        raise ValueError(f"${START_METHOD_ENV}={chosen!r}: choose 'fork' or 'spawn'")
    return chosen


def _rank_main(task: bytes, rank: int, world_size: int, store_path: str, results) -> None:
    """One process: join the gloo group through a file store, run the task ``(fn, args)``, report back.

    Reports ``"setup-error"`` for a failure to join the group, ``"error"`` for one raised by ``fn``
    (or by unpickling it).
    """
    status = "error"
    try:
        fn, args = pickle.loads(task)
        status = "setup-error"
        os.environ.update(loopback_env())  # gloo's connections stay on this machine
        torch.set_num_threads(1)
        store = dist.FileStore(store_path, world_size)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size)
        status = "error"
        value = fn(rank, world_size, *args)
    except BaseException as err:
        results.put((time.time(), rank, status, f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
        return
    # Plain pickle: a tensor put on the queue as it is would travel as a handle to this process's
    # shared memory, which dies with the process.
    results.put((time.time(), rank, "ok", pickle.dumps(value)))
    dist.destroy_process_group()


def _first_error(results, when: float, rank: int, status: str, error: str) -> tuple[int, str, str]:
    """The earliest error, ``(rank, status, text)``: the other ranks usually fail a moment after the cause."""
    errors = [(when, rank, status, error)]
    grace = time.perf_counter() + 1.0
    while time.perf_counter() < grace:
        try:
            when, other, status, value = results.get(timeout=0.1)
        except queue.Empty:
            continue
        if status != "ok":
            errors.append((when, other, status, value))
    _, rank, status, text = min(errors)
    return rank, status, text


class _SetupFailed(Exception):
    """A rank could not join the gloo group: ``fn`` has not run in it."""

    def __init__(self, rank: int, error: str) -> None:
        super().__init__(error)
        self.rank, self.error = rank, error


def run_in_processes(fn: Callable[..., Any], world_size: int, *args: Any,
                     timeout_s: float = 60) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` processes joined by ``gloo``.

    ``fn`` may be defined in a notebook: forked processes are copies of the kernel, and spawned
    ones receive ``fn`` by value (:func:`start_method`). It can call ``torch.distributed``
    collectives (the process group is initialised) and returns a picklable value, such as a
    ``state_dict`` of CPU tensors.

    Returns:
        ``[fn's result in rank 0, ..., in rank world_size - 1]``.

    Raises:
        LaunchError: naming the first rank that raised, with its error and traceback, or after
            ``timeout_s`` (a rank that waits for a collective the others never call); every
            process is stopped either way; or when a rank could not join the gloo group in
            :data:`SETUP_ATTEMPTS` starts.
    """
    # By value: the same bytes work in a forked and in a spawned process.
    task = cloudpickle.dumps((fn, args))
    attempt = 1
    while True:
        try:
            return _run_once(task, world_size, timeout_s)
        except _SetupFailed as failed:
            if attempt == SETUP_ATTEMPTS:
                raise LaunchError(f"rank {failed.rank} of {world_size} could not join the gloo group "
                                  f"({SETUP_ATTEMPTS} attempts): {failed.error}", rank=failed.rank) from None
            attempt += 1


def _run_once(task: bytes, world_size: int, timeout_s: float) -> list[Any]:
    """One start of the processes; raises :class:`_SetupFailed` if a rank could not join the group."""
    context = multiprocessing.get_context(start_method())
    results = context.Queue()
    with tempfile.TemporaryDirectory(prefix="gloo-") as folder:
        store = os.path.join(folder, "store")
        procs = [context.Process(target=_rank_main, args=(task, r, world_size, store, results),
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
                if status != "ok":
                    rank, status, error = _first_error(results, when, rank, status, value)
                    if status == "setup-error":
                        raise _SetupFailed(rank, error)
                    raise LaunchError(f"rank {rank} of {world_size} failed: {error}", rank=rank)
                outputs[rank] = pickle.loads(value)
        finally:
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
                proc.join()
    return [outputs[r] for r in range(world_size)]
