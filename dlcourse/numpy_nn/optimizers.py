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
    """Adam (Kingma & Ba, 2015), as ``torch.optim.Adam`` without weight decay.

    The running means ``m`` and ``v`` of all parameters live in two flat vectors, so that one
    step costs a dozen NumPy operations in all rather than a dozen per parameter array (the
    arithmetic is the same; with small layers, Python's per-call overhead is what costs time).
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}.")
        self.b1, self.b2, self.eps = float(b1), float(b2), float(eps)
        sizes = [p.size for p in self.params]
        ends = np.cumsum(sizes)
        self._slices = [slice(int(end - size), int(end)) for size, end in zip(sizes, ends, strict=True)]
        dtype = np.result_type(*self.params)
        #: running mean of the gradients, all parameters flattened and concatenated in order
        self.m = np.zeros(int(ends[-1]), dtype=dtype)
        #: running mean of the squared gradients, in the same layout
        self.v = np.zeros_like(self.m)

    def step(self, grads: Sequence[np.ndarray]) -> None:
        grads = self._checked(grads)
        self.t += 1
        b1, b2 = self.b1, self.b2
        g = np.concatenate([grad.reshape(-1) for grad in grads])
        self.m *= b1
        self.m += (1.0 - b1) * g
        self.v *= b2
        g *= g
        self.v += (1.0 - b2) * g
        denominator = np.sqrt(self.v)
        denominator /= np.sqrt(1.0 - b2 ** self.t)
        denominator += self.eps
        update = np.divide(self.m, denominator, out=denominator)
        update *= self.lr / (1.0 - b1 ** self.t)
        for p, part in zip(self.params, self._slices, strict=True):
            p -= update[part].reshape(p.shape)
