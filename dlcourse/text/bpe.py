"""Byte-level byte-pair encoding (lesson 13b): a tokenizer learned from text, written from scratch.

A text is its UTF-8 **bytes**, ids 0..255, so every string, and every byte string that is not valid
UTF-8, has an encoding: nothing is ever unknown. **Training** repeats one step: count every pair of
adjacent ids, give the most frequent pair a new id (256, 257, ...) and replace it everywhere. The
ordered list of merges *is* the tokenizer. **Encoding** cuts the bytes into chunks (:func:`split_chunks`:
a word with its leading space, a number, a run of punctuation, a run of white space; merges never
cross a chunk), then applies the merges to each chunk in the order they were learned. **Decoding**
concatenates each id's bytes, so ``decode(encode(b)) == b`` for every byte string ``b``.

Ties are broken the same way everywhere, so that training is deterministic: among the pairs with
the highest count, the smallest ``(first id, second id)`` wins.

Training keeps the pair counts up to date incrementally (only the chunks that contain the merged
pair are recounted) and finds the best pair with a heap, so a few hundred merges on a megabyte take
seconds in plain Python; :func:`merge` and :func:`pair_counts` are the one-step building blocks.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

__all__ = ["CHUNK", "split_chunks", "pair_counts", "merge", "BPE", "train_bpe"]

# A word (letters, and every byte >= 0x80, so UTF-8 letters stay inside their word) with an optional
# leading space, a number, a run of other symbols, or white space. Every byte matches one branch.
CHUNK = re.compile(rb" ?[A-Za-z\x80-\xff]+| ?[0-9]+| ?[^\sA-Za-z0-9\x80-\xff]+|\s+")


def _as_bytes(data: bytes | str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    raise TypeError(f"expected bytes or str, got {type(data).__name__}: encode a text with .encode('utf-8').")


def split_chunks(data: bytes | str) -> list[bytes]:
    """Cut ``data`` into the chunks merges stay inside; their concatenation is ``data`` (as bytes)."""
    return CHUNK.findall(_as_bytes(data))


def pair_counts(ids: Sequence[int], counts: Counter | None = None, weight: int = 1) -> Counter:
    """How often each adjacent pair occurs in ``ids``: ``{(a, b): count}``.

    The counts, times ``weight``, are added to ``counts`` when it is given (and it is returned).
    """
    counts = Counter() if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] += weight
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, left to right (``aaa`` -> ``Xa``)."""
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


@dataclass(frozen=True)
class BPE:
    """A trained tokenizer: ``merges[i]`` is the pair of ids that became id ``256 + i``.

    ``vocab_size`` is ``256 + len(merges)``; :meth:`truncated` gives the tokenizer of a smaller
    vocabulary (its merges are a prefix of these ones, the first ones learned).
    """

    merges: tuple[tuple[int, int], ...]
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for i, (a, b) in enumerate(self.merges):
            if not (0 <= a < 256 + i and 0 <= b < 256 + i):
                raise ValueError(f"merge {i} is {(a, b)}: a merge may only use ids that exist before it "
                                 f"(below {256 + i}).")

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    @property
    def vocab(self) -> list[bytes]:
        """The bytes of every id, ``vocab_size`` entries."""
        table = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            table.append(table[a] + table[b])
        return table

    def truncated(self, vocab_size: int) -> BPE:
        """The tokenizer with the first ``vocab_size - 256`` merges."""
        if not 256 <= vocab_size <= self.vocab_size:
            raise ValueError(f"vocab_size must be between 256 and {self.vocab_size}, got {vocab_size}.")
        return BPE(self.merges[: vocab_size - 256])

    def _ranks(self) -> dict[tuple[int, int], int]:
        if "ranks" not in self._cache:
            self._cache["ranks"] = {pair: i for i, pair in enumerate(self.merges)}
        return self._cache["ranks"]

    def encode_chunk(self, chunk: bytes) -> list[int]:
        """One chunk's ids: repeatedly merge the present pair that was learned first."""
        ranks, ids = self._ranks(), list(chunk)
        while len(ids) > 1:
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, len(ranks)))
            if pair not in ranks:
                break
            ids = merge(ids, pair, 256 + ranks[pair])
        return ids

    def encode(self, data: bytes | str) -> list[int]:
        """Bytes (or a ``str``, as UTF-8) -> ids, each below :attr:`vocab_size`."""
        memo = self._cache.setdefault("chunks", {})
        out: list[int] = []
        for chunk in split_chunks(data):
            if chunk not in memo:
                memo[chunk] = self.encode_chunk(chunk)
            out.extend(memo[chunk])
        return out

    def decode(self, ids: Iterable[int]) -> bytes:
        """Ids -> bytes (``.decode("utf-8", errors="replace")`` shows them as text)."""
        vocab = self._cache.setdefault("vocab", self.vocab)
        try:
            return b"".join(vocab[i] for i in ids)
        except IndexError:
            raise ValueError(f"an id is not below vocab_size={self.vocab_size}.") from None


def train_bpe(data: bytes | str, vocab_size: int) -> BPE:
    """Learn ``vocab_size - 256`` merges from ``data``: the most frequent pair first, ties to the smallest.

    A pair seen only once is still merged; training stops early, with fewer merges, only when no
    chunk has two ids left to pair.
    """
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256 (the bytes), got {vocab_size}.")
    words = Counter(split_chunks(data))
    chunks = [list(w) for w in words]                         # each distinct chunk once ...
    freq = list(words.values())                               # ... with how often it occurs
    counts: Counter = Counter()
    where: dict[tuple[int, int], set[int]] = {}               # pair -> chunks that contain it
    for j, ids in enumerate(chunks):
        pair_counts(ids, counts, freq[j])
        for pair in pairwise(ids):
            where.setdefault(pair, set()).add(j)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < vocab_size - 256 and heap:
        neg, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -neg or -neg <= 0:          # a stale entry: the count has changed
            continue
        new_id = 256 + len(merges)
        merges.append(pair)
        changed: Counter = Counter()
        for j in where.pop(pair, ()):
            old = chunks[j]
            pair_counts(old, changed, -freq[j])
            chunks[j] = new = merge(old, pair, new_id)
            pair_counts(new, changed, freq[j])
            for p in pairwise(new):
                where.setdefault(p, set()).add(j)
        for p, delta in changed.items():
            if delta:
                counts[p] += delta
                if counts[p] > 0:
                    heapq.heappush(heap, (-counts[p], p))
                else:
                    del counts[p]
    return BPE(tuple(merges))
