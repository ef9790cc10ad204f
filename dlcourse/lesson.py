"""The start of every lesson: one call that seeds, fixes the threads and sets the figure style."""

from __future__ import annotations

import numpy as np

from dlcourse.env.seeding import DEFAULT_SEED, seed_everything
from dlcourse.plots.style import use_course_style

__all__ = ["start"]


def start(seed: int = DEFAULT_SEED, threads: int | None | str = "env") -> np.random.Generator:
    """Start a lesson: seed every generator, fix the CPU threads, apply the course's figure style.

    Args:
        seed: the seed for Python, NumPy and torch (:func:`dlcourse.env.seeding.seed_everything`).
        threads: CPU threads for torch and BLAS; ``"env"`` (the default) is 1 unless
            ``$DLCOURSE_THREADS`` says otherwise, so that sums run in the same order every time.

    Returns:
        NumPy's seeded default generator, for the lesson's own random numbers.
    """
    rng = seed_everything(seed, threads=threads)
    use_course_style()
    return rng
