"""Finite-difference gradient checking (lesson 04): is an analytic gradient right?

The central difference ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` approximates ``df/dx_i`` with an
error of order ``h**2``; in float64 with ``h = 1e-6`` a correct gradient agrees with it to a
relative error near 1e-9 or better, a wrong one typically to 1e-2 or worse.

The relative error of two arrays is ``||a - b|| / max(||a|| + ||b||, tiny)`` (Euclidean norms
over all entries): 0 for equal arrays, 1 when one of them is zero and the other is not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "gradient_check", "check_layer_gradients"]


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / (||a|| + ||b||)`` for two arrays of the same shape (0.0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}.")
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(a - b) / denominator)


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``f`` takes no arguments and reads ``x`` (for example a weight matrix of a layer): each entry
    of ``x`` is nudged **in place** by ``+h`` and ``-h`` and restored afterwards.
    ``x`` must be a float64 array (float32 is too coarse for finite differences).
    Returns an array of the shape of ``x``. Cost: ``2 * x.size`` calls of ``f``.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise ValueError("x must be a float64 NumPy array, changed in place by the check; got "
                         f"{type(x).__name__} of dtype {getattr(x, 'dtype', None)}. "
                         "Use x.astype(np.float64).")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be changed in place; use np.ascontiguousarray.")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = float(f())
        flat[i] = old - h
        f_minus = float(f())
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def gradient_check(f: Callable[[], float], x: np.ndarray, analytic: np.ndarray, h: float = 1e-6) -> float:
    """Relative error between ``analytic`` and the central-difference gradient of ``f`` at ``x``."""
    analytic = np.asarray(analytic)
    if analytic.shape != x.shape:
        raise ValueError(f"the analytic gradient has shape {analytic.shape} but x has shape {x.shape}; "
                         "a gradient has the shape of what it differentiates with respect to.")
    return relative_error(analytic, numerical_gradient(f, x, h))


def check_layer_gradients(model, loss_fn, x: np.ndarray, target: np.ndarray,
                          h: float = 1e-6) -> dict[str, float]:
    """Gradient-check every parameter of a layer or Sequential model on one mini-batch.

    ``model`` has ``forward``, ``backward``, ``params()`` and ``grads()`` (see
    :mod:`dlcourse.numpy_nn.layers`); ``loss_fn(output, target)`` returns ``(loss, grad)`` (see
    :mod:`dlcourse.numpy_nn.losses`). Returns ``{"param 0 (shape)": relative error, ...}`` in the order
    of ``model.params()``.
    """
    loss, grad = loss_fn(model.forward(x), target)
    model.backward(grad)
    analytic = [g.copy() for g in model.grads()]

    def f() -> float:
        return loss_fn(model.forward(x), target)[0]

    return {f"param {i} {p.shape}": gradient_check(f, p, g, h)
            for i, (p, g) in enumerate(zip(model.params(), analytic, strict=True))}
