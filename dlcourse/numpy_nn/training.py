"""A mini-batch training loop for the NumPy network (lesson 05), with a progress bar and a history.

::

    model = mlp([64, 128, 10], rng=rng)
    history = train(model, Adam(model.params(), lr=1e-3), X_train, y_train,
                    epochs=20, batch_size=32, rng=rng, X_val=X_val, y_val=y_val)
    history["train_loss"][-1], history["val_acc"][-1]

Shapes: ``X`` is ``(N, d)``, one example per row; ``y`` is whatever the loss takes (integer
labels ``(N,)`` for :func:`dlcourse.numpy_nn.losses.softmax_cross_entropy`, the default).

The history speaks the course's one vocabulary, the same as PyTorch's
:class:`dlcourse.pytorch.training.History`: ``epoch``, ``train_loss``, ``train_acc``,
``val_loss``, ``val_acc``, ``seconds`` (and ``batch_loss``, one per step), each readable as
``history["val_acc"]`` or ``history.val_acc``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from dlcourse.env.progress import progress
from dlcourse.env.seeding import as_generator
from dlcourse.numpy_nn.losses import softmax_cross_entropy
from dlcourse.numpy_nn.optimizers import Optimizer

__all__ = ["History", "minibatches", "predict", "accuracy", "train"]


@dataclass
class History:
    """What :func:`train` measured, one entry per epoch (``batch_loss``: one per step).

    ``history["val_acc"]`` and ``history.val_acc`` are the same list; ``history["epoch"]`` is
    ``[1, 2, ..., len(history)]``. The keys are those of :class:`dlcourse.pytorch.training.History`.
    """

    train_loss: list[float] = field(default_factory=list)  # mean loss over the epoch's mini-batches
    train_acc: list[float] = field(default_factory=list)   # on the whole training set, after the epoch
    val_loss: list[float] = field(default_factory=list)    # after the epoch; empty without a validation set
    val_acc: list[float] = field(default_factory=list)     # after the epoch; empty without a validation set
    seconds: list[float] = field(default_factory=list)     # wall-clock time of the epoch's training steps
    batch_loss: list[float] = field(default_factory=list)  # one per optimiser step

    def __len__(self) -> int:
        return len(self.train_loss)

    def __getitem__(self, key: str) -> list[float]:
        if key == "epoch":
            return list(range(1, len(self) + 1))
        if key not in self.__dataclass_fields__:
            raise KeyError(f"no {key!r} in a history; the keys are 'epoch' and "
                           f"{', '.join(map(repr, self.__dataclass_fields__))}.")
        return getattr(self, key)


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


def _loss_and_accuracy(model, X: np.ndarray, y: np.ndarray, loss_fn, batch_size: int = 4096,
                       ) -> tuple[float, float]:
    """Mean loss and accuracy over ``(X, y)``, from one forward pass in the batches of :func:`predict`."""
    total, correct = 0.0, 0
    for i in range(0, len(X), batch_size):
        scores, targets = model.forward(X[i:i + batch_size]), y[i:i + batch_size]
        total += loss_fn(scores, targets)[0] * len(targets)
        correct += int((scores.argmax(axis=1) == targets).sum())
    return total / len(X), correct / len(X)


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
    (when given) validation loss and accuracy are measured; ``measure_accuracy=False`` skips
    the accuracies (for example for a regression loss) and keeps the validation loss.
    ``rng`` shuffles the rows; without one the loop draws from ``default_rng(DEFAULT_SEED)``,
    the course's one default (:func:`dlcourse.env.seeding.as_generator`).
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} targets; they must match.")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither.")
    rng = as_generator(rng)
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
        history.seconds.append(time.perf_counter() - start)
        history.train_loss.append(total / count)
        postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
        if measure_accuracy:
            history.train_acc.append(accuracy(model, X, y))
        if X_val is not None:
            val_loss, val_acc = _loss_and_accuracy(model, X_val, np.asarray(y_val), loss_fn)
            history.val_loss.append(val_loss)
            if measure_accuracy:
                history.val_acc.append(val_acc)
                postfix["val_acc"] = f"{val_acc:.3f}"
        epochs_bar.set_postfix(postfix)
    return history
