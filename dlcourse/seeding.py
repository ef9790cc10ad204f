"""Reproducibility in one call.

Committed notebook outputs are checked in CI (strict nbval), so every notebook starts with
``seed_everything()``: the same seed, the same thread count, the same numbers.
On a GPU some kernels stay non-deterministic; ``deterministic=True`` asks PyTorch to use
deterministic ones where they exist and warn where they do not (lesson 07 explains the limits).
"""

from __future__ import annotations

import os
import random

import numpy as np
from threadpoolctl import threadpool_limits

DEFAULT_SEED = 0


def seed_everything(
    seed: int = DEFAULT_SEED, threads: int | None = 1, deterministic: bool = True
) -> np.random.Generator:
    """Seed Python, NumPy and torch, and fix the number of CPU threads.

    Args:
        seed: the seed for ``random``, NumPy's global generator and torch (CPU and all GPUs).
        threads: CPU threads for torch and for NumPy's BLAS; ``None`` leaves them as they are.
            One thread makes floating-point sums run in the same order every time.
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
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1 (or None), got {threads}")
        torch.set_num_threads(threads)
        threadpool_limits(limits=threads)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return np.random.default_rng(seed)
