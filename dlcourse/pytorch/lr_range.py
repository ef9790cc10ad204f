"""The learning-rate range test (Smith, *Cyclical Learning Rates for Training Neural Networks*, 2017).

Train for a few hundred steps while the learning rate grows exponentially, from ``start_lr`` to
``end_lr``:

    lr_k = start_lr * (end_lr / start_lr) ** (k / (steps - 1)),   k = 0 .. steps - 1,

and record the loss of each step's batch *before* its update. At tiny rates the loss hardly moves;
then it falls, faster and faster; past some rate the steps overshoot and the loss climbs and
diverges. :func:`lr_range_test` stops there (when the smoothed loss exceeds ``stop_factor`` times
its lowest value, or is not finite) and returns an :class:`LRRangeResult` with three readings:

- ``divergence_lr``: the rate at which the test stopped (or the last one tried);
- ``min_loss_lr``: the rate where the smoothed loss was lowest;
- ``steepest_lr``: the rate where the smoothed loss fell fastest per factor of learning rate
  (the most negative slope of loss against ``log(lr)``);

and one rule, ``suggested_lr = min_loss_lr / 10``: an order of magnitude below the point where the
loss stopped improving, since that point is already at the edge of instability.

For plain gradient descent on a quadratic with curvature (largest Hessian eigenvalue) ``lam``,
steps with ``lr > 2 / lam`` grow the error along that direction: the divergence rate is known in
closed form, and ``tests/unit/test_lr_range.py`` checks the test against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["LRRangeResult", "lr_range_test", "smooth"]


def smooth(values: np.ndarray | list[float], beta: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction, ``(K,) -> (K,)``.

    ``m_k = beta m_{k-1} + (1 - beta) v_k`` from ``m_{-1} = 0``, returned as ``m_k / (1 - beta^(k+1))``;
    ``beta = 0`` returns the values unchanged.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    m = 0.0
    for k, v in enumerate(values):
        m = beta * m + (1.0 - beta) * v
        out[k] = m / (1.0 - beta ** (k + 1))
    return out


@dataclass(frozen=True)
class LRRangeResult:
    """What :func:`lr_range_test` measured: ``lrs`` and ``losses`` ``(K,)``, one per step taken.

    ``smoothed`` is :func:`smooth` of ``losses``; ``diverged`` says whether the test stopped early.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    diverged: bool

    @property
    def divergence_lr(self) -> float:
        """The learning rate of the last step taken (where the loss blew up, if it did)."""
        return float(self.lrs[-1])

    @property
    def min_loss_lr(self) -> float:
        """The learning rate at which the smoothed loss was lowest."""
        return float(self.lrs[int(np.nanargmin(self.smoothed))])

    @property
    def steepest_lr(self) -> float:
        """The learning rate where the smoothed loss falls fastest against ``log(lr)``, up to its minimum."""
        end = int(np.nanargmin(self.smoothed)) + 1
        if end < 2:
            return float(self.lrs[0])
        slope = np.gradient(self.smoothed[:end], np.log(self.lrs[:end]))
        return float(self.lrs[int(np.argmin(slope))])

    @property
    def suggested_lr(self) -> float:
        """One order of magnitude below :attr:`min_loss_lr`."""
        return self.min_loss_lr / 10.0


def lr_range_test(model: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable,
                  loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None, *,
                  start_lr: float = 1e-5, end_lr: float = 10.0, steps: int = 200,
                  stop_factor: float = 4.0, beta: float = 0.9, restore: bool = True) -> LRRangeResult:
    """Train ``model`` with an exponentially growing learning rate and record the loss of each step.

    Args:
        model: maps inputs ``x`` ``(B, ...)`` to outputs that ``loss_fn`` compares with ``y``.
        optimizer: built on ``model.parameters()``; its learning rate is overwritten at every step
            (every parameter group gets the same rate).
        batches: ``(x, y)`` pairs, cycled through as often as needed (at least one).
        loss_fn: default cross-entropy (logits ``(B, C)``, class indices ``(B,)``).
        start_lr, end_lr: the first and last rates, ``0 < start_lr < end_lr``.
        steps: the number of steps from ``start_lr`` to ``end_lr`` (at least 2).
        stop_factor: stop once the smoothed loss exceeds this multiple of its lowest value so far
            (``math.inf``: never stop early, except on a non-finite loss).
        beta: the smoothing of :func:`smooth`.
        restore: put the model's and the optimiser's state back afterwards, so that training can
            start from the same weights.

    Returns:
        An :class:`LRRangeResult` over the steps taken.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    if stop_factor <= 1:
        raise ValueError(f"stop_factor must be > 1 (a multiple of the lowest loss), got {stop_factor}")
    loss_fn = loss_fn or nn.functional.cross_entropy
    saved = ({k: v.detach().clone() for k, v in model.state_dict().items()},
             _clone(optimizer.state_dict())) if restore else None
    lrs, losses = [], []
    m, best, diverged = 0.0, math.inf, False
    source = iter(batches)
    device = next(model.parameters()).device
    model.train()
    for k in range(steps):
        lr = start_lr * (end_lr / start_lr) ** (k / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        try:
            x, y = next(source)
        except StopIteration:
            source = iter(batches)
            try:
                x, y = next(source)
            except StopIteration:
                raise ValueError("batches is empty: pass at least one (x, y) batch") from None
        loss = loss_fn(model(x.to(device)), y.to(device))
        value = float(loss.item())
        lrs.append(lr)
        losses.append(value)
        m = beta * m + (1.0 - beta) * value
        smoothed = m / (1.0 - beta ** (k + 1))
        if not math.isfinite(smoothed) or smoothed > stop_factor * best:
            diverged = True
            break
        best = min(best, smoothed)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if saved is not None:
        model.load_state_dict(saved[0])
        optimizer.load_state_dict(saved[1])
    return LRRangeResult(np.array(lrs), np.array(losses), smooth(losses, beta), diverged)


def _clone(state: object) -> object:
    """A deep copy of an optimiser's state dict (tensors cloned)."""
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {k: _clone(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_clone(v) for v in state]
    return state
