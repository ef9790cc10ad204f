"""scikit-learn's handwritten digits, split as the course's lessons and exercise 05 split them.

The 1,797 images of 8x8 pixels ship with scikit-learn (``sklearn.datasets.load_digits``; see
``data/README.md``). :func:`digits_split` is the one definition of the split that exercise 05
trains on and its model task (:mod:`dlcourse.model_tasks.digits_mlp`) measures on: pixel values
scaled to [0, 1], a stratified quarter held out for testing.

>>> split = digits_split()
>>> split.X_train.shape, split.X_test.shape
((1347, 64), (450, 64))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["DigitsSplit", "digits_split"]


class DigitsSplit(NamedTuple):
    """``X_*`` ``(N, 64)`` float64 pixel values in [0, 1]; ``y_*`` ``(N,)`` int labels 0-9."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def digits_split(test_size: float = 0.25, seed: int = 0) -> DigitsSplit:
    """The digits, pixels scaled to [0, 1] (``X / 16``), with a stratified ``test_size`` held out
    (``train_test_split(..., stratify=y, random_state=seed)``): 1,347 training and 450 test
    images by default."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return DigitsSplit(*train_test_split(X / 16.0, y, test_size=test_size, stratify=y,
                                         random_state=seed))
