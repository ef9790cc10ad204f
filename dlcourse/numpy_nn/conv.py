"""Convolution and max pooling in NumPy, vectorised with im2col (lesson 09).

Shapes follow PyTorch: images ``(N, C, H, W)``, filters ``(F, C, KH, KW)``. "Convolution" here
is what every deep learning library computes, a *cross-correlation* (the filter is not flipped):

    out[n, f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] * xp[n, c, i*s + u, j*s + v]

with ``xp`` the input zero-padded by ``p`` pixels on each side and ``s`` the stride. Each output
side is ``floor((H + 2p - K) / s) + 1`` (:func:`output_size`).

:func:`im2col` copies every receptive field into one column, so the whole convolution becomes a
single matrix product (:func:`conv2d`). The unit tests compare both functions with
``torch.nn.functional.conv2d`` and ``max_pool2d``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["output_size", "pad", "im2col", "conv2d", "max_pool2d"]


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Return ``floor((size + 2 * padding - kernel) / stride) + 1``, one side of the output.

    Raises:
        ValueError: a non-positive stride or kernel, negative padding, or a kernel larger than
            the padded input (no output position would fit).
    """
    if stride < 1 or kernel < 1 or padding < 0:
        raise ValueError(f"need stride >= 1, kernel >= 1 and padding >= 0, got stride={stride}, "
                         f"kernel={kernel}, padding={padding}")
    if kernel > size + 2 * padding:
        raise ValueError(f"a kernel of {kernel} does not fit in an input of {size} padded by "
                         f"{padding} on each side: use a smaller kernel or more padding")
    return (size + 2 * padding - kernel) // stride + 1


def _check_images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got shape {x.shape}; "
                         "for one grey image use x[None, None]")
    return x


def pad(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad ``x`` ``(N, C, H, W)`` by ``padding`` pixels on each side of H and W.

    Returns ``(N, C, H + 2 padding, W + 2 padding)``.
    """
    x = _check_images(x)
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Copy every ``kh x kw`` receptive field of ``x`` into one row.

    Args:
        x: images ``(N, C, H, W)``.
        kh, kw: kernel height and width.
        stride, padding: as in :func:`conv2d`.

    Returns:
        ``(N, OH, OW, C * kh * kw)``: entry ``[n, i, j]`` is the patch
        ``xp[n, :, i*stride : i*stride + kh, j*stride : j*stride + kw]`` flattened in ``(C, kh, kw)``
        order, the order of a filter ``w[f]`` flattened the same way.
    """
    x = _check_images(x)
    n, c, h, w = x.shape
    oh = output_size(h, kh, stride, padding)
    ow = output_size(w, kw, stride, padding)
    xp = pad(x, padding)
    # All kh x kw windows as a view (N, C, H', W', kh, kw), then every stride-th one.
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride][:, :, :oh, :ow]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, oh, ow, c * kh * kw)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """2-D convolution (cross-correlation) of a batch of images, as one matrix product.

    Args:
        x: images ``(N, C, H, W)``.
        w: filters ``(F, C, KH, KW)``.
        b: biases ``(F,)`` or ``None``.
        stride: step between neighbouring output positions, in pixels.
        padding: zeros added on each side of H and W.

    Returns:
        ``(N, F, OH, OW)`` with ``OH = output_size(H, KH, stride, padding)`` (and W alike).

    Raises:
        ValueError: wrong number of dimensions, or channels of ``x`` and ``w`` that differ.
    """
    x = _check_images(x)
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"expected filters of shape (F, C, KH, KW), got shape {w.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"the images have {x.shape[1]} channels but the filters expect "
                         f"{w.shape[1]}: w must have shape (F, {x.shape[1]}, KH, KW)")
    f, _, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, padding)            # (N, OH, OW, C*KH*KW)
    out = cols @ w.reshape(f, -1).T                     # (N, OH, OW, F)
    if b is not None:
        b = np.asarray(b)
        if b.shape != (f,):
            raise ValueError(f"expected one bias per filter, shape ({f},), got shape {b.shape}")
        out = out + b
    return out.transpose(0, 3, 1, 2)


def max_pool2d(x: np.ndarray, kernel: int = 2, stride: int | None = None,
               padding: int = 0) -> np.ndarray:
    """Max pooling: the largest value in each ``kernel x kernel`` window, channel by channel.

    Args:
        x: images ``(N, C, H, W)``.
        kernel: window side.
        stride: step between windows (default ``kernel``: windows that do not overlap).
        padding: pixels of ``-inf`` added on each side (they never win), at most ``kernel // 2``
            as in PyTorch.

    Returns:
        ``(N, C, OH, OW)`` with ``OH = output_size(H, kernel, stride, padding)``.
    """
    x = _check_images(x)
    stride = kernel if stride is None else stride
    if padding > kernel // 2:
        raise ValueError(f"padding must be at most kernel // 2 = {kernel // 2}, got {padding}")
    n, c, h, w = x.shape
    oh = output_size(h, kernel, stride, padding)
    ow = output_size(w, kernel, stride, padding)
    xp = x.astype(np.result_type(x.dtype, np.float32), copy=False)
    if padding:
        xp = np.pad(xp, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                    constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kernel, kernel), axis=(2, 3))
    return windows[:, :, ::stride, ::stride][:, :, :oh, :ow].max(axis=(4, 5))
