"""Byte-level BPE, checked against brute force: a trainer that recounts every pair at every step, an
encoder that applies the merges one after the other to the whole text, and round trips of random bytes."""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise

import pytest

from dlcourse.text.bpe import BPE, merge, pair_counts, split_chunks, train_bpe

CORPUS = ("the cat sat on the mat; the hat is on the cat. 12 cats, 1234 hats!\n"
          "naïve café owners serve crème brûlée \U0001f600\U0001f600 to the thin thing there.\n") * 3


def brute_force_train(data: bytes, n_merges: int) -> list[tuple[int, int]]:
    """Recount every pair in every chunk at every step; the highest count wins, ties to the smallest pair."""
    chunks = [list(c) for c in split_chunks(data)]
    merges = []
    for step in range(n_merges):
        counts = Counter()
        for ids in chunks:
            for a, b in pairwise(ids):
                counts[a, b] += 1
        if not counts:
            break
        best = max(counts.items(), key=lambda kv: (kv[1], (-kv[0][0], -kv[0][1])))[0]
        merges.append(best)
        chunks = [merge(ids, best, 256 + step) for ids in chunks]
    return merges


def brute_force_encode(merges, data: bytes) -> list[int]:
    """Apply merge 0 to every chunk, then merge 1, and so on."""
    out = []
    for chunk in split_chunks(data):
        ids = list(chunk)
        for i, pair in enumerate(merges):
            ids = merge(ids, pair, 256 + i)
        out.extend(ids)
    return out


def random_bytes(rng: random.Random, n: int) -> bytes:
    alphabet = list(b" aeinst.\n") + [0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0xFF, 0x00]
    if rng.random() < 0.5:
        return bytes(rng.randrange(256) for _ in range(n))
    return bytes(rng.choice(alphabet) for _ in range(n))


def test_merge_replaces_left_to_right_and_pair_counts_counts_overlaps():
    assert merge([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]
    assert merge([3], (3, 3), 9) == [3]
    assert pair_counts([1, 1, 1]) == Counter({(1, 1): 2})


def test_chunks_partition_any_bytes():
    rng = random.Random(0)
    for _ in range(200):
        data = random_bytes(rng, rng.randrange(0, 60))
        assert b"".join(split_chunks(data)) == data
    assert split_chunks("the cat's 12 hats!") == [b"the", b" cat", b"'", b"s", b" 12", b" hats", b"!"]


@pytest.mark.parametrize("seed", range(6))
def test_training_equals_the_brute_force_trainer(seed):
    rng = random.Random(seed)
    data = CORPUS.encode() if seed == 0 else random_bytes(rng, 400)
    fast = train_bpe(data, 256 + 40)
    assert list(fast.merges) == brute_force_train(data, 40)


def test_encoding_equals_applying_the_merges_in_order_and_round_trips():
    bpe = train_bpe(CORPUS, 256 + 60)
    rng = random.Random(1)
    texts = [CORPUS.encode(), "unseen words: thermometer, 3.14, \U0001f9ea".encode(), b"\xff\xfe\x80 the"]
    texts += [random_bytes(rng, rng.randrange(0, 80)) for _ in range(300)]
    for data in texts:
        ids = bpe.encode(data)
        assert ids == brute_force_encode(bpe.merges, data)
        assert bpe.decode(ids) == data
        assert all(0 <= i < bpe.vocab_size for i in ids)


def test_every_merge_shortens_the_training_text():
    data = CORPUS.encode()
    bpe = train_bpe(data, 256 + 30)
    total = len(data)
    for i in range(1, 31):                                    # each merge removes one token per occurrence
        assert len(bpe.truncated(256 + i).encode(data)) < len(bpe.truncated(256 + i - 1).encode(data))
    assert len(bpe.encode(data)) < total


def test_vocab_is_the_bytes_of_each_merge_and_truncation_keeps_the_first_merges():
    bpe = train_bpe(CORPUS, 256 + 20)
    assert bpe.vocab[:256] == [bytes([i]) for i in range(256)]
    for i, (a, b) in enumerate(bpe.merges):
        assert bpe.vocab[256 + i] == bpe.vocab[a] + bpe.vocab[b]
    assert bpe.truncated(256 + 5).merges == bpe.merges[:5]
    assert train_bpe(CORPUS, 256 + 5).merges == bpe.merges[:5]


def test_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match="at least 256"):
        train_bpe(b"abc", 100)
    with pytest.raises(TypeError, match="encode a text"):
        split_chunks([1, 2])
    with pytest.raises(ValueError, match="only use ids that exist before it"):
        BPE(((300, 1),))
    with pytest.raises(ValueError, match="not below vocab_size"):
        BPE(()).decode([256])
    with pytest.raises(ValueError, match="between 256 and"):
        BPE(()).truncated(300)
