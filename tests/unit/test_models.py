"""Lessons 07's and 09's networks: the shapes and parameter counts the lessons state, counted by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlcourse.pytorch.models import mlp_classifier, small_cnn


def test_mlp_is_lesson_07s_network():
    model = mlp_classifier()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    # 784*256 + 256 + 256*128 + 128 + 128*10 + 10, as lesson 07 prints
    assert sum(p.numel() for p in model.parameters()) == 235_146
    assert sum(isinstance(m, nn.Dropout) for m in model) == 1


def test_cnn_shapes_and_parameters():
    quick = small_cnn()
    assert quick(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # conv 1->16 (9*16+16) + conv 16->32 (9*16*32+32) + dense 32*7*7 -> 10
    assert sum(p.numel() for p in quick.parameters()) == (9 * 16 + 16) + (9 * 16 * 32 + 32) + (1568 * 10 + 10)
    wide = small_cnn((32, 64), hidden=256, dropout=0.3)
    assert wide(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    expected = (9 * 32 + 32) + (9 * 32 * 64 + 64) + (64 * 49 * 256 + 256) + (256 * 10 + 10)
    assert sum(p.numel() for p in wide.parameters()) == expected
    assert sum(isinstance(m, nn.Dropout) for m in wide) == 2


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="channels must be two positive filter counts"):
        small_cnn((16,))
    with pytest.raises(ValueError, match="need hidden >= 0 and 0 <= dropout < 1"):
        small_cnn(dropout=1.0)
    with pytest.raises(ValueError, match="hidden must be one or more positive layer widths"):
        mlp_classifier(hidden=())
