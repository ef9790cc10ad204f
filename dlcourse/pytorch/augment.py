"""Data augmentation on batches of images, in plain tensor operations (lesson 09b; no torchvision).

Each transform takes a batch ``x`` of shape ``(B, C, H, W)`` and a :class:`torch.Generator`, and
returns a new batch of the same shape, drawing its randomness for every image separately from that
generator only (so a seeded generator makes a run reproducible, and nothing touches torch's global
generator):

- :func:`random_shift`: pad every side with ``max_shift`` pixels of ``fill`` and crop a random
  ``H x W`` window: the image moves by up to ``max_shift`` pixels in each direction;
- :func:`random_flip`: mirror left and right, each image with probability ``p``;
- :func:`random_erasing`: set a random ``size x size`` square to ``fill``, each image with
  probability ``p`` (DeVries and Taylor's *cutout*, Zhong et al.'s *random erasing*).

:func:`augmenter` chains them into one ``x -> x`` function with its own generator, the form
:class:`AugmentedBatches` applies to every training batch, afresh each epoch.

>>> x = torch.arange(4.0).view(1, 1, 1, 4)
>>> random_flip(x, torch.Generator().manual_seed(0), p=1.0)
tensor([[[[3., 2., 1., 0.]]]])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch

from dlcourse.pytorch.training import Batch

__all__ = ["random_shift", "random_flip", "random_erasing", "augmenter", "AugmentedBatches"]


def _check_batch(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} takes a batch of images (B, C, H, W), got shape {tuple(x.shape)}; "
                         "add the missing axes first, e.g. x[None] for one image (C, H, W)")


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")


def random_shift(x: torch.Tensor, generator: torch.Generator, max_shift: int = 2,
                 fill: float = 0.0) -> torch.Tensor:
    """Move every image by its own random offset of up to ``max_shift`` pixels in each direction.

    Image ``b`` is padded with ``max_shift`` pixels of ``fill`` on every side, ``(H + 2s, W + 2s)``,
    and the ``H x W`` window whose top-left corner is ``(dy_b, dx_b)`` is kept, with ``dy_b`` and
    ``dx_b`` drawn uniformly from ``0 .. 2s``: the content moves by ``s - dy_b`` rows and
    ``s - dx_b`` columns (``0`` where the draw is ``s``).

    Args:
        x: images ``(B, C, H, W)``.
        generator: the source of the offsets (on ``x``'s device for a CUDA tensor: draws are made
            on the CPU and moved).
        max_shift: ``s >= 0``, the largest move in pixels.
        fill: the value of the pixels that move in from outside (the background, 0 for Fashion-MNIST).

    Returns:
        ``(B, C, H, W)``, a new tensor.
    """
    _check_batch(x, "random_shift")
    if max_shift < 0:
        raise ValueError(f"max_shift must be a number of pixels >= 0, got {max_shift}")
    if max_shift == 0:
        return x.clone()
    b, _, h, w = x.shape
    s = max_shift
    padded = torch.nn.functional.pad(x, (s, s, s, s), value=fill)  # (B, C, H + 2s, W + 2s)
    dy, dx = torch.randint(0, 2 * s + 1, (2, b), generator=generator).to(x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    # advanced indices around a slice put their axes first: (B, H, W, C)
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left to right with probability ``p``: ``out[b, :, i, j] = x[b, :, i, W - 1 - j]``.

    Args:
        x: images ``(B, C, H, W)``.
        generator: decides which images flip.
        p: the probability of a flip.

    Returns:
        ``(B, C, H, W)``, a new tensor.
    """
    _check_batch(x, "random_flip")
    _check_p(p)
    flip = (torch.rand(len(x), generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_erasing(x: torch.Tensor, generator: torch.Generator, size: int = 4, p: float = 0.5,
                   fill: float = 0.0) -> torch.Tensor:
    """Set a random ``size x size`` square of each image (all channels) to ``fill``, with probability ``p``.

    The square's top-left corner ``(r, c)`` is uniform over ``0 .. H - size`` and ``0 .. W - size``,
    so the square lies inside the image.

    Args:
        x: images ``(B, C, H, W)``.
        generator: decides which images are erased, and where.
        size: the side of the square in pixels, ``1 .. min(H, W)``.
        p: the probability that an image is erased.
        fill: the value written into the square.

    Returns:
        ``(B, C, H, W)``, a new tensor.
    """
    _check_batch(x, "random_erasing")
    _check_p(p)
    b, _, h, w = x.shape
    if not 1 <= size <= min(h, w):
        raise ValueError(f"size must be between 1 and the image's shorter side {min(h, w)}, got {size}")
    erase = torch.rand(b, generator=generator) < p
    top = torch.randint(0, h - size + 1, (b,), generator=generator)
    left = torch.randint(0, w - size + 1, (b,), generator=generator)
    r, c = torch.arange(h), torch.arange(w)
    inside = (((r[None, :] >= top[:, None]) & (r[None, :] < top[:, None] + size))[:, :, None]
              & ((c[None, :] >= left[:, None]) & (c[None, :] < left[:, None] + size))[:, None, :])
    mask = (inside & erase[:, None, None]).to(x.device)[:, None]  # (B, 1, H, W)
    return x.masked_fill(mask, fill)


def augmenter(shift: int = 0, flip: float = 0.0, erase: int = 0, erase_p: float = 0.5,
              fill: float = 0.0, seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """One function ``x (B, C, H, W) -> (B, C, H, W)`` applying, in this order, the transforms asked for.

    Args:
        shift: :func:`random_shift` by up to ``shift`` pixels (``0``: none).
        flip: :func:`random_flip` with this probability (``0``: none).
        erase: :func:`random_erasing` of a square of this side (``0``: none), with probability ``erase_p``.
        erase_p: see ``erase``.
        fill: the background value for shifts and erasing.
        seed: seeds the function's own :class:`torch.Generator`: two augmenters with the same
            arguments transform the same sequence of batches identically.

    Returns:
        The function; each call draws new offsets, flips and squares.
    """
    if shift < 0 or erase < 0:
        raise ValueError(f"shift and erase must be pixel counts >= 0, got shift={shift}, erase={erase}")
    _check_p(flip)
    generator = torch.Generator().manual_seed(seed)

    def augment(x: torch.Tensor) -> torch.Tensor:
        if shift:
            x = random_shift(x, generator, shift, fill)
        if flip:
            x = random_flip(x, generator, flip)
        if erase:
            x = random_erasing(x, generator, erase, erase_p, fill)
        return x

    return augment


class AugmentedBatches:
    """Wrap ``(x, y)`` batches and apply ``augment(x)`` to every training batch, afresh each epoch."""

    def __init__(self, batches: Iterable[Batch], augment: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.batches, self.augment = batches, augment

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        for x, y in self.batches:
            yield self.augment(x), y
