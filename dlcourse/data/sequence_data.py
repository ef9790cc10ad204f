"""Sequence data for lesson 10: the committed names and sunspots, and turning tokens into integers.

- :func:`load_names` reads ``data/names.csv`` (surnames of eight languages, from Faker's lists);
  :func:`names_split` is exercise 10's split of them into training and test names, as ids;
- :func:`load_sunspots` reads ``data/sunspots.csv`` (yearly sunspot numbers 1700-2008);
- :class:`Vocabulary` maps tokens (characters or words) to integer ids and back, with id 0
  reserved for padding and id 1 for unknown tokens, and pads a batch of sequences to one length.

Both files are described, with their provenance and checksums, in ``data/README.md``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dlcourse.data.fetch import verify_sha256
from dlcourse.data.paths import data_dir

__all__ = ["Names", "load_names", "NamesSplit", "names_split", "load_sunspots", "Vocabulary", "NAMES_SHA256",
           "SUNSPOTS_SHA256"]

#: sha256 of the committed files (see data/README.md).
NAMES_SHA256 = "479395a0455f9147ed456be15070eb6302d1937312dbd964dd4bb72fb6686baa"
SUNSPOTS_SHA256 = "74b8e3acb9886b68abe9c56f6081257d522e2cb2470f17dbf597b396f4ea1706"
_REGENERATE = "It is committed in the repository's data/ folder: restore it with git (`git checkout data/`)."


@dataclass(frozen=True)
class Names:
    """Surnames and their languages.

    Attributes:
        names: ``N`` surnames (str), in file order (sorted by language, then name).
        labels: ``(N,)`` int64 language index; ``languages[label]`` names it.
        languages: the language names, sorted.
    """

    names: list[str]
    labels: np.ndarray
    languages: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)


def load_names() -> Names:
    """Load ``data/names.csv`` (5,803 surnames of eight languages), verified by sha256."""
    path = verify_sha256(data_dir() / "names.csv", NAMES_SHA256, _REGENERATE)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    languages = tuple(sorted({row["language"] for row in rows}))
    index = {language: i for i, language in enumerate(languages)}
    return Names([row["name"] for row in rows],
                 np.array([index[row["language"]] for row in rows], dtype=np.int64), languages)


class NamesSplit(NamedTuple):
    """The names as padded character ids: ``X_*`` ``(N, T)`` int64 (0 = padding, one name a row,
    lower-cased), ``y_*`` ``(N,)`` int64 language indices; ``chars`` the vocabulary (built from the
    training names), ``languages`` the language names."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    chars: Vocabulary
    languages: tuple[str, ...]


def names_split(seed: int = 10) -> NamesSplit:
    """The names, lower-cased, shuffled with ``default_rng(seed)``: the first fifth held out for
    testing (1,160 names), the rest for training (4,643); every name padded to the longest (20).
    Exercise 10 trains on it and its model task (:mod:`dlcourse.model_tasks.char_classifier`)
    measures on it."""
    names = load_names()
    lowered = [n.lower() for n in names.names]
    order = np.random.default_rng(seed).permutation(len(lowered))
    test_idx, train_idx = order[: len(order) // 5], order[len(order) // 5:]
    chars = Vocabulary.build([lowered[i] for i in train_idx])
    X = chars.pad([chars.encode(n) for n in lowered])
    return NamesSplit(X[train_idx], names.labels[train_idx], X[test_idx], names.labels[test_idx],
                      chars, names.languages)


def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Load ``data/sunspots.csv``: ``(years, values)``, two ``(309,)`` arrays (int64, float64), 1700-2008."""
    path = verify_sha256(data_dir() / "sunspots.csv", SUNSPOTS_SHA256, _REGENERATE)
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, 0].astype(np.int64), table[:, 1]


class Vocabulary:
    """A mapping between tokens and integer ids: 0 is padding, 1 is an unknown token.

    >>> vocab = Vocabulary.build(["ab", "ba", "c"])   # characters of these strings
    >>> vocab.encode("abz")
    [2, 3, 1]
    >>> vocab.pad([[2, 3], [4]])
    array([[2, 3],
           [4, 0]])
    """

    PAD, UNK = 0, 1

    def __init__(self, tokens: Sequence[str]) -> None:
        if len(set(tokens)) != len(tokens):
            raise ValueError("the tokens of a vocabulary must be distinct")
        self.tokens = ["<pad>", "<unk>", *tokens]
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_count: int = 1,
              max_size: int | None = None) -> Vocabulary:
        """Collect the tokens of ``sequences`` (strings are sequences of characters).

        Tokens seen fewer than ``min_count`` times are left out; with ``max_size``, only the
        most frequent ones are kept. The order is by decreasing count, then alphabetical, so the
        same data always gives the same ids.
        """
        counts = Counter(token for sequence in sequences for token in sequence)
        ordered = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(ordered[:max_size] if max_size is not None else ordered)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, sequence: Iterable[str]) -> list[int]:
        """Return the ids of the tokens of ``sequence`` (unknown tokens get :attr:`UNK`)."""
        return [self.index.get(token, self.UNK) for token in sequence]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Return the tokens of ``ids``, dropping padding."""
        return [self.tokens[i] for i in ids if i != self.PAD]

    def pad(self, encoded: Sequence[Sequence[int]], length: int | None = None) -> np.ndarray:
        """Stack encoded sequences into an ``(N, length)`` int64 array, padded (or cut) at the end.

        ``length`` defaults to the longest sequence. Padding is :attr:`PAD` (0).
        """
        if length is None:
            length = max((len(s) for s in encoded), default=0)
        out = np.full((len(encoded), length), self.PAD, dtype=np.int64)
        for i, seq in enumerate(encoded):
            seq = list(seq)[:length]
            out[i, :len(seq)] = seq
        return out
