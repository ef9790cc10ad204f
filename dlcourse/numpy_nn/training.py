"""A mini-batch training loop for the NumPy network (lesson 05), with a progress bar and a history.

::

    model = mlp([64, 128, 10], rng=rng)
    history = train(model, Adam(model.params(), lr=1e-3), X_train, y_train,
                    epochs=20, batch_size=32, rng=rng, X_val=X_test, y_val=y_test)
    history.loss[-1], history.val_accuracy[-1]

Shapes: ``X`` is ``(N, d)``, one example per row; ``y`` is whatever the loss takes (integer
labels ``(N,)`` for :func:`dlcourse.numpy_nn.losses.softmax_cross_entropy`, the default).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from dlcourse.env.progress import progress
from dlcourse.numpy_nn.losses import softmax_cross_entropy
from dlcourse.numpy_nn.optimizers import Optimizer

__all__ = ["History", "minibatches", "predict", "accuracy", "train"]


@dataclass
class History:
    """What :func:`train` measured, one entry per epoch (``batch_loss``: one per step)."""

    loss: list[float] = field(default_factory=list)            # mean training loss of the epoch
    train_accuracy: list[float] = field(default_factory=list)  # on the whole training set, after the epoch
    val_accuracy: list[float] = field(default_factory=list)    # empty when no validation set is given
    batch_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Yield index arrays that split ``range(n)`` into batches of ``batch_size`` (the last may be
    smaller), in a random order drawn from ``rng`` (in order when ``rng`` is None)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def predict(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Class predictions ``argmax(model.forward(X), axis=1)``: ``(N, d)`` -> ``(N,)`` integers."""
    return np.concatenate([model.forward(X[i:i + batch_size]).argmax(axis=1)
                           for i in range(0, len(X), batch_size)])


def accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of ``X`` whose predicted class equals the label in ``y`` ``(N,)``."""
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels.")
    return float(np.mean(predict(model, X) == y))


def train(model, optimizer: Optimizer, X: np.ndarray, y: np.ndarray, *, epochs: int = 10,
          batch_size: int = 32, rng: np.random.Generator | None = None,
          loss_fn: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]] = softmax_cross_entropy,
          X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
          show_progress: bool = True, desc: str = "training", measure_accuracy: bool = True) -> History:
    """Train ``model`` with mini-batch gradient steps and return its :class:`History`.

    Each epoch visits every row of ``X`` once, in a fresh random order from ``rng``: forward,
    ``loss_fn``, backward, ``optimizer.step(model.grads())``. After each epoch the training and
    (when given) validation accuracy are measured, unless ``measure_accuracy`` is False
    (for example for a regression loss).
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} targets; they must match.")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither.")
    rng = np.random.default_rng(0) if rng is None else rng
    history = History()
    epochs_bar = progress(range(epochs), desc=desc, disable=not show_progress)
    for _ in epochs_bar:
        start = time.perf_counter()
        total, count = 0.0, 0
        for idx in minibatches(len(X), batch_size, rng):
            loss, grad = loss_fn(model.forward(X[idx]), y[idx])
            model.backward(grad)
            optimizer.step(model.grads())
            history.batch_loss.append(loss)
            total += loss * len(idx)
            count += len(idx)
        history.epoch_seconds.append(time.perf_counter() - start)
        history.loss.append(total / count)
        postfix = {"loss": f"{history.loss[-1]:.4f}"}
        if measure_accuracy:
            history.train_accuracy.append(accuracy(model, X, y))
            if X_val is not None:
                history.val_accuracy.append(accuracy(model, X_val, y_val))
                postfix["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
        epochs_bar.set_postfix(postfix)
    return history
