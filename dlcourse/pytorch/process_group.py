"""A few forked processes joined in a ``gloo`` group, for small experiments inside a notebook.

``torchrun`` (:func:`dlcourse.pytorch.launch.launch`) starts every worker from a script's first
line. For an experiment of a few lines, :func:`run_in_processes` instead *forks* the running
kernel into ``world_size`` processes on the CPU (Linux and Colab: it needs the ``fork`` start
method), so a function defined in the notebook runs in each of them with ``torch.distributed``
ready, and returns what each computed. Exercise 14 runs the learner's gradient averaging this way.

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
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from dlcourse.pytorch.launch import LaunchError

__all__ = ["run_in_processes"]


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
