"""Activation functions and their derivatives, on NumPy arrays of any shape (lessons 02-05).

Each activation ``f`` comes with ``f_prime``, its derivative with respect to its input,
evaluated elementwise: for ``a = f(z)`` the chain rule gives ``dL/dz = f_prime(z) * dL/da``.
Every function takes an array ``z`` of any shape and returns an array of the same shape and
floating dtype (float64 in, float64 out; float32 in, float32 out).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_prime", "tanh", "tanh_prime", "relu", "relu_prime",
    "leaky_relu", "leaky_relu_prime", "ACTIVATIONS",
]


def _as_float(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    return z


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-z))``, elementwise; shape of ``z``.

    Computed as ``0.5 * (1 + tanh(z / 2))``, the same function written so that it never
    overflows for large ``|z|``.
    """
    z = _as_float(z)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of :func:`sigmoid`: ``sigmoid(z) * (1 - sigmoid(z))``; shape of ``z``."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, elementwise; shape of ``z``."""
    return np.tanh(_as_float(z))


def tanh_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of :func:`tanh`: ``1 - tanh(z)**2``; shape of ``z``."""
    t = np.tanh(_as_float(z))
    return 1.0 - t * t


def relu(z: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(z, 0)``, elementwise; shape of ``z``."""
    z = _as_float(z)
    return np.maximum(z, 0.0, dtype=z.dtype)


def relu_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of :func:`relu`: 1 where ``z > 0``, else 0 (we take 0 at ``z == 0``)."""
    z = _as_float(z)
    return (z > 0).astype(z.dtype)


def leaky_relu(z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """Leaky ReLU: ``z`` where ``z > 0``, else ``slope * z``; shape of ``z``."""
    z = _as_float(z)
    return np.where(z > 0, z, slope * z).astype(z.dtype, copy=False)


def leaky_relu_prime(z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """Derivative of :func:`leaky_relu`: 1 where ``z > 0``, else ``slope``."""
    z = _as_float(z)
    return np.where(z > 0, 1.0, slope).astype(z.dtype, copy=False)


#: name -> (function, derivative), used by :func:`dlcourse.numpy_nn.layers.mlp`.
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
}
