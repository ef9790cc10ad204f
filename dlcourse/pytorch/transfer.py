"""Transfer learning on Fashion-MNIST: pretrain on some classes, learn the others from few labels.

Lesson 09c's experiment, and exercise 09b's pretrained body:

- :func:`class_indices`, :func:`remap_labels`, :func:`sample_per_class`: choose examples by class,
  number the chosen classes ``0 .. k-1``, and draw exactly ``per_class`` labelled examples of each
  class with a seeded generator (never from the examples held out for validation);
- :func:`split_for_transfer`: the old classes to pretrain on, and the new classes' pool of
  (mostly unlabelled) training images, validation set and test set (:class:`TransferData`; the
  test set is optional: exercise 09b splits the training split alone); :func:`class_images`:
  one split's images of some classes, renumbered;
- :func:`make_body`: a small residual CNN without its classifier, built from
  :class:`dlcourse.pytorch.residual.ResidualBlock`, mapping images ``(B, 1, 28, 28)`` to features
  ``(B, F)``; :class:`TransferNet` puts a linear head on a body, and can freeze the body;
- :func:`pretrain`: train a body and a head on the old classes;
- :func:`train_new_task`: one of three contenders on the new classes' few labels, with the same
  number of optimiser steps: ``"scratch"`` (the same network, random weights), ``"features"``
  (feature extraction: the pretrained body frozen, a new head trained on its features) and
  ``"finetune"`` (every layer trained, the body with a learning rate ``body_lr_factor`` times the
  head's);
- :func:`fit_pixel_baseline`: what a practitioner tries first with a few labels and no network,
  logistic regression on the raw pixels (scikit-learn), the contender ``"pixels"``;
- :func:`compare_strategies`: the contenders over several seeds, each seed with its own draw of
  labelled examples (the same for every contender), validation and test accuracy per run.

A frozen body stays frozen: its parameters get ``requires_grad=False`` and :meth:`TransferNet.train`
keeps it in ``eval()`` mode, so batch normalisation neither normalises with the new batches'
statistics nor updates its running averages. Its parameters and buffers after training are the
pretrained ones, bit for bit (``tests/unit/test_transfer.py``).

Why one module of over 300 lines: it is one experiment, whose parts share its conventions (class
numbering, which examples are held out, the three strategies' names and equal step budgets), in
three short sections (choosing the data, the networks, training and comparing), much of it
docstring.

>>> import torch
>>> make_body()(torch.zeros(2, 1, 28, 28)).shape
torch.Size([2, 1568])
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from dlcourse.data.fashion_mnist import FashionMNIST
from dlcourse.env.seeding import as_generator
from dlcourse.pytorch.residual import ResidualBlock
from dlcourse.pytorch.training import History, TensorBatches, evaluate, fit, images_to_tensor

__all__ = ["OLD_CLASSES", "NEW_CLASSES", "STRATEGIES", "Strategy", "class_indices", "remap_labels",
           "sample_per_class", "class_images", "TransferData", "split_for_transfer", "make_body",
           "body_features", "TransferNet", "trainable_parameters", "pretrain", "new_task_model",
           "new_task_optimizer",
           "train_new_task", "PIXELS", "fit_pixel_baseline", "pixel_accuracy", "Comparison",
           "compare_strategies"]

#: The classes the body is pretrained on: T-shirt/top, Trouser, Pullover, Dress, Coat.
OLD_CLASSES = (0, 1, 2, 3, 4)
#: The classes learned afterwards from few labels: Sandal, Shirt, Sneaker, Bag, Ankle boot.
NEW_CLASSES = (5, 6, 7, 8, 9)

Strategy = Literal["scratch", "features", "finetune"]
#: The three ways to learn the new classes, in the order the lesson compares them.
STRATEGIES: tuple[Strategy, ...] = ("scratch", "features", "finetune")
#: The baseline without a network: logistic regression on the pixels (:func:`fit_pixel_baseline`).
PIXELS = "pixels"


# ------------------------------------------------------------------------------------------------
# Choosing examples by class


def _check_classes(classes: Sequence[int]) -> tuple[int, ...]:
    classes = tuple(int(c) for c in classes)
    if not classes:
        raise ValueError("classes is empty: name at least one class label, e.g. (5, 6, 7, 8, 9)")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must not repeat a label, got {classes}")
    return classes


def class_indices(labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Return the indices ``i`` (ascending, int64 ``(M,)``) with ``labels[i]`` in ``classes``.

    Args:
        labels: integer class labels ``(N,)``.
        classes: the labels to keep.
    """
    classes = _check_classes(classes)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class labels, got shape {labels.shape}")
    return np.flatnonzero(np.isin(labels, classes)).astype(np.int64)


def remap_labels(labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Number the chosen classes ``0 .. k-1``: label ``classes[j]`` becomes ``j`` (int64 ``(N,)``).

    A network for the new task has ``k`` outputs, and cross-entropy wants targets ``0 .. k-1``.

    Raises:
        ValueError: when a label is not one of ``classes`` (select the examples first with
            :func:`class_indices`).
    """
    classes = _check_classes(classes)
    labels = np.asarray(labels)
    lookup = np.full(max(max(classes), int(labels.max(initial=0))) + 1, -1, dtype=np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    if labels.size and (labels.min() < 0 or np.any(lookup[labels] < 0)):
        stray = sorted(set(labels.tolist()) - set(classes))
        raise ValueError(f"labels {stray} are not among classes {classes}: select the examples of these "
                         "classes first (class_indices)")
    return lookup[labels]


def sample_per_class(labels: np.ndarray, classes: Sequence[int], per_class: int,
                     rng: np.random.Generator | int | None = None,
                     exclude: np.ndarray | None = None) -> np.ndarray:
    """Draw exactly ``per_class`` example indices of each class, without replacement.

    Args:
        labels: integer class labels ``(N,)``.
        classes: the classes to draw from.
        per_class: examples per class (at least 1).
        rng: a NumPy generator or a seed (:func:`dlcourse.env.seeding.as_generator`).
        exclude: indices never to draw (for instance the validation set).

    Returns:
        int64 indices ``(len(classes) * per_class,)``, ascending.
    """
    classes = _check_classes(classes)
    if int(per_class) != per_class or per_class < 1:
        raise ValueError(f"per_class must be a whole number of examples, at least 1, got {per_class!r}")
    rng = as_generator(rng)
    labels = np.asarray(labels)
    allowed = np.ones(len(labels), dtype=bool)
    if exclude is not None:
        allowed[np.asarray(exclude, dtype=np.int64)] = False
    chosen = []
    for c in classes:
        candidates = np.flatnonzero((labels == c) & allowed)
        if len(candidates) < per_class:
            raise ValueError(f"class {c} has {len(candidates)} examples to draw from, fewer than "
                             f"per_class={per_class}: ask for fewer")
        chosen.append(rng.choice(candidates, size=int(per_class), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


@dataclass
class TransferData:
    """The data of a transfer experiment: images float32 ``(N, 1, 28, 28)`` in [0, 1], labels int64 ``(N,)``.

    Labels are renumbered within each task: the old classes ``0 .. k_old-1``, the new ``0 .. k_new-1``.

    Attributes:
        old_classes, new_classes: the original Fashion-MNIST labels of each task.
        pretrain_x, pretrain_y: every training image of the old classes.
        old_test_x, old_test_y: the test images of the old classes (``None`` when the split was
            made without the test split).
        pool_x, pool_y: the new classes' training images that are not in validation; labelled
            examples are drawn from here (:meth:`few_labels`).
        val_x, val_y: ``val_per_class`` training images of each new class, for choices.
        test_x, test_y: the test images of the new classes, for the final report (``None``
            without the test split: exercise 09b's grader measures on them itself).
    """

    old_classes: tuple[int, ...]
    new_classes: tuple[int, ...]
    pretrain_x: torch.Tensor
    pretrain_y: torch.Tensor
    old_test_x: torch.Tensor | None
    old_test_y: torch.Tensor | None
    pool_x: torch.Tensor
    pool_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor | None
    test_y: torch.Tensor | None

    def few_labels(self, per_class: int, rng: np.random.Generator | int | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """``per_class`` labelled examples of each new class, drawn from the pool.

        Returns ``x (k * per_class, 1, 28, 28)`` and ``y (k * per_class,)``.
        """
        idx = sample_per_class(self.pool_y.numpy(), range(len(self.new_classes)), per_class, rng)
        return self.pool_x[idx], self.pool_y[idx]


def class_images(split: FashionMNIST, classes: Sequence[int],
                 idx: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of ``classes`` in ``split`` (or its images ``idx``, all of those classes), as
    ``x (M, 1, 28, 28)`` float32 in [0, 1] and ``y (M,)`` int64 renumbered ``0 .. k-1``."""
    idx = class_indices(split.labels, classes) if idx is None else idx
    return images_to_tensor(split.images[idx]), torch.from_numpy(remap_labels(split.labels[idx], classes))


def split_for_transfer(train: FashionMNIST, test: FashionMNIST | None = None,
                       old_classes: Sequence[int] = OLD_CLASSES, new_classes: Sequence[int] = NEW_CLASSES,
                       val_per_class: int = 100,
                       rng: np.random.Generator | int | None = None) -> TransferData:
    """Split Fashion-MNIST into a pretraining task and a new task (see :class:`TransferData`).

    The validation images are drawn with ``rng`` (``val_per_class`` of each new class from the
    training split), and the pool is every other training image of the new classes, so that
    labelled examples drawn from it never overlap validation. Without ``test`` the test images
    are ``None``: everything else comes from the training split alone.
    """
    old_classes, new_classes = _check_classes(old_classes), _check_classes(new_classes)
    if set(old_classes) & set(new_classes):
        raise ValueError(f"old classes {old_classes} and new classes {new_classes} overlap: a new task "
                         "has classes the body has not seen")
    val = sample_per_class(train.labels, new_classes, val_per_class, rng)
    pool = np.setdiff1d(class_indices(train.labels, new_classes), val)
    old_test, new_test = ((None, None), (None, None)) if test is None else (
        class_images(test, old_classes), class_images(test, new_classes))
    return TransferData(old_classes, new_classes, *class_images(train, old_classes), *old_test,
                        *class_images(train, new_classes, pool),
                        *class_images(train, new_classes, val), *new_test)


# ------------------------------------------------------------------------------------------------
# The network: a body that computes features, a head that classifies them


def make_body(channels: tuple[int, int] = (16, 32)) -> nn.Sequential:
    """A small residual CNN without its classifier: images ``(B, 1, 28, 28)`` to features ``(B, c2 * 49)``.

    ``conv 3x3 -> batch norm -> ReLU -> max pool`` to ``(B, c1, 14, 14)``, the same to
    ``(B, c2, 7, 7)``, one :class:`~dlcourse.pytorch.residual.ResidualBlock` ``(B, c2, 7, 7)``, flatten.
    """
    if len(channels) != 2 or min(channels) < 1:
        raise ValueError(f"channels must be two positive filter counts (c1, c2), got {channels!r}")
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.MaxPool2d(2),    # (c1, 14, 14)
        nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.MaxPool2d(2),    # (c2, 7, 7)
        ResidualBlock(c2),  # (c2, 7, 7)
        nn.Flatten(),       # (c2 * 49,)
    )


def body_features(body: nn.Module) -> int:
    """The number of features ``F`` a body computes for one image ``(1, 1, 28, 28)``."""
    was_training = body.training
    body.eval()
    with torch.no_grad():
        out = body(torch.zeros(1, 1, 28, 28, device=next(body.parameters()).device))
    body.train(was_training)
    if out.ndim != 2:
        raise ValueError(f"a body must map images to features (B, F), got shape {tuple(out.shape)}")
    return int(out.shape[1])


class TransferNet(nn.Module):
    """A body and a linear head: images ``(B, 1, 28, 28)`` -> features ``(B, F)`` -> logits ``(B, classes)``.

    Args:
        body: maps images to features ``(B, F)``.
        classes: the number of outputs of the new head.
        freeze_body: freeze the body (feature extraction): no gradients for its parameters, and
            kept in ``eval()`` mode whatever :meth:`train` is asked.
    """

    def __init__(self, body: nn.Module, classes: int, freeze_body: bool = False) -> None:
        super().__init__()
        if classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {classes}")
        self.body = body
        self.head = nn.Linear(body_features(body), classes)
        self.frozen = False
        if freeze_body:
            self.freeze_body()

    def freeze_body(self) -> TransferNet:
        """Stop training the body: ``requires_grad=False`` on its parameters, ``eval()`` mode for good."""
        for p in self.body.parameters():
            p.requires_grad_(False)
        self.frozen = True
        self.body.eval()
        return self

    def train(self, mode: bool = True) -> TransferNet:
        super().train(mode)
        if self.frozen:
            self.body.eval()  # batch norm keeps the pretrained statistics
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def trainable_parameters(model: nn.Module) -> int:
    """The number of parameters that training updates (those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pretrain(x: torch.Tensor, y: torch.Tensor, *, channels: tuple[int, int] = (16, 32), epochs: int = 4,
             lr: float = 3e-3, batch_size: int = 64, seed: int = 0,
             val: tuple[torch.Tensor, torch.Tensor] | None = None,
             verbose: bool = False) -> tuple[TransferNet, History]:
    """Train a body (:func:`make_body`) and a head on ``x (N, 1, 28, 28)``, ``y (N,)`` in ``0 .. k-1``.

    Adam with a one-cycle schedule peaking at ``lr``; ``seed`` fixes the weights and the shuffling.
    Returns the trained :class:`TransferNet` (its ``body`` is the pretrained body) and its history.
    """
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"need as many labels as images, at least one: got {len(x)} images, {len(y)} labels")
    torch.manual_seed(seed)
    model = TransferNet(make_body(channels), int(y.max()) + 1)
    batches = TensorBatches(x, y, batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                                   steps_per_epoch=len(batches))
    val_batches = TensorBatches(*val, 1000) if val is not None else None
    history = fit(model, optimizer, batches, val_batches, epochs=epochs, scheduler=schedule,
                  scheduler_step="batch", verbose=verbose, progress_bar=False)
    return model, history


# ------------------------------------------------------------------------------------------------
# Three ways to learn the new classes


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")


def new_task_model(strategy: Strategy, pretrained_body: nn.Module, classes: int) -> TransferNet:
    """The network a strategy starts from, with a new head of ``classes`` outputs.

    ``"scratch"``: a body of the same architecture with fresh random weights (the current torch
    seed decides them); ``"features"``: a copy of the pretrained body, frozen; ``"finetune"``: a copy
    of the pretrained body, trainable. The pretrained body itself is never changed.
    """
    _check_strategy(strategy)
    if strategy == "scratch":
        body = copy.deepcopy(pretrained_body)
        for module in body.modules():  # every layer back to a fresh random start
            if module is not body and hasattr(module, "reset_parameters"):
                module.reset_parameters()
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
        return TransferNet(body, classes)
    return TransferNet(copy.deepcopy(pretrained_body), classes, freeze_body=strategy == "features")


def new_task_optimizer(model: TransferNet, strategy: Strategy, lr: float = 3e-3,
                       body_lr_factor: float = 0.1) -> torch.optim.Adam:
    """Adam over what a strategy trains: everything (scratch), the head (features), or the head at
    ``lr`` and the body at ``body_lr_factor * lr`` (finetune: two parameter groups, head first)."""
    _check_strategy(strategy)
    if strategy == "scratch":
        return torch.optim.Adam(model.parameters(), lr=lr)
    if strategy == "features":
        return torch.optim.Adam(model.head.parameters(), lr=lr)
    if not 0 < body_lr_factor <= 1:
        raise ValueError(f"body_lr_factor must be in (0, 1], got {body_lr_factor}")
    return torch.optim.Adam([{"params": model.head.parameters(), "lr": lr},
                             {"params": model.body.parameters(), "lr": lr * body_lr_factor}])


def train_new_task(strategy: Strategy, pretrained_body: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                   steps: int = 40, lr: float = 3e-3, body_lr_factor: float = 0.1, batch_size: int = 50,
                   seed: int = 0) -> TransferNet:
    """Learn the new classes from ``x (N, 1, 28, 28)``, ``y (N,)`` with one strategy.

    About ``steps`` optimiser steps (whole epochs of ``batch_size``), so that every strategy gets
    the same budget. With ``"features"`` the frozen body's features are computed once and the
    head is trained on them: the same result as running the frozen body on every batch, faster.
    ``seed`` fixes the new weights and the shuffling.
    """
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"need as many labels as images, at least one: got {len(x)} images, {len(y)} labels")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    torch.manual_seed(seed)
    model = new_task_model(strategy, pretrained_body, int(y.max()) + 1)
    optimizer = new_task_optimizer(model, strategy, lr, body_lr_factor)
    epochs = max(1, math.ceil(steps / math.ceil(len(y) / batch_size)))
    if strategy == "features":
        with torch.no_grad():
            features = model.body(x)  # (N, F), the body in eval mode
        fit(model.head, optimizer, TensorBatches(features, y, batch_size, shuffle=True), epochs=epochs,
            verbose=False, progress_bar=False)
    else:
        fit(model, optimizer, TensorBatches(x, y, batch_size, shuffle=True), epochs=epochs,
            verbose=False, progress_bar=False)
    return model.eval()


def fit_pixel_baseline(x: torch.Tensor, y: torch.Tensor, c: float = 1.0):
    """Logistic regression on the raw pixels of ``x (N, 1, 28, 28)``, labels ``y (N,)``: the baseline.

    scikit-learn's :class:`~sklearn.linear_model.LogisticRegression` with its defaults (multinomial,
    an L2 penalty of strength ``1 / c``, L-BFGS) on the ``N x 784`` pixel values in float64:
    what a practitioner tries first with a few labels and no network. Deterministic.
    Returns the fitted model; :func:`pixel_accuracy` scores it.
    """
    from sklearn.linear_model import LogisticRegression

    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"need as many labels as images, at least one: got {len(x)} images, {len(y)} labels")
    return LogisticRegression(C=c, max_iter=1000).fit(_pixels(x), y.numpy())


def pixel_accuracy(baseline, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of images ``x (N, 1, 28, 28)`` that a :func:`fit_pixel_baseline` labels as ``y (N,)``."""
    return float(np.mean(baseline.predict(_pixels(x)) == y.numpy()))


def _pixels(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().flatten(1).numpy().astype(np.float64)  # (N, pixels)


@dataclass
class Comparison:
    """Accuracies of each contender (a strategy or ``"pixels"``), one per seed: ``val[name][i]`` and
    ``test[name][i]`` are those of the run with ``seeds[i]``."""

    seeds: list[int]
    per_class: int
    val: dict[str, list[float]] = field(default_factory=dict)
    test: dict[str, list[float]] = field(default_factory=dict)

    def summary(self, split: str = "val") -> dict[str, tuple[float, float]]:
        """``{strategy: (mean, standard deviation over seeds)}`` of one split's accuracies."""
        if split not in ("val", "test"):
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        results = getattr(self, split)
        return {name: (float(np.mean(r)), float(np.std(r))) for name, r in results.items()}


def compare_strategies(data: TransferData, pretrained_body: nn.Module, per_class: int,
                       seeds: Sequence[int], strategies: Sequence[str] = STRATEGIES,
                       **train_options: float) -> Comparison:
    """Train every contender for every seed on ``per_class`` labels per new class; evaluate each run.

    ``strategies`` names the contenders: any of :data:`STRATEGIES`, and :data:`PIXELS` for the
    baseline without a network (:func:`fit_pixel_baseline`). Seed ``s`` draws the labelled examples
    (``np.random.default_rng(s)``; the same draw for every contender, so that they are compared on
    the same labels) and fixes the new weights and the shuffling (``train_new_task(..., seed=s)``).
    ``train_options`` go to :func:`train_new_task`.
    """
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. range(5)")
    for strategy in strategies:
        if strategy != PIXELS:
            _check_strategy(strategy)
    result = Comparison(list(seeds), per_class, {s: [] for s in strategies}, {s: [] for s in strategies})
    val_batches = TensorBatches(data.val_x, data.val_y, 1000)
    test_batches = TensorBatches(data.test_x, data.test_y, 1000)
    for seed in seeds:
        x, y = data.few_labels(per_class, np.random.default_rng(seed))
        for strategy in strategies:
            if strategy == PIXELS:
                baseline = fit_pixel_baseline(x, y)
                result.val[strategy].append(pixel_accuracy(baseline, data.val_x, data.val_y))
                result.test[strategy].append(pixel_accuracy(baseline, data.test_x, data.test_y))
                continue
            model = train_new_task(strategy, pretrained_body, x, y, seed=seed, **train_options)
            result.val[strategy].append(evaluate(model, val_batches)["acc"])
            result.test[strategy].append(evaluate(model, test_batches)["acc"])
    return result
