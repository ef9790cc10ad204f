"""dlcourse.numpy_nn.conv against PyTorch's own convolution and pooling (float64, to 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.numpy_nn.conv import conv2d, im2col, max_pool2d, output_size

CASES = [  # (N, C, H, W, F, K, stride, padding)
    (2, 1, 7, 7, 3, 3, 1, 0),
    (2, 1, 8, 6, 2, 3, 1, 1),
    (1, 3, 9, 9, 4, 3, 2, 1),
    (3, 2, 10, 7, 5, 5, 2, 2),
    (2, 4, 6, 6, 1, 1, 1, 0),
    (1, 3, 11, 11, 2, 4, 3, 0),
    (2, 2, 5, 5, 3, 2, 1, 3),
]


@pytest.mark.parametrize("n,c,h,w,f,k,stride,padding", CASES)
def test_conv2d_matches_torch(n, c, h, w, f, k, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, c, h, w))
    weight = rng.normal(size=(f, c, k, k))
    bias = rng.normal(size=f)
    ours = conv2d(x, weight, bias, stride=stride, padding=padding)
    theirs = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias),
                      stride=stride, padding=padding).numpy()
    assert ours.shape == theirs.shape
    assert ours.shape[2:] == (output_size(h, k, stride, padding), output_size(w, k, stride, padding))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_conv2d_rectangular_kernel_and_no_bias():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 8, 9))
    weight = rng.normal(size=(4, 3, 2, 4))
    ours = conv2d(x, weight, stride=2, padding=1)
    theirs = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), stride=2, padding=1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_im2col_row_is_the_receptive_field():
    x = np.arange(2 * 2 * 5 * 5, dtype=float).reshape(2, 2, 5, 5)
    cols = im2col(x, 3, 3, stride=2, padding=0)
    assert cols.shape == (2, 2, 2, 2 * 3 * 3)
    np.testing.assert_array_equal(cols[1, 1, 0], x[1, :, 2:5, 0:3].ravel())


@pytest.mark.parametrize("c,h,w,k,stride,padding", [(1, 8, 8, 2, None, 0), (3, 9, 7, 3, 2, 1),
                                                    (2, 6, 6, 3, 1, 0), (4, 7, 7, 2, 2, 1)])
def test_max_pool2d_matches_torch(c, h, w, k, stride, padding):
    x = np.random.default_rng(2).normal(size=(2, c, h, w))
    ours = max_pool2d(x, k, stride, padding)
    theirs = F.max_pool2d(torch.from_numpy(x), k, stride, padding).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_output_size_formula_by_hand():
    assert output_size(28, 3) == 26
    assert output_size(28, 3, padding=1) == 28
    assert output_size(28, 2, stride=2) == 14
    assert output_size(7, 3, stride=2, padding=1) == 4


def test_clear_errors():
    with pytest.raises(ValueError, match="channels"):
        conv2d(np.zeros((1, 3, 5, 5)), np.zeros((2, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv2d(np.zeros((5, 5)), np.zeros((2, 1, 3, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        output_size(2, 5)
