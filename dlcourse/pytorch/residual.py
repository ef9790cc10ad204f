"""Residual blocks with a choice of normalisation: the building block of lesson 09b's deep CNNs.

A block applies two 3x3 convolutions (padding 1, the same number of channels in and out), each
followed by a normalisation, with a ReLU between them:

    F(x) = norm2(conv2(relu(norm1(conv1(x)))))

and returns ``relu(x + F(x))`` with the skip connection (He et al., *Deep Residual Learning for
Image Recognition*, 2016) or ``relu(F(x))`` without it: the *plain* block of the same depth and
the same parameters, so that a plain and a residual network differ in the addition only.

Normalisation (``norm=``):

- ``"batch"``: :class:`torch.nn.BatchNorm2d`, statistics over the batch and the positions of each
  channel (running averages in ``eval()`` mode);
- ``"layer"``: layer normalisation of each example over all its channels and positions,
  :class:`torch.nn.GroupNorm` with one group (the same in ``train()`` and ``eval()`` mode);
- ``None``: no normalisation (the convolutions then carry a bias).

:func:`deep_cnn` stacks blocks into a classifier whose depth is one argument: a 3x3 *stem*
convolution from the image's channels to ``width`` feature maps, ``blocks`` blocks, a global
average pool and a linear layer to the classes. ``skip=False`` gives the plain network of the same
depth and parameters, so lesson 09b can compare the two depth by depth.

Two measurements lesson 09b makes on these networks: :func:`kaiming_init` re-draws every weight
with Kaiming (He) initialisation, to tell what normalisation does from what a better start does;
:func:`first_layer_gradient_norm` is the size of the loss's gradient at the stem's weights, which
shows a gradient vanishing or exploding with depth.

>>> import torch
>>> block = ResidualBlock(8)
>>> block(torch.zeros(2, 8, 14, 14)).shape
torch.Size([2, 8, 14, 14])
>>> net = deep_cnn(blocks=3, width=8, norm=None, skip=False)
>>> net(torch.zeros(2, 1, 14, 14)).shape, conv_layers(net)
(torch.Size([2, 10]), 7)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

__all__ = ["NORMS", "Norm", "ResidualBlock", "norm_layer", "deep_cnn", "conv_layers", "kaiming_init",
           "first_layer_gradient_norm"]

Norm = Literal["batch", "layer"] | None
#: The normalisations a block accepts.
NORMS: tuple[Norm, ...] = ("batch", "layer", None)


def norm_layer(norm: Norm, channels: int) -> nn.Module:
    """Return the normalisation ``norm`` of ``channels`` feature maps, ``(B, C, H, W) -> (B, C, H, W)``.

    ``"batch"`` normalises each channel over the batch and the positions, ``"layer"`` each example
    over its channels and positions, ``None`` is the identity. Each has a learned scale and shift
    per channel (none for ``None``).
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if channels < 1:
        raise ValueError(f"channels must be a positive number of feature maps, got {channels}")
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with normalisation, and (``skip=True``) the input added back.

    Maps ``(B, C, H, W)`` to ``(B, C, H, W)`` with ``C = channels``. Submodules: ``conv1``,
    ``norm1``, ``conv2``, ``norm2``. With ``skip=False`` the block is the plain one of the same
    depth and parameters.
    """

    def __init__(self, channels: int, norm: Norm = "batch", skip: bool = True) -> None:
        super().__init__()
        bias = norm is None  # a normalisation's shift makes a convolution's bias redundant
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=bias)
        self.norm1 = norm_layer(norm, channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=bias)
        self.norm2 = norm_layer(norm, channels)
        self.skip = skip
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"ResidualBlock({self.channels}) takes (B, {self.channels}, H, W) feature maps, "
                             f"got shape {tuple(x.shape)}")
        out = self.norm2(self.conv2(torch.relu(self.norm1(self.conv1(x)))))
        return torch.relu(x + out if self.skip else out)

    def extra_repr(self) -> str:
        return f"skip={self.skip}"


def deep_cnn(blocks: int, width: int = 8, norm: Norm = "batch", skip: bool = True,
             in_channels: int = 1, classes: int = 10) -> nn.Sequential:
    """A classifier of ``blocks`` residual (or plain) blocks: ``(B, in_channels, H, W)`` -> ``(B, classes)``.

    Layers, by name: ``stem`` (a 3x3 convolution, padding 1, ``in_channels -> width``, then
    ``norm`` and a ReLU: ``(B, width, H, W)``), ``blocks`` (the blocks, each
    ``(B, width, H, W) -> (B, width, H, W)``), ``pool`` (the mean of each feature map over its
    positions, flattened: ``(B, width)``) and ``head`` (linear, ``(B, width) -> (B, classes)``).
    The network has ``2 * blocks + 1`` convolution layers (:func:`conv_layers`); ``skip=False``
    makes every block plain, with the same parameters.

    Args:
        blocks: the number of blocks (``0`` leaves the stem alone).
        width: the feature maps of every convolution.
        norm: ``"batch"``, ``"layer"`` or ``None``, for the stem and every block.
        skip: residual blocks (``True``) or plain ones (``False``).
        in_channels: the image's channels (1 for grey images).
        classes: the number of outputs.
    """
    if blocks < 0:
        raise ValueError(f"blocks must be a number of blocks >= 0, got {blocks}")
    if width < 1 or in_channels < 1 or classes < 1:
        raise ValueError(f"width, in_channels and classes must be positive, "
                         f"got {width}, {in_channels}, {classes}")
    stem = nn.Sequential(nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=norm is None),
                         norm_layer(norm, width), nn.ReLU())
    return nn.Sequential(OrderedDict(
        stem=stem,
        blocks=nn.Sequential(*(ResidualBlock(width, norm=norm, skip=skip) for _ in range(blocks))),
        pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        head=nn.Linear(width, classes),
    ))


def conv_layers(model: nn.Module) -> int:
    """The number of convolution layers in ``model`` (its depth, as lesson 09b counts it)."""
    return sum(isinstance(m, nn.Conv2d) for m in model.modules())


def kaiming_init(model: nn.Module) -> nn.Module:
    """Re-draw ``model``'s convolution and linear weights with Kaiming (He) initialisation, in place.

    Each weight is drawn from ``N(0, 2 / fan_in)`` (``fan_in``: the inputs of one output unit,
    ``in_channels * kh * kw`` for a convolution) and each bias set to 0, so that a ReLU layer keeps
    the mean square of its input on average (He et al., *Delving Deep into Rectifiers*, 2015).
    PyTorch's default draws weights uniformly with variance ``1 / (3 fan_in)``, which divides the
    mean square by about 6 at every ReLU layer (biases aside). Normalisation layers are left as they are. The
    current torch seed decides the draw. Returns ``model``.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def first_layer_gradient_norm(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> float:
    """The Euclidean norm of d(cross-entropy)/d(stem weights) for one batch, ``x (B, C, H, W)``, ``y (B,)``.

    ``model`` is a :func:`deep_cnn`; the loss is the batch's mean cross-entropy, in the mode the
    model is in. The gradient is computed with autograd and the model's gradients are left as
    they were.
    """
    weight = model.stem[0].weight
    (grad,) = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), weight)
    return float(grad.norm())
