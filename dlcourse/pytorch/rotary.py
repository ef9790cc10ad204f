"""Rotary position embeddings, RoPE (lesson 13b; Su et al., 2021).

Instead of adding a position vector to the token, RoPE **rotates** each query and key by an angle
proportional to its position. Split the ``d`` features of a head into ``d / 2`` pairs
``(x[2i], x[2i+1])``; at position ``m``, pair ``i`` turns by the angle ``m * theta_i`` with
``theta_i = base^(-2i/d)`` (fast turns in the first pairs, slow ones in the last)::

    x'[2i]   = x[2i] cos(m theta_i) - x[2i+1] sin(m theta_i)
    x'[2i+1] = x[2i] sin(m theta_i) + x[2i+1] cos(m theta_i)

which is the complex product ``(x[2i] + j x[2i+1]) * exp(j m theta_i)``. A rotation keeps lengths,
and the dot product of a query rotated by ``m`` and a key rotated by ``n`` depends on ``m - n``
only: ``<R_m q, R_n k> = <q, R_(n-m) k>``. Attention scores see relative positions, and nothing is
added to the residual stream.
"""

from __future__ import annotations

import torch

__all__ = ["rope_angles", "apply_rope"]


def rope_angles(positions: torch.Tensor, d: int, base: float = 10000.0) -> torch.Tensor:
    """The angle of every (position, pair): ``positions`` ``(T,)`` -> ``(T, d / 2)``, ``m * base^(-2i/d)``."""
    if d % 2:
        raise ValueError(f"RoPE rotates pairs of features: the head size d={d} must be even.")
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)          # (d/2,)
    return positions.to(torch.float64)[:, None] * theta                         # (T, d/2)


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate the feature pairs of ``x`` ``(..., T, d)`` by the angles of ``positions`` ``(T,)``.

    Returns ``(..., T, d)``, in ``x``'s dtype.
    """
    if x.shape[-2] != positions.shape[0]:
        raise ValueError(f"x has {x.shape[-2]} positions (its second-to-last axis) but {positions.shape[0]} "
                         "positions were given: pass one position per row.")
    angles = rope_angles(positions.to(x.device), x.shape[-1], base)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)              # (T, d/2)
    even, odd = x[..., 0::2], x[..., 1::2]                                      # (..., T, d/2)
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)
