"""Character n-gram models (lesson 13's baselines): counts, add-k smoothing, held-out nats per character.

An order-``n`` model predicts the next character from the ``n - 1`` before it by counting::

    P(c | context) = (count(context, c) + k) / (count(context) + k * V)

``n = 1`` is the unigram model (frequencies, no context), ``n = 2`` the bigram and ``n = 3`` the
trigram. The smoothing ``k`` is chosen on the last tenth of the *training* ids, never on the ids
that are scored. A uniform model, ``log V`` nats per character, is the floor of all floors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NGramModel", "fit_ngram", "uniform_nats"]


def uniform_nats(vocab_size: int) -> float:
    """Cross-entropy of guessing uniformly among ``V`` characters: ``log V`` nats."""
    return float(np.log(vocab_size))


def _codes(ids: np.ndarray, order: int, vocab_size: int) -> np.ndarray:
    # (N - order + 1,) flat index of every window of `order` ids: context digits, then the target
    code = np.zeros(len(ids) - order + 1, dtype=np.int64)
    for j in range(order):
        code = code * vocab_size + ids[j: len(ids) - order + 1 + j]
    return code


@dataclass
class NGramModel:
    """Smoothed log-probabilities ``log_p`` ``(V**(n-1), V)``: row = context, column = next character."""

    order: int
    vocab_size: int
    k: float
    log_p: np.ndarray

    def nats(self, ids: np.ndarray) -> float:
        """Mean ``-log P(next | context)`` over ``ids`` ``(N,)`` int64, where the context is complete."""
        codes = _codes(np.asarray(ids, dtype=np.int64), self.order, self.vocab_size)
        return float(-self.log_p.reshape(-1)[codes].mean())


def _count(ids: np.ndarray, order: int, vocab_size: int) -> np.ndarray:
    counts = np.bincount(_codes(ids, order, vocab_size), minlength=vocab_size ** order)
    return counts.reshape(vocab_size ** (order - 1), vocab_size).astype(np.float64)


def _smooth(counts: np.ndarray, order: int, k: float) -> NGramModel:
    v = counts.shape[1]
    log_p = np.log(counts + k) - np.log(counts.sum(axis=1, keepdims=True) + k * v)
    return NGramModel(order, v, k, log_p)


def fit_ngram(train_ids: np.ndarray, order: int, vocab_size: int,
              ks: Sequence[float] = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)) -> NGramModel:
    """Count order-``n`` windows in ``train_ids`` ``(N,)``; pick ``k`` from ``ks`` on their last tenth.

    Raises:
        ValueError: for an order below 1, or a table of more than 50 million entries.
    """
    if order < 1 or vocab_size ** order > 50_000_000:
        raise ValueError(f"order={order} with V={vocab_size} needs a table of V**order entries: "
                         "use an order of at least 1 and at most 50 million entries.")
    train_ids = np.asarray(train_ids, dtype=np.int64)
    cut = len(train_ids) * 9 // 10
    fit, check = train_ids[:cut], train_ids[cut:]
    counts = _count(fit, order, vocab_size)
    best = min(ks, key=lambda k: _smooth(counts, order, k).nats(check))
    return _smooth(_count(train_ids, order, vocab_size), order, best)
