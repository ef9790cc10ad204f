"""Reproducibility in one call.

Committed notebook outputs are checked in CI (strict nbval), so every notebook starts with
``seed_everything()``: the same seed, the same thread count, the same numbers. :func:`rng_state`
and :func:`set_rng_state` save and restore every generator's state (checkpoints use them).
On a GPU some kernels stay non-deterministic; ``deterministic=True`` asks PyTorch to use
deterministic ones where they exist and warn where they do not (lesson 07 explains the limits).
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

DEFAULT_SEED = 0
#: Environment variable that sets the thread count when ``seed_everything`` is not given one.
THREADS_VARIABLE = "DLCOURSE_THREADS"


def default_threads() -> int:
    """CPU threads for ``seed_everything``: ``$DLCOURSE_THREADS`` if set, else 1.

    One thread gives the same summation order on every run; the test suite also runs the lessons
    with two threads (``make notebooks NUMERICS=threads2``) to prove their outputs do not depend on it.
    """
    value = os.environ.get(THREADS_VARIABLE, "1")
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"{THREADS_VARIABLE} must be a whole number of threads, got {value!r}") from None
    if threads < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be at least 1, got {threads}")
    return threads


def seed_everything(
    seed: int = DEFAULT_SEED, threads: int | None | str = "env", deterministic: bool = True
) -> np.random.Generator:
    """Seed Python, NumPy and torch, and fix the number of CPU threads.

    Args:
        seed: the seed for ``random``, NumPy's global generator and torch (CPU and all GPUs).
        threads: CPU threads for torch and for NumPy's BLAS; ``None`` leaves them as they are;
            ``"env"`` (the default) takes :func:`default_threads`, which is 1 unless
            ``$DLCOURSE_THREADS`` says otherwise. One thread makes floating-point sums run in the
            same order every time.
        deterministic: ask torch for deterministic algorithms (``warn_only``, so nothing breaks).

    Returns:
        A fresh ``numpy.random.Generator`` seeded with ``seed``: the preferred way to draw
        random numbers in new code (``rng.normal(size=(3, 2))``).
    """
    import torch

    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- learners' and libraries' legacy np.random calls
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses such as DataLoader workers
    if threads == "env":
        threads = default_threads()
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be at least 1 (or None), got {threads}")
        torch.set_num_threads(threads)
        threadpool_limits(limits=threads)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return np.random.default_rng(seed)


def as_generator(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """The course's one default for random generators: nothing draws from unseeded state.

    Every function of ``dlcourse`` that takes ``rng=None`` passes it through here: ``None`` gives
    ``np.random.default_rng(DEFAULT_SEED)`` (the same numbers on every call, like
    :func:`seed_everything`'s default), an int gives ``default_rng(rng)``, and a ``Generator`` is
    returned as it is (its state moves on as you draw from it).
    """
    if rng is None:
        return np.random.default_rng(DEFAULT_SEED)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator, a non-negative int seed or None, got {rng!r}; "
                     "create one with np.random.default_rng(seed).")


def rng_state() -> dict[str, Any]:
    """Return the state of every random generator a run draws from: Python's, NumPy's global
    generator, torch's CPU generator and, where there is one, every CUDA device's.

    A checkpoint stores it (:func:`dlcourse.pytorch.training.save_checkpoint`), so that a resumed run
    shuffles and drops out exactly as the uninterrupted one would have.
    """
    import torch

    state = {"python": random.getstate(),
             "numpy": np.random.get_state(),  # noqa: NPY002 -- the legacy global generator
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (the CUDA generators only where CUDA is available).

    The states may have been loaded onto a GPU (``torch.load(..., map_location="cuda")``, as a
    checkpoint resumed on a GPU is): torch takes them as CPU byte tensors, so they are moved back.
    """
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
