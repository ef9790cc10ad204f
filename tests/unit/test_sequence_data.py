"""Lesson 10's sequence data: the committed files load, verified, and the vocabulary round-trips."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dlcourse.data.fetch import DataFileError, DataNotFoundError
from dlcourse.data.paths import REPO_DIR
from dlcourse.data.sequence_data import Vocabulary, load_names, load_sunspots


def test_names_load_with_eight_languages():
    names = load_names()
    assert len(names) == 5803 and len(names.labels) == 5803
    assert names.languages == ("Croatian", "Dutch", "English", "Finnish", "French", "German", "Italian",
                               "Spanish")
    counts = dict(zip(names.languages, np.bincount(names.labels), strict=True))
    assert counts["Italian"] == 1152 and counts["French"] == 327
    assert names.names[names.labels.tolist().index(names.languages.index("Finnish"))] == "Aalto"


def test_sunspots_load():
    years, spots = load_sunspots()
    assert years[0] == 1700 and years[-1] == 2008 and np.all(np.diff(years) == 1)
    assert spots[0] == 5.0 and spots[-1] == pytest.approx(2.9) and spots.max() == pytest.approx(190.2)


def test_a_changed_or_missing_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="git checkout data/"):
        load_sunspots()
    shutil.copy(_repo_data() / "names.csv", tmp_path)
    with open(tmp_path / "names.csv", "a", encoding="utf-8") as f:
        f.write("Extra,English,en_US\n")
    with pytest.raises(DataFileError, match="sha256"):
        load_names()


def _repo_data():
    return REPO_DIR / "data"


def test_vocabulary_encodes_pads_and_decodes():
    vocab = Vocabulary.build(["abba", "cab"])  # counts: a 3, b 3, c 1
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b", "c"]
    assert vocab.encode("cabz") == [4, 2, 3, 1]
    assert vocab.decode([4, 2, 0, 0]) == ["c", "a"]
    padded = vocab.pad([[2, 3, 4], [4]])
    np.testing.assert_array_equal(padded, [[2, 3, 4], [4, 0, 0]])
    assert padded.dtype == np.int64
    np.testing.assert_array_equal(vocab.pad([[2, 3, 4]], length=2), [[2, 3]])
    words = Vocabulary.build([["good", "film"], ["bad", "film"]], min_count=2)
    assert words.tokens == ["<pad>", "<unk>", "film"]
    assert len(Vocabulary.build(["aab", "c"], max_size=1)) == 3
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(["a", "a"])
