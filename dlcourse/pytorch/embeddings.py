"""Looking inside a learned embedding: cosine similarities, nearest neighbours, a 2-D picture.

An embedding matrix ``weights`` has one row per token, ``(V, D)``: ``nn.Embedding.weight``, or
any array of the same shape (lesson 10a reads the characters' embeddings of its surname models).

- :func:`cosine_similarities`: every pair of rows, ``(V, V)``.
- :func:`nearest_neighbours`: the ``k`` rows most similar to one row, by cosine similarity.
- :func:`mean_similarity`: the mean cosine similarity between two groups of rows (vowels with
  vowels, vowels with consonants), leaving out each row's similarity with itself.
- :func:`project_2d`: the rows' coordinates on their first two principal components (PCA by an
  SVD of the centred matrix), with a fixed sign so that the picture is the same on every machine.

>>> import torch
>>> w = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
>>> [(row, round(similarity, 3)) for row, similarity in nearest_neighbours(w, 0, k=1)]
[(1, 0.994)]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["cosine_similarities", "nearest_neighbours", "mean_similarity", "project_2d"]


def _matrix(weights: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``weights`` as a float64 tensor of shape ``(V, D)`` on the CPU, detached from any graph."""
    matrix = torch.as_tensor(weights).detach().to("cpu", torch.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 1:
        raise ValueError(f"weights must be an embedding matrix (V, D) with at least two rows, got shape "
                         f"{tuple(matrix.shape)}; pass nn.Embedding(...).weight, one row per token.")
    return matrix


def _indices(rows: Sequence[int], n_rows: int, what: str) -> list[int]:
    rows = [int(i) for i in rows]
    bad = [i for i in rows if not 0 <= i < n_rows]
    if bad:
        raise ValueError(f"{what} has row indices {bad} outside 0..{n_rows - 1}; index the rows of the "
                         f"embedding matrix (a vocabulary's ids).")
    return rows


def _unit_rows(matrix: torch.Tensor) -> torch.Tensor:
    """Each row divided by its length; a row of zeros stays zero."""
    norms = matrix.norm(dim=1, keepdim=True)
    return matrix / torch.where(norms > 0, norms, torch.ones_like(norms))


def cosine_similarities(weights: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Cosine similarity of every pair of rows: ``(V, D) -> (V, V)``, in ``[-1, 1]``.

    Entry ``(i, j)`` is ``w_i . w_j / (|w_i| |w_j|)``; a row of zeros (a padding token) has
    similarity 0 with everything, itself included. Computed in float64.
    """
    unit = _unit_rows(_matrix(weights))
    return (unit @ unit.T).clamp(-1.0, 1.0)


def nearest_neighbours(weights: torch.Tensor | np.ndarray, index: int, k: int = 5,
                       exclude: Sequence[int] = ()) -> list[tuple[int, float]]:
    """The ``k`` rows most similar to row ``index`` by cosine similarity, most similar first.

    Returns ``[(row, similarity), ...]``, never ``index`` itself nor a row in ``exclude`` (for
    example padding and unknown-token ids). Ties keep the lower row first.
    """
    matrix = _matrix(weights)
    (index,) = _indices([index], len(matrix), "index")
    skipped = set(_indices(exclude, len(matrix), "exclude")) | {index}
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    candidates = [i for i in range(len(matrix)) if i not in skipped]
    if k > len(candidates):
        raise ValueError(f"k={k} neighbours asked for, but only {len(candidates)} rows are left after "
                         f"leaving out the row itself and exclude; ask for fewer.")
    similarity = cosine_similarities(matrix)[index]
    ranked = sorted(candidates, key=lambda i: (-float(similarity[i]), i))
    return [(i, float(similarity[i])) for i in ranked[:k]]


def mean_similarity(weights: torch.Tensor | np.ndarray, group_a: Sequence[int],
                    group_b: Sequence[int]) -> float:
    """Mean cosine similarity over the pairs ``(i, j)``, ``i`` in ``group_a``, ``j`` in ``group_b``,
    ``i != j``: with ``group_a == group_b``, the mean similarity within a group."""
    matrix = _matrix(weights)
    a = _indices(group_a, len(matrix), "group_a")
    b = _indices(group_b, len(matrix), "group_b")
    different = torch.tensor(a)[:, None] != torch.tensor(b)[None, :]   # (len(a), len(b)): i != j
    if not a or not b or not bool(different.any()):
        raise ValueError("the groups leave no pair of different rows; give each group at least one row "
                         "(and a group compared with itself at least two).")
    unit = _unit_rows(matrix)
    similarity = (unit[a] @ unit[b].T).clamp(-1.0, 1.0)
    return float(similarity[different].mean())


def project_2d(weights: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Coordinates of the rows on their first two principal components: ``(V, D) -> (V, 2)``.

    PCA by an SVD of the centred matrix ``W - mean(W)``: the coordinates are ``U[:, :2] * S[:2]``,
    the directions of largest spread first. A principal direction's sign is arbitrary; each is
    flipped so that its largest coordinate in absolute value is positive, so the picture does not
    mirror from one machine to another. Needs ``D >= 2``.
    """
    matrix = _matrix(weights)
    if matrix.shape[1] < 2:
        raise ValueError(f"a 2-D projection needs at least two embedding dimensions, got {matrix.shape[1]}.")
    centred = matrix - matrix.mean(dim=0, keepdim=True)
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    coords = u[:, :2] * s[:2]
    largest = coords.abs().argmax(dim=0)
    signs = torch.sign(coords[largest, torch.arange(2)])
    return coords * torch.where(signs == 0, torch.ones_like(signs), signs)
