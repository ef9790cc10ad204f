"""Mini-batches for :func:`dlcourse.pytorch.training.fit`: images as tensors, two ways to batch them.

- :func:`images_to_tensor`: uint8 images ``(N, H, W)`` -> float32 ``(N, 1, H, W)`` in [0, 1];
- :class:`ArrayDataset`: a map-style dataset for a :class:`torch.utils.data.DataLoader`;
- :class:`TensorBatches`: slices tensors that already live on the device (much faster for small
  images on a GPU).

Shuffling draws from torch's global generator in both cases, so ``seed_everything`` makes it
reproducible and a checkpoint's ``rng_state`` captures it. :mod:`dlcourse.pytorch.training`
re-exports all three: lessons import the loop and its data from one place.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["Batch", "images_to_tensor", "ArrayDataset", "TensorBatches"]

#: One mini-batch: inputs ``(B, ...)`` and int64 targets ``(B,)``.
Batch = tuple[torch.Tensor, torch.Tensor]


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """Turn uint8 images ``(N, H, W)`` into float32 ``(N, 1, H, W)`` with values in [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


class ArrayDataset(Dataset):
    """A map-style dataset over uint8 images and integer labels held in memory.

    ``dataset[i]`` returns ``(x, y)``: ``x`` float32 ``(1, H, W)`` in [0, 1], ``y`` an int64 scalar.

    Args:
        images: ``(N, H, W)`` uint8.
        labels: ``(N,)`` integers.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.x = images_to_tensor(images)
        self.y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> Batch:
        return self.x[i], self.y[i]


class TensorBatches:
    """Mini-batches sliced from tensors that already live on the device.

    Equivalent to ``DataLoader(TensorDataset(x, y), batch_size, shuffle)`` but without the
    per-example Python overhead: on a GPU it keeps the whole of Fashion-MNIST on the card.

    Args:
        x: inputs, first dimension ``N``.
        y: targets ``(N,)``.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle: draw a new order each epoch from torch's global (CPU) generator.
        device: where to move ``x`` and ``y`` once (default: leave them where they are).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = False,
                 device: torch.device | str | None = None) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.x = x.to(device) if device is not None else x
        self.y = y.to(device) if device is not None else y
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.y)
        order = torch.randperm(n).to(self.y.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                yield self.x[idx], self.y[idx]
