"""The Fashion-MNIST networks lessons 07 and 09 build, for the lessons and the benchmark that reuse them.

- :func:`mlp_classifier`: lesson 07's multilayer perceptron, ``784 -> 256 -> 128 -> 10`` with ReLU
  and dropout.
- :func:`small_cnn`: lesson 09's convolutional network, two blocks of *3x3 convolution (padding 1)
  -> ReLU -> 2x2 max pooling*, then (optionally) a hidden dense layer, then the ten classes. Its
  widths are arguments: the ``quick`` run profile trains ``channels=(16, 32)`` on a CPU, the
  ``full`` profile a wider one on a GPU.

Both map images ``(B, 1, 28, 28)`` (values in [0, 1]) to class scores (logits) ``(B, 10)``.

>>> import torch
>>> small_cnn()(torch.zeros(2, 1, 28, 28)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

from torch import nn

__all__ = ["mlp_classifier", "small_cnn"]


def mlp_classifier(hidden: tuple[int, ...] = (256, 128), dropout: float = 0.2,
                   classes: int = 10) -> nn.Sequential:
    """Lesson 07's MLP: flatten ``(B, 1, 28, 28)`` to ``(B, 784)``, then dense layers with ReLU.

    Dropout follows the first hidden layer only.
    """
    if not hidden or any(h < 1 for h in hidden):
        raise ValueError(f"hidden must be one or more positive layer widths, got {hidden!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for i, h in enumerate(hidden):
        layers += [nn.Linear(width, h), nn.ReLU()]
        if i == 0 and dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def small_cnn(channels: tuple[int, int] = (16, 32), hidden: int = 0, dropout: float = 0.0,
              classes: int = 10) -> nn.Sequential:
    """Lesson 09's CNN: ``(B, 1, 28, 28) -> (B, c1, 14, 14) -> (B, c2, 7, 7) -> (B, classes)``.

    Args:
        channels: the filters of the two convolution blocks ``(c1, c2)``.
        hidden: units of a dense ReLU layer before the output; ``0`` for none.
        dropout: dropout before each dense layer (``0`` for none).
        classes: the number of outputs.
    """
    if len(channels) != 2 or min(channels) < 1:
        raise ValueError(f"channels must be two positive filter counts (c1, c2), got {channels!r}")
    if hidden < 0 or not 0 <= dropout < 1:
        raise ValueError(f"need hidden >= 0 and 0 <= dropout < 1, got hidden={hidden}, dropout={dropout}")
    c1, c2 = channels
    layers: list[nn.Module] = [
        nn.Conv2d(1, c1, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (c1, 14, 14)
        nn.Conv2d(c1, c2, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (c2, 7, 7)
        nn.Flatten(),
    ]
    width = c2 * 7 * 7
    if hidden:
        layers += ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers += ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(width, classes)]
    return nn.Sequential(*layers)
