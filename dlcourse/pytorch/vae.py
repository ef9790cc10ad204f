"""A variational autoencoder's networks (lesson 11c): an encoder to a Gaussian, and a decoder.

A VAE (Kingma & Welling, *Auto-encoding variational Bayes*, 2014) maps a data point ``x`` to the
mean ``mu`` and log-variance ``log sigma^2`` of a diagonal Gaussian ``q(z | x)`` over a latent
code ``z``, and maps a code back to the mean of a Gaussian ``p(x | z)`` over data points. This
module holds the two networks; the lesson writes out the parts the exercise asks for (the
reparameterisation, the ELBO and its KL term), which are deliberately **not** here.

>>> import torch
>>> vae = VAE(data_dim=2, latent_dim=2, hidden=(16,))
>>> mu, logvar = vae.encode(torch.zeros(5, 2))
>>> mu.shape, logvar.shape, vae.decode(mu).shape
(torch.Size([5, 2]), torch.Size([5, 2]), torch.Size([5, 2]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["VAE"]


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """``Linear`` layers of the given sizes with SiLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """An encoder ``(B, d) -> (mu (B, k), logvar (B, k))`` and a decoder ``(B, k) -> (B, d)``.

    Both are fully connected with SiLU activations: the encoder through ``hidden`` to ``2 k``
    outputs, split into ``mu`` and ``logvar``; the decoder through ``hidden`` reversed to ``d``
    outputs, the mean of ``p(x | z)`` (passed through ``tanh`` when ``output="tanh"``, for images
    scaled to [-1, 1]).

    Args:
        data_dim: ``d``, the width of a data point.
        latent_dim: ``k``, the width of the code.
        hidden: the encoder's hidden widths (the decoder uses them in reverse order).
        output: ``None`` (an unbounded mean) or ``"tanh"``.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden: Sequence[int] = (64, 64),
                 output: str | None = None):
        super().__init__()
        hidden = [int(h) for h in hidden]
        if data_dim < 1 or latent_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"data_dim, latent_dim and every hidden width must be positive; "
                             f"got {data_dim}, {latent_dim}, {hidden}.")
        if output not in (None, "tanh"):
            raise ValueError(f"output must be None or 'tanh', got {output!r}.")
        self.latent_dim = int(latent_dim)
        self.encoder = _mlp([data_dim, *hidden, 2 * self.latent_dim])
        self.decoder = _mlp([self.latent_dim, *hidden[::-1], data_dim])
        self.output = output

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, d)`` to the mean and log-variance of ``q(z | x)``, each ``(B, k)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, k)`` to the mean of ``p(x | z)``, ``(B, d)``."""
        out = self.decoder(z)
        return torch.tanh(out) if self.output == "tanh" else out
