"""keep_on_drive (dlcourse/env/colab.py) on a stand-in Colab: the real function mounts a stand-in
Drive folder through the fake ``google.colab.drive`` (tests/fake_colab) and points the package's
data cache, checkpoints and progress record there; off Colab, and when Drive cannot be mounted,
it changes nothing. The lost session itself is in tests/system/test_colab_like.py."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from dlcourse.data.paths import cache_dir, checkpoint_dir
from dlcourse.env.colab import ON_DRIVE, DriveNotMounted, in_colab, keep_on_drive
from dlcourse.learner_record import record_path

FAKE_COLAB = Path(__file__).resolve().parents[1] / "fake_colab" / "google" / "colab"
VARIABLES = tuple(ON_DRIVE)


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clean_env(monkeypatch):
    """No location variable set, none of Colab's signs; all restored after the test, also those
    that keep_on_drive sets (setenv first, so that monkeypatch undoes them even when unset)."""
    for variable in (*VARIABLES, "COLAB_RELEASE_TAG"):
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    for name in [name for name in sys.modules if name == "google.colab" or name.startswith("google.colab.")]:
        monkeypatch.delitem(sys.modules, name)
    return monkeypatch


@pytest.fixture
def colab(clean_env, tmp_path):
    """A stand-in Colab in this process: the fake google.colab imported as Colab's kernel does,
    a stand-in ``/content`` and a stand-in Drive (with ``MyDrive``) outside it."""
    package = _load("google.colab", FAKE_COLAB / "__init__.py")
    clean_env.setitem(sys.modules, "google.colab", package)
    drive = _load("google.colab.drive", FAKE_COLAB / "drive.py")
    clean_env.setitem(sys.modules, "google.colab.drive", drive)
    clean_env.setattr(package, "drive", drive, raising=False)
    content, stand_in = tmp_path / "content", tmp_path / "google-drive"
    content.mkdir()
    (stand_in / "MyDrive").mkdir(parents=True)
    clean_env.setenv(drive.FAKE_DRIVE, str(stand_in))
    return content, stand_in


def test_off_colab_it_returns_none_and_changes_nothing(clean_env, tmp_path):
    before = dict(os.environ)
    assert not in_colab()
    assert keep_on_drive(tmp_path / "drive") is None
    assert dict(os.environ) == before and list(tmp_path.iterdir()) == []


def test_on_colab_the_cache_checkpoints_and_progress_record_go_to_drive(colab, capsys):
    content, stand_in = colab
    where = keep_on_drive(content / "drive")
    assert where == content / "drive" / "MyDrive" / "dlcourse"
    assert (content / "drive").is_symlink(), "Drive was not mounted at the mountpoint"
    on_drive = stand_in / "MyDrive" / "dlcourse"
    assert where.resolve() == on_drive.resolve()
    assert cache_dir().resolve() == on_drive / "cache" and (on_drive / "cache").is_dir()
    assert checkpoint_dir().resolve() == on_drive / "checkpoints" and (on_drive / "checkpoints").is_dir()
    assert record_path().resolve() == on_drive / "progress.jsonl"
    out = capsys.readouterr().out
    assert "Mounted at" in out and f"Kept on your Google Drive, in {where}" in out

    # A second call (the cell run again, or after a reconnect) finds the same folder.
    (on_drive / "checkpoints" / "model.pt").write_bytes(b"kept")
    assert keep_on_drive(content / "drive") == where
    assert "Drive already mounted" in capsys.readouterr().out
    assert (checkpoint_dir() / "model.pt").read_bytes() == b"kept"


def test_progress_recording_that_is_off_stays_off(colab, clean_env):
    content, _ = colab
    clean_env.setenv("DLCOURSE_PROGRESS", "off")
    where = keep_on_drive(content / "drive")
    assert os.environ["DLCOURSE_PROGRESS"] == "off"
    assert cache_dir() == where / "cache"


def test_refused_access_raises_a_clear_error_and_changes_nothing(colab, clean_env):
    content, stand_in = colab
    clean_env.delenv("DLCOURSE_FAKE_DRIVE")  # the learner clicked "cancel" in Colab's dialog
    before = dict(os.environ)
    with pytest.raises(DriveNotMounted, match="credential propagation was unsuccessful.*allow access"):
        keep_on_drive(content / "drive")
    assert dict(os.environ) == before
    assert not (content / "drive").exists() and list((stand_in / "MyDrive").iterdir()) == []


def test_a_mount_without_my_drive_is_refused(colab, tmp_path):
    content, stand_in = colab
    (stand_in / "MyDrive").rmdir()
    before = dict(os.environ)
    with pytest.raises(DriveNotMounted, match="MyDrive is not a folder"):
        keep_on_drive(content / "drive")
    assert dict(os.environ) == before


def test_checkpoint_dir_follows_its_variable(clean_env, tmp_path):
    assert checkpoint_dir().name == "checkpoints" and checkpoint_dir().parent.name == "dlcourse"
    clean_env.setenv("DLCOURSE_CHECKPOINTS", str(tmp_path / "ckpt"))
    assert checkpoint_dir() == tmp_path / "ckpt"
