"""The real Fashion-MNIST loader, on real files: the committed subset always, the full set when
Debian's ``dataset-fashion-mnist`` is installed (CI installs it), a corrupt, truncated and missing
file, and the download path against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from dlcourse.data import fashion_mnist as fm
from dlcourse.data.fashion_mnist import FASHION_MNIST_FILES
from dlcourse.data.idx import parse_idx

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
HAVE_FULL = all((DEBIAN / name).is_file() for name in FASHION_MNIST_FILES)
needs_full = pytest.mark.skipif(not HAVE_FULL, reason="apt-get install dataset-fashion-mnist")


@pytest.fixture
def subset_copy(tmp_path, monkeypatch):
    """A private copy of the committed subset, found through $DLCOURSE_DATA."""
    shutil.copytree(fm.subset_dir(), tmp_path / fm.SUBSET_DIRNAME)
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))
    return tmp_path / fm.SUBSET_DIRNAME


def idx(values: bytes, *shape: int) -> bytes:
    """An IDX file written by hand from the format's definition (independent of the module)."""
    return bytes([0, 0, 8, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape) + values


# -- parsing ------------------------------------------------------------------------------------

def test_parse_idx_reads_a_hand_written_file():
    out = parse_idx(idx(bytes(range(6)), 2, 3))
    np.testing.assert_array_equal(out, [[0, 1, 2], [3, 4, 5]])
    assert out.dtype == np.uint8


@pytest.mark.parametrize("data, message", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "two zero bytes"),
    (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00\x00\x00\x00", "type code"),
    (idx(bytes(5), 2, 3), "truncated"),
    (idx(bytes(7), 2, 3), "truncated"),
])
def test_parse_idx_rejects_bad_files(data, message):
    with pytest.raises(fm.DataFileError, match=message):
        parse_idx(data)


# -- the committed subset -------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "test"])
def test_subset_loads(split):
    data = fm.load_fashion_mnist(split, size="subset")
    n = fm.SUBSET_SIZE[split]
    assert data.images.shape == (n, 28, 28) and data.images.dtype == np.uint8
    assert data.labels.shape == (n,) and set(np.unique(data.labels)) == set(range(10))
    assert len(data.class_names) == 10 and data.class_names[9] == "Ankle boot"
    # every class is present in roughly equal numbers (the full set is exactly balanced)
    counts = np.bincount(data.labels, minlength=10)
    assert counts.min() > 0.8 * n / 10 and counts.max() < 1.2 * n / 10
    # real pictures: mostly dark background, bright objects
    assert 50 < data.images.mean() < 100 and data.images.max() == 255


def test_subset_files_match_their_recorded_checksums():
    import hashlib

    for name, expected in fm.SUBSET_IDX_SHA256.items():
        with gzip.open(fm.subset_dir() / name, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == expected


# -- corrupt, truncated and missing files ---------------------------------------------------------

def test_flipped_byte_in_the_archive_is_reported(subset_copy):
    path = subset_copy / "t10k-images-idx3-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(fm.DataFileError, match=r"t10k-images.*(corrupt|truncated)"):
        fm.load_fashion_mnist("test")


def test_truncated_archive_is_reported(subset_copy):
    path = subset_copy / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(fm.DataFileError, match="truncated or corrupt") as err:
        fm.load_fashion_mnist("train")
    assert "Delete it" in str(err.value)


def test_valid_gzip_with_changed_content_fails_the_checksum(subset_copy):
    path = subset_copy / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(path, "rb") as f:
        data = bytearray(f.read())
    data[-1] = (data[-1] + 1) % 10  # one label changed: still a well-formed IDX file
    with gzip.open(path, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(fm.DataFileError, match="wrong content: sha256") as err:
        fm.load_fashion_mnist("test")
    assert fm.SUBSET_IDX_SHA256["t10k-labels-idx1-ubyte.gz"] in str(err.value)


def test_missing_file_is_reported_with_what_to_do(subset_copy):
    (subset_copy / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(fm.DataNotFoundError, match="train-images-idx3-ubyte.gz is missing") as err:
        fm.load_fashion_mnist("train")
    assert "apt-get install dataset-fashion-mnist" in str(err.value)


def test_full_set_absent_and_no_download(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "fashion_mnist_search_path", lambda: [tmp_path / "nowhere"])
    with pytest.raises(fm.DataNotFoundError, match="was not found in") as err:
        fm.load_fashion_mnist("test", size="full", download=False)
    assert "download=False" in str(err.value) and "python -m dlcourse fetch fashion-mnist" in str(err.value)
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")  # the opt-out: the default download=None then stops too
    with pytest.raises(fm.DataNotFoundError, match="DLCOURSE_OFFLINE"):
        fm.load_fashion_mnist("test", size="full")


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        fm.load_fashion_mnist("valid")
    with pytest.raises(ValueError, match="size"):
        fm.load_fashion_mnist("train", size="half")


# -- the full set (Debian's copy of the canonical files) ------------------------------------------

@needs_full
@pytest.mark.parametrize("split, n", [("train", 60_000), ("test", 10_000)])
def test_full_set_loads_and_is_balanced(split, n, monkeypatch):
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    data = fm.load_fashion_mnist(split, size="full", folder=DEBIAN, download=False)
    assert data.images.shape == (n, 28, 28) and data.labels.shape == (n,)
    np.testing.assert_array_equal(np.bincount(data.labels), np.full(10, n // 10))
    subset = fm.load_fashion_mnist(split, size="subset")
    k = fm.SUBSET_SIZE[split]  # the subset is the head of the full set
    np.testing.assert_array_equal(subset.images, data.images[:k])
    np.testing.assert_array_equal(subset.labels, data.labels[:k])


@needs_full
def test_corrupt_copy_of_the_full_set_is_not_used(tmp_path):
    for name in FASHION_MNIST_FILES:
        shutil.copy(DEBIAN / name, tmp_path / name)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(fm.DataFileError, match="t10k-labels"):
        fm.load_fashion_mnist("test", size="full", folder=tmp_path, download=False)


# -- downloading, from a real HTTP server on 127.0.0.1 (``serve``, in conftest.py) -------------------

def test_download_verifies_and_caches_the_subset(serve, tmp_path):
    url = serve(fm.subset_dir())
    dest = fm.download_fashion_mnist(tmp_path / "cache", base_url=url, idx_sha256=fm.SUBSET_IDX_SHA256)
    assert sorted(p.name for p in dest.iterdir()) == sorted(FASHION_MNIST_FILES)  # no .part left
    for name in FASHION_MNIST_FILES:
        assert (dest / name).read_bytes() == (fm.subset_dir() / name).read_bytes()


def test_corrupt_download_is_deleted_not_cached(serve, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(fm.subset_dir(), mirror)
    path = mirror / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    url = serve(mirror)
    dest = tmp_path / "cache"
    with pytest.raises(fm.DataFileError, match="not the published file"):
        fm.download_fashion_mnist(dest, base_url=url, idx_sha256=fm.SUBSET_IDX_SHA256)
    assert not (dest / "t10k-images-idx3-ubyte.gz").exists()
    assert not any(p.name.endswith(".part") for p in dest.iterdir())


def test_download_with_the_server_missing_a_file(serve, tmp_path):
    url = serve(tmp_path)  # an empty folder: every file answers 404
    with pytest.raises(fm.DataNotFoundError, match="HTTP 404"):
        fm.download_fashion_mnist(tmp_path / "cache", base_url=url)


def test_download_offline(tmp_path):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(fm.DataNotFoundError, match="offline"):
        fm.download_fashion_mnist(tmp_path, base_url=f"http://127.0.0.1:{port}/", timeout=5)


@needs_full
def test_full_download_then_load_from_the_cache(serve, tmp_path, monkeypatch):
    url = serve(DEBIAN)
    cache = tmp_path / "cache" / "fashion-mnist"
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fm, "fashion_mnist_search_path", lambda: [cache])  # nothing local yet
    data = fm.load_fashion_mnist("test", size="full", base_url=url)  # downloads, verifies, caches
    assert data.source == cache and data.images.shape == (10_000, 28, 28)
    assert sorted(p.name for p in cache.iterdir()) == sorted(FASHION_MNIST_FILES)
    again = fm.load_fashion_mnist("test", size="full", download=False)  # offline: from the cache
    np.testing.assert_array_equal(again.labels, data.labels)


@needs_full
def test_cli_fetch_copies_a_local_folder_into_the_cache(tmp_path, monkeypatch, capsys):
    from dlcourse import cli

    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    assert cli.main(["fetch", "fashion-mnist", "--from", str(DEBIAN)]) == 0
    assert "ok" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "fashion-mnist").iterdir()) == sorted(FASHION_MNIST_FILES)
    assert cli.main(["fetch", "fashion-mnist", "--from", str(fm.subset_dir())]) == 0, \
        "the verified copies already in the cache are kept"
    (tmp_path / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert cli.main(["fetch", "fashion-mnist", "--from", str(fm.subset_dir())]) == 1, \
        "the subset is not the full set: refused"
    assert "not the published file" in capsys.readouterr().out
