"""dlcourse.data.fetch's loader steps, with a fetch that writes a known file (no network)."""

import hashlib

import pytest

from dlcourse.data.fetch import DataFileError, DataNotFoundError, file_to_load, verified_copy

DATA = b"the published bytes\n"
SHA256 = hashlib.sha256(DATA).hexdigest()


def test_file_to_load_fetches_the_cached_file_once_then_verifies_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    cached, fetched = tmp_path / "cache" / "data.bin", []

    def fetch():
        fetched.append(cached)
        cached.parent.mkdir()
        cached.write_bytes(DATA)
        return cached

    assert verified_copy(cached, SHA256) is None
    assert file_to_load("demo", None, cached, SHA256, fetch) == cached
    assert file_to_load("demo", None, cached, SHA256, fetch) == cached
    assert fetched == [cached] and verified_copy(cached, SHA256) == str(cached)
    cached.write_bytes(DATA[:5])  # a truncated copy is refused, not fetched again
    with pytest.raises(DataFileError, match="fetch demo"):
        file_to_load("demo", None, cached, SHA256, fetch)
    assert verified_copy(cached, SHA256) is None and len(fetched) == 1


def test_file_to_load_reads_a_given_path_and_never_fetches_for_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    given = tmp_path / "mine.bin"
    given.write_bytes(DATA)
    assert file_to_load("demo", given, tmp_path / "absent", SHA256, fetch=None) == given
    with pytest.raises(DataNotFoundError, match="DLCOURSE_OFFLINE.*python -m dlcourse fetch demo"):
        file_to_load("demo", None, tmp_path / "absent", SHA256, fetch=None)
    with pytest.raises(DataNotFoundError, match="missing"):
        file_to_load("demo", tmp_path / "other.bin", tmp_path / "absent", SHA256, fetch=None)
