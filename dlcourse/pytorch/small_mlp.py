"""A small MLP on a small task that overfits on a CPU in a second (lesson 08; lesson 12 reuses it).

The task: Fashion-MNIST images from the committed subset, shrunk to 14x14 by averaging 2x2
blocks (196 inputs), a few hundred training images and 1,000 validation images, and an MLP far
larger than that little data needs. :func:`train_mlp` trains one configuration with the course's
:func:`dlcourse.pytorch.training.fit`; :func:`sweep` trains a grid of widths and L2 strengths once
(lesson 08's :class:`dlcourse.demos.overfit_explorer.OverfitExplorer` only looks results up in it).

The L2 penalty is the cost ``C = L + (lam / N) * sum_l ||W_l||^2`` (weights only, not biases; ``L``
the mean cross-entropy, ``N`` the number of training examples). Its gradient adds
``(2 lam / N) W_l``, which is exactly what PyTorch's ``weight_decay=2 * lam / N`` adds to the
gradient of ``W_l`` (:func:`l2_param_groups`). Under Adam that term is then divided by the running
gradient scale like the rest of the gradient, so it is not a uniform decay of the weights;
``decay=`` trains with :class:`torch.optim.AdamW` instead, whose *decoupled* weight decay shrinks
every weight matrix by the factor ``1 - lr * decay`` at each step, outside the adaptive update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dlcourse.data.fashion_mnist import load_fashion_mnist
from dlcourse.pytorch.augment import AugmentedBatches
from dlcourse.pytorch.training import EarlyStopping, History, TensorBatches, evaluate, fit

__all__ = ["OverfitData", "load_overfit_data", "load_overfit_test", "make_mlp", "l2_param_groups",
           "train_mlp", "SweepResult", "sweep"]

SIDE = 14  #: images are shrunk to SIDE x SIDE pixels


@dataclass
class OverfitData:
    """Training pool and validation set, float32 ``(N, 196)`` inputs in [0, 1], int64 labels ``(N,)``.

    The training pool holds every image not used for validation; a run takes its first ``n``.
    The test split is not here: it is touched once, at the very end of the lesson.
    """

    x_pool: torch.Tensor
    y_pool: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor

    def train_batches(self, n: int, batch_size: int = 50) -> TensorBatches:
        """Shuffled mini-batches of the first ``n`` images of the pool."""
        if not 1 <= n <= len(self.y_pool):
            raise ValueError(f"n must be between 1 and {len(self.y_pool)} (the pool size), got {n}.")
        return TensorBatches(self.x_pool[:n], self.y_pool[:n], batch_size, shuffle=True)

    def val_batches(self) -> TensorBatches:
        """The validation set in one batch."""
        return TensorBatches(self.x_val, self.y_val, len(self.y_val))


def shrink(images: np.ndarray) -> torch.Tensor:
    """uint8 images ``(N, 28, 28)`` -> float32 ``(N, 196)``: 2x2 block means, scaled to [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected images of shape (N, 28, 28), got {images.shape}.")
    x = torch.from_numpy(images).float().div(255.0).unsqueeze(1)
    return nn.functional.avg_pool2d(x, 2).reshape(len(images), SIDE * SIDE)


def load_overfit_data(n_val: int = 1000, seed: int = 0) -> OverfitData:
    """Split the committed Fashion-MNIST training subset (6,000 images) into pool and validation.

    The order is a permutation drawn from ``default_rng(seed)``; the first ``n_val`` images are
    the validation set.
    """
    split = load_fashion_mnist("train")
    if not 1 <= n_val < len(split):
        raise ValueError(f"n_val must be between 1 and {len(split) - 1}, got {n_val}.")
    order = np.random.default_rng(seed).permutation(len(split))
    x, y = shrink(split.images[order]), torch.from_numpy(split.labels[order].astype(np.int64))
    return OverfitData(x[n_val:], y[n_val:], x[:n_val], y[:n_val])


def load_overfit_test() -> tuple[torch.Tensor, torch.Tensor]:
    """The committed subset's 2,000 test images, shrunk as :func:`load_overfit_data` shrinks the
    training images: ``x (2000, 196)`` float32 in [0, 1], ``y (2000,)`` int64.

    Touched once, at the very end (exercise 08's grader measures a trained model on it).
    """
    split = load_fashion_mnist("test")
    return shrink(split.images), torch.from_numpy(split.labels.astype(np.int64))


def make_mlp(width: int, depth: int = 2, dropout: float = 0.0, n_in: int = SIDE * SIDE,
             n_out: int = 10) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` ReLU units, each followed by ``nn.Dropout(dropout)``.

    Maps ``(B, n_in)`` to logits ``(B, n_out)``. Weights come from torch's global generator.
    """
    if width < 1 or depth < 1:
        raise ValueError(f"width and depth must be at least 1, got width={width}, depth={depth}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout is a probability in [0, 1), got {dropout}.")
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def l2_param_groups(model: nn.Module, lam: float, n: int) -> list[dict]:
    """Optimizer parameter groups for the cost ``L + (lam / n) * sum ||W||^2``.

    Weights (parameters with two or more dimensions) get ``weight_decay = 2 * lam / n``; biases get 0.
    Pass the result to ``torch.optim.Adam(groups, lr=...)`` or ``SGD``.
    """
    if lam < 0 or n < 1:
        raise ValueError(f"need lam >= 0 and n >= 1 (the number of training examples); got {lam}, {n}.")
    weights = [p for p in model.parameters() if p.ndim >= 2]
    others = [p for p in model.parameters() if p.ndim < 2]
    return [{"params": weights, "weight_decay": 2.0 * lam / n}, {"params": others, "weight_decay": 0.0}]


def train_mlp(data: OverfitData, n_train: int = 300, *, width: int = 256, depth: int = 2,
              dropout: float = 0.0, lam: float = 0.0, epochs: int = 100, lr: float = 1e-3,
              augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
              early_stopping: EarlyStopping | None = None, seed: int = 0,
              decay: float = 0.0) -> tuple[nn.Module, History]:
    """Train a fresh :func:`make_mlp` with Adam on the first ``n_train`` pool images.

    Mini-batches of 50, cross-entropy, the L2 penalty of strength ``lam`` (see module docstring),
    validation after every epoch. ``decay > 0`` uses AdamW with decoupled weight decay ``decay`` on
    the weight matrices (biases are not decayed) instead of an L2 penalty; the two exclude each
    other. ``seed`` seeds torch before the weights are drawn, so two calls with the same arguments
    give the same model. Returns the model (in eval mode) and its history.
    """
    if decay < 0 or (decay > 0 and lam > 0):
        raise ValueError(f"decay must be >= 0 and cannot be combined with lam > 0; got decay={decay}, "
                         f"lam={lam}.")
    torch.manual_seed(seed)
    model = make_mlp(width, depth, dropout)
    if decay > 0:
        groups = l2_param_groups(model, 0.0, n_train)
        groups[0]["weight_decay"] = decay
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=lr)
    else:
        optimizer = torch.optim.Adam(l2_param_groups(model, lam, n_train), lr=lr)
    batches = data.train_batches(n_train)
    train = AugmentedBatches(batches, augment) if augment is not None else batches
    history = fit(model, optimizer, train, data.val_batches(), epochs=epochs,
                  early_stopping=early_stopping, verbose=False, progress_bar=False)
    model.eval()
    return model, history


@dataclass(frozen=True)
class SweepResult:
    """Final accuracies of one trained configuration (fractions in [0, 1])."""

    train_acc: float
    val_acc: float
    val_loss: float


def sweep(data: OverfitData, widths: Sequence[int], lams: Sequence[float], n_train: int = 300,
          epochs: int = 60) -> dict[tuple[int, float], SweepResult]:
    """Train every (width, lam) pair once; return ``{(width, lam): SweepResult}``.

    Accuracies are measured after the last epoch, in eval mode, on the whole training subset
    and the validation set.
    """
    results = {}
    for width in widths:
        for lam in lams:
            model, _ = train_mlp(data, n_train, width=int(width), lam=float(lam), epochs=epochs)
            train = evaluate(model, TensorBatches(data.x_pool[:n_train], data.y_pool[:n_train], n_train))
            val = evaluate(model, data.val_batches())
            results[(int(width), float(lam))] = SweepResult(train["acc"], val["acc"], val["loss"])
    return results
