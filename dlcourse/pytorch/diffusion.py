"""A denoising diffusion model's fixed parts (lesson 11c): the noise schedule and the denoiser.

A diffusion model (Ho et al., *Denoising diffusion probabilistic models*, 2020) adds Gaussian
noise to data in ``T`` small steps, ``x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps``, and
trains a network to predict the noise so that it can walk the steps back. This module holds what
lesson 11c reuses and does not ask you to write:

- :class:`NoiseSchedule`: the variances ``beta_t`` (``t = 1 .. T``), ``alpha_t = 1 - beta_t`` and
  their running product ``alpha_bar_t``, which the closed form ``q(x_t | x_0)`` needs; and the
  evenly spaced subsequence of steps a fast (DDIM) sampler visits (:meth:`NoiseSchedule.skip`);
- :func:`time_embedding` and :class:`Denoiser`: a fully connected network that maps a noisy point
  ``x_t`` and its step ``t`` to a prediction of the noise in it.

The closed-form noising, the noise-prediction loss and the reverse sampling step are deliberately
**not** here: the lesson writes them out and exercise 11c asks you to implement them.

Steps are numbered ``1 .. T`` as in the paper; arrays are indexed ``t - 1``. ``alpha_bar_0 = 1``
(no noise) is available as :meth:`NoiseSchedule.alpha_bar_at` of 0.

>>> s = NoiseSchedule.linear(100)
>>> s.T, round(float(s.alpha_bar_at(torch.tensor([0]))[0]), 1)
(100, 1.0)
>>> s.skip(4)
[100, 75, 50, 25]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["NoiseSchedule", "time_embedding", "Denoiser"]


@dataclass(frozen=True)
class NoiseSchedule:
    """The variances of a diffusion's forward steps and the products the closed forms need.

    Attributes:
        betas: ``(T,)`` float64, ``beta_t`` for ``t = 1 .. T`` (entry ``t - 1``), each in (0, 1).
    """

    betas: torch.Tensor

    def __post_init__(self) -> None:
        b = self.betas
        if not isinstance(b, torch.Tensor) or b.ndim != 1 or len(b) < 1:
            raise ValueError(f"betas must be a 1-D tensor with at least one entry, got {b!r}.")
        if not bool(((b > 0) & (b < 1)).all()):
            raise ValueError("every beta must lie strictly between 0 and 1.")

    @classmethod
    def linear(cls, T: int, beta_1: float = 1e-4, beta_T: float = 0.02) -> NoiseSchedule:
        """Ho et al.'s schedule: ``T`` variances evenly spaced from ``beta_1`` to ``beta_T``.

        With fewer steps than the paper's 1,000 the same end points leave too much signal at
        ``T`` (``alpha_bar_T`` far from 0); pass a larger ``beta_T`` then.
        """
        if int(T) != T or T < 1:
            raise ValueError(f"T must be a positive integer, got {T!r}.")
        if not 0 < beta_1 <= beta_T < 1:
            raise ValueError(f"need 0 < beta_1 <= beta_T < 1, got {beta_1!r} and {beta_T!r}.")
        return cls(torch.linspace(beta_1, beta_T, int(T), dtype=torch.float64))

    @property
    def T(self) -> int:
        """The number of steps."""
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        """``(T,)``: ``alpha_t = 1 - beta_t``."""
        return 1 - self.betas

    @property
    def alpha_bars(self) -> torch.Tensor:
        """``(T,)``: ``alpha_bar_t = alpha_1 ... alpha_t``, the share of the variance left to the signal."""
        return torch.cumprod(self.alphas, dim=0)

    def alpha_bar_at(self, t: torch.Tensor) -> torch.Tensor:
        """``alpha_bar_t`` for integer steps ``t`` (any shape) in ``0 .. T``; ``alpha_bar_0 = 1``. float32."""
        t = torch.as_tensor(t)
        if t.is_floating_point() or bool((t < 0).any()) or bool((t > self.T).any()):
            raise ValueError(f"steps must be integers in 0 .. {self.T}.")
        table = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars]).to(torch.float32)
        return table.to(t.device)[t]

    def skip(self, n_steps: int) -> list[int]:
        """The ``n_steps`` steps a fast sampler visits, from ``T`` down, evenly spaced.

        ``NoiseSchedule.linear(100).skip(4) == [100, 75, 50, 25]``; each is followed by the next
        one in the list, and the last by step 0 (clean data). ``skip(T)`` is every step.
        """
        if int(n_steps) != n_steps or not 1 <= n_steps <= self.T:
            raise ValueError(f"n_steps must be an integer in 1 .. {self.T}, got {n_steps!r}.")
        return [self.T - (k * self.T) // int(n_steps) for k in range(int(n_steps))]


def time_embedding(t: torch.Tensor, dim: int, T: int) -> torch.Tensor:
    """Sinusoidal features of integer steps (the transformer's position encoding, Vaswani et al. 2017).

    Args:
        t: ``(B,)`` steps in ``0 .. T``.
        dim: the number of features, even.
        T: the number of steps; ``t / T`` is what the frequencies see.

    Returns:
        float32 ``(B, dim)``: ``sin(w_k t / T)`` in the first half, ``cos(w_k t / T)`` in the
        second, with ``w_k = 1000^(k / (dim/2 - 1))`` times ``pi / 2`` for ``k = 0 .. dim/2 - 1``:
        from a quarter turn over the whole schedule to hundreds of turns.
    """
    if dim < 4 or dim % 2:
        raise ValueError(f"dim must be even and at least 4, got {dim!r}.")
    half = dim // 2
    freqs = (math.pi / 2) * 1000.0 ** (torch.arange(half, dtype=torch.float32, device=t.device) / (half - 1))
    angles = (t.to(torch.float32) / T)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class Denoiser(nn.Module):
    """A fully connected noise predictor: ``(x_t (B, d), t (B,))`` to ``(B, d)``.

    The point and the step's :func:`time_embedding` are concatenated and passed through
    ``len(hidden)`` layers with SiLU activations (the usual choice in diffusion networks) to a
    linear output of width ``d``.

    Args:
        data_dim: ``d``, the width of a data point (2 on the ring; 64 for 8x8 images).
        T: the schedule's number of steps.
        hidden: the hidden layers' widths.
        time_dim: the width of the step's embedding.
    """

    def __init__(self, data_dim: int, T: int, hidden: Sequence[int] = (128, 128, 128), time_dim: int = 32):
        super().__init__()
        if data_dim < 1 or T < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"data_dim, T and every hidden width must be positive; "
                             f"got {data_dim}, {T}, {hidden}.")
        self.T, self.time_dim = int(T), int(time_dim)
        sizes = [data_dim + self.time_dim, *[int(h) for h in hidden]]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(n_in, n_out), nn.SiLU()]
        layers.append(nn.Linear(sizes[-1], data_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or t.shape != (x.shape[0],):
            raise ValueError(f"x must be (B, d) and t (B,); got {tuple(x.shape)} and {tuple(t.shape)}.")
        return self.net(torch.cat([x, time_embedding(t, self.time_dim, self.T)], dim=1))
