"""Regularisation for the from-scratch NumPy network (lesson 08): dropout and the L2 penalty.

Both plug into :class:`dlcourse.numpy_nn.layers.Sequential`:

- :class:`Dropout` is a layer. In training mode (``layer.training = True``, the default) it keeps
  each activation with probability ``1 - p`` and divides the kept ones by ``1 - p`` ("inverted
  dropout"), so the expected output equals the input; in evaluation mode it is the identity.
  :func:`set_training` switches every Dropout of a model, like PyTorch's ``model.train()`` /
  ``model.eval()``.
- The L2 penalty adds ``(lam / N) * sum_l ||W_l||^2`` to the cost (weights of the Linear layers
  only, not the biases; ``N`` the number of training examples). :func:`l2_penalty` returns it and
  :func:`add_l2_gradient` adds its gradient ``(2 lam / N) W_l`` to each ``dW_l`` after
  ``backward``. With SGD this is "weight decay": every step shrinks ``W`` by the factor
  ``1 - 2 lr lam / N`` before the data gradient acts.
"""

from __future__ import annotations

import numpy as np

from dlcourse.env.seeding import as_generator
from dlcourse.numpy_nn.layers import Layer, Linear, Sequential

__all__ = ["Dropout", "set_training", "l2_penalty", "add_l2_gradient"]


class Dropout(Layer):
    """Inverted dropout: ``y = x * m / (1 - p)`` with ``m_ij ~ Bernoulli(1 - p)`` in training mode.

    Args:
        p: the probability of dropping (zeroing) an activation, ``0 <= p < 1``.
        rng: the generator that draws the masks (default: ``default_rng(0)``).

    Shapes: ``forward`` takes any array ``(N, d)`` and returns the same shape; ``backward`` takes
    ``dL/dy`` of that shape and returns ``dL/dx = dL/dy * m / (1 - p)`` (the same mask as the
    forward pass). In evaluation mode (``training = False``) both are the identity.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None):
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"the dropout probability p must satisfy 0 <= p < 1, got {p}; "
                             "p is the fraction of activations set to zero.")
        self.p = float(p)
        self.rng = as_generator(rng)
        self.training = True
        self._scale: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not self.training or self.p == 0.0:
            self._scale = np.ones((), dtype=x.dtype)
            return x
        keep = self.rng.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._scale

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        scale = self._saved("_scale")
        grad_out = np.asarray(grad_out)
        if scale.ndim and grad_out.shape != scale.shape:
            raise ValueError(f"Dropout.backward got a gradient of shape {grad_out.shape}, but its "
                             f"forward output had shape {scale.shape}; they must be equal.")
        return grad_out * scale

    @property
    def mask(self) -> np.ndarray | None:
        """The last training-mode mask (True where an activation was kept), or None."""
        return None if self._scale is None or self._scale.ndim == 0 else self._scale > 0

    def __repr__(self) -> str:
        return f"Dropout(p={self.p}, training={self.training})"


def set_training(model: Layer, training: bool) -> Layer:
    """Put every :class:`Dropout` of ``model`` (a layer or a Sequential) in training or eval mode."""
    layers = model.layers if isinstance(model, Sequential) else [model]
    for layer in layers:
        if isinstance(layer, Dropout):
            layer.training = bool(training)
    return model


def _linears(model: Layer) -> list[Linear]:
    if isinstance(model, Sequential):
        return model.linears
    if isinstance(model, Linear):
        return [model]
    raise TypeError(f"expected a Linear layer or a Sequential model, got {type(model).__name__}.")


def _check(lam: float, n: int) -> None:
    if lam < 0:
        raise ValueError(f"the L2 strength lam must be >= 0, got {lam}.")
    if n < 1:
        raise ValueError(f"n is the number of training examples and must be >= 1, got {n}.")


def l2_penalty(model: Layer, lam: float, n: int) -> float:
    """The penalty ``(lam / n) * sum_l ||W_l||^2`` over the Linear weights of ``model`` (biases excluded).

    Args:
        model: a :class:`~dlcourse.numpy_nn.layers.Linear` or :class:`~dlcourse.numpy_nn.layers.Sequential`.
        lam: the regularisation strength, ``>= 0``.
        n: the number of training examples ``N`` (not the mini-batch size).
    """
    _check(lam, n)
    return float(lam / n * sum(float(np.sum(layer.W * layer.W)) for layer in _linears(model)))


def add_l2_gradient(model: Layer, lam: float, n: int) -> None:
    """Add ``(2 lam / n) W_l`` to every ``dW_l`` in place; call it after ``model.backward``.

    Then ``model.grads()`` is the gradient of ``loss + l2_penalty(model, lam, n)``.
    """
    _check(lam, n)
    for layer in _linears(model):
        layer.dW = layer.dW + (2.0 * lam / n) * layer.W
