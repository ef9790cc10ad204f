"""Weight initialisation for Linear layers (lesson 05): Xavier/Glorot and He/Kaiming.

Why it matters: with ``y = x @ W`` and ``n_in`` inputs of unit variance, each output has
variance ``n_in * Var(W)``. Choosing ``Var(W) = 1 / n_in`` keeps the signal's scale from layer
to layer; Glorot & Bengio (2010) average forward and backward: ``Var(W) = 2 / (n_in + n_out)``
(Xavier, for tanh and sigmoid), and He et al. (2015) double it for ReLU, which zeroes half of
its inputs: ``Var(W) = 2 / n_in`` (He).

Every function returns a weight matrix of shape ``(n_in, n_out)``, the layout of
:class:`dlcourse.numpy_nn.layers.Linear` (``y = x @ W + b``), drawn from ``rng``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform", "INITIALISERS"]


def _check(n_in: int, n_out: int) -> None:
    if int(n_in) < 1 or int(n_out) < 1:
        raise ValueError(f"n_in and n_out must be positive integers, got n_in={n_in}, n_out={n_out}.")


def xavier_normal(n_in: int, n_out: int, rng: np.random.Generator,
                  dtype: np.dtype = np.float64) -> np.ndarray:
    """Glorot normal: ``N(0, 2 / (n_in + n_out))``; shape ``(n_in, n_out)``."""
    _check(n_in, n_out)
    std = np.sqrt(2.0 / (n_in + n_out))
    return (std * rng.standard_normal((n_in, n_out))).astype(dtype)


def xavier_uniform(n_in: int, n_out: int, rng: np.random.Generator,
                   dtype: np.dtype = np.float64) -> np.ndarray:
    """Glorot uniform: ``U(-a, a)`` with ``a = sqrt(6 / (n_in + n_out))`` (same variance as
    :func:`xavier_normal`); shape ``(n_in, n_out)``."""
    _check(n_in, n_out)
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)


def he_normal(n_in: int, n_out: int, rng: np.random.Generator,
              dtype: np.dtype = np.float64) -> np.ndarray:
    """He (Kaiming) normal: ``N(0, 2 / n_in)``; shape ``(n_in, n_out)``."""
    _check(n_in, n_out)
    return (np.sqrt(2.0 / n_in) * rng.standard_normal((n_in, n_out))).astype(dtype)


def he_uniform(n_in: int, n_out: int, rng: np.random.Generator,
               dtype: np.dtype = np.float64) -> np.ndarray:
    """He uniform: ``U(-a, a)`` with ``a = sqrt(6 / n_in)``; shape ``(n_in, n_out)``."""
    _check(n_in, n_out)
    a = np.sqrt(6.0 / n_in)
    return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)


#: name -> initialiser, as accepted by ``Linear(..., init=name)``.
INITIALISERS: dict[str, Callable[..., np.ndarray]] = {
    "xavier": xavier_normal,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}
