"""Optimisers for the NumPy network (lesson 05): SGD, SGD with momentum, and Adam.

An optimiser is built on a list of parameter arrays (``model.params()``) and updates them
**in place** from a list of gradients of the same shapes, in the same order
(``model.grads()``, after ``model.backward``)::

    opt = Adam(model.params(), lr=1e-3)
    loss, grad = softmax_cross_entropy(model.forward(x), y)
    model.backward(grad)
    opt.step(model.grads())

The update rules are PyTorch's (``torch.optim.SGD`` with and without ``momentum``, and
``torch.optim.Adam``), so the two give the same numbers step for step:

- SGD:       ``p -= lr * g``
- momentum:  ``v = mu * v + g`` (``v = g`` on the first step), ``p -= lr * v``
- Adam:      ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``,
  ``p -= lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)``
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Optimizer", "SGD", "Momentum", "Adam"]


class Optimizer:
    """Base class: holds the parameters and checks the gradients given to :meth:`step`."""

    def __init__(self, params: Sequence[np.ndarray], lr: float):
        params = list(params)
        if not params or not all(isinstance(p, np.ndarray) for p in params):
            raise ValueError("params must be a non-empty list of NumPy arrays, e.g. model.params().")
        if not lr > 0:
            raise ValueError(f"the learning rate lr must be positive, got {lr}.")
        self.params = params
        self.lr = float(lr)
        self.t = 0  # steps taken

    def _checked(self, grads: Sequence[np.ndarray]) -> list[np.ndarray]:
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"step got {len(grads)} gradients for {len(self.params)} parameters; "
                             "pass model.grads() for the model whose model.params() you gave.")
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            if p.shape != g.shape:
                raise ValueError(f"gradient {i} has shape {g.shape} but parameter {i} has shape {p.shape}.")
        return grads

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Update every parameter in place from its gradient."""
        raise NotImplementedError


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p -= lr * g``."""

    def step(self, grads: Sequence[np.ndarray]) -> None:
        self.t += 1
        for p, g in zip(self.params, self._checked(grads), strict=True):
            p -= self.lr * g


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum, as ``torch.optim.SGD(..., momentum=mu)``."""

    def __init__(self, params: Sequence[np.ndarray], lr: float, momentum: float = 0.9):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}.")
        self.momentum = float(momentum)
        self.velocity: list[np.ndarray] | None = None

    def step(self, grads: Sequence[np.ndarray]) -> None:
        grads = self._checked(grads)
        self.t += 1
        if self.velocity is None:
            self.velocity = [np.array(g, dtype=p.dtype) for p, g in zip(self.params, grads, strict=True)]
        else:
            for v, g in zip(self.velocity, grads, strict=True):
                v *= self.momentum
                v += g
        for p, v in zip(self.params, self.velocity, strict=True):
            p -= self.lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as ``torch.optim.Adam`` without weight decay."""

    def __init__(self, params: Sequence[np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}.")
        self.b1, self.b2, self.eps = float(b1), float(b2), float(eps)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        grads = self._checked(grads)
        self.t += 1
        b1, b2 = self.b1, self.b2
        step_size = self.lr / (1.0 - b1 ** self.t)
        root_correction = np.sqrt(1.0 - b2 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= step_size * m / (np.sqrt(v) / root_correction + self.eps)
