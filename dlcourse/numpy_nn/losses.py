"""Loss functions with their gradients, for the NumPy network (lessons 03-05).

Every loss takes the network's output for a mini-batch and the targets, and returns
``(loss, grad)``: the scalar loss (a Python float, averaged over the batch) and its gradient
with respect to the output, an array of the output's shape and dtype. Shapes:

- ``output``: ``(N, K)``, one row per example (``N`` examples, ``K`` outputs or classes);
- targets: ``(N, K)`` for :func:`mse` and :func:`quadratic_cost`, integer class labels of
  shape ``(N,)`` with values in ``0..K-1`` for :func:`softmax_cross_entropy`.

The conventions match PyTorch's, so lesson 06 can compare the two:
``mse`` is ``torch.nn.functional.mse_loss`` (mean over all ``N*K`` elements) and
``softmax_cross_entropy`` is ``torch.nn.functional.cross_entropy`` on logits (mean over ``N``).
``quadratic_cost`` is Higham & Higham's cost ``(1/N) sum_i 1/2 ||y_i - a_i||^2`` (lesson 04).
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "log_softmax", "softmax_cross_entropy", "mse", "quadratic_cost"]


def _check_2d(name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, K), one row per example; "
                         f"got shape {a.shape}. Reshape a single example with x.reshape(1, -1).")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return a


def _check_same_shape(output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    output = _check_2d("output", output)
    target = np.asarray(target, dtype=output.dtype)
    if target.shape != output.shape:
        raise ValueError(f"target has shape {target.shape} but output has shape {output.shape}; "
                         "they must be equal (one target row per output row).")
    return output, target


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``z`` (shape ``(N, K)``): each row is exponentiated and normalised.

    Subtracting each row's maximum first changes nothing mathematically and prevents overflow.
    Returns an array of shape ``(N, K)`` whose rows sum to 1.
    """
    z = _check_2d("z", z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``log(softmax(z))`` computed stably; shape ``(N, K)`` -> ``(N, K)``."""
    z = _check_2d("z", z)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against integer class labels.

    ``L = -(1/N) sum_i log softmax(logits)_{i, labels_i}``, and its gradient with respect to the
    logits is ``(softmax(logits) - onehot(labels)) / N``.

    Args:
        logits: shape ``(N, K)``, unnormalised class scores (the last Linear layer's output).
        labels: shape ``(N,)``, integers in ``0..K-1``.

    Returns:
        ``(loss, grad)`` with ``grad`` of shape ``(N, K)``.
    """
    logits = _check_2d("logits", logits)
    labels = np.asarray(labels)
    n, k = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one integer class per row of logits; "
                         f"got shape {labels.shape}. Pass class indices, not one-hot rows.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers (class indices), got dtype {labels.dtype}.")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1} for logits with {k} columns; "
                         f"got values from {labels.min()} to {labels.max()}.")
    logp = log_softmax(logits)
    rows = np.arange(n)
    loss = -float(logp[rows, labels].mean())
    grad = np.exp(logp)
    grad[rows, labels] -= 1.0
    grad /= n
    return loss, grad


def mse(output: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all elements: ``mean((output - target)**2)``.

    Shapes: ``output`` and ``target`` ``(N, K)``. Returns ``(loss, grad)`` with
    ``grad = 2 (output - target) / (N K)`` of shape ``(N, K)``.
    """
    output, target = _check_same_shape(output, target)
    diff = output - target
    return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


def quadratic_cost(output: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Higham & Higham's quadratic cost ``(1/N) sum_i 1/2 ||target_i - output_i||^2``.

    Shapes: ``output`` and ``target`` ``(N, K)``. Returns ``(loss, grad)`` with
    ``grad = (output - target) / N`` of shape ``(N, K)``.
    """
    output, target = _check_same_shape(output, target)
    diff = output - target
    n = diff.shape[0]
    return float(0.5 * np.sum(diff * diff) / n), diff / n
