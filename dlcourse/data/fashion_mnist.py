"""Fashion-MNIST, for real: the four IDX files, verified, found offline or downloaded once.

Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017; Zalando Research, MIT license) has 60,000 training
and 10,000 test images of clothing, 28x28 grey levels, in ten classes. It ships as four gzipped
IDX files. This module

- parses IDX files and checks their format (magic number, dimensions, length);
- checks every file's sha256 against the published data, so a corrupt, truncated or wrong file
  is reported with what to do, and never silently replaced or used;
- finds the full set offline, in this order: a folder you name (``folder=`` or
  ``$FASHION_MNIST_DIR``), the repository's ``data/fashion-mnist``, the download cache
  (``~/.cache/dlcourse/fashion-mnist`` or ``$DLCOURSE_CACHE``), and the Debian package
  ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
- otherwise downloads it from the canonical location, checks the archive's sha256 and moves it
  into the cache atomically (a half-finished download never looks like a finished one);
- always has the committed **subset** (``data/fashion-mnist-subset``: the first 6,000 training
  and 2,000 test images, made by ``data/make_fashion_mnist_subset.py``), so lessons run on a
  CPU without the network.

>>> train = load_fashion_mnist("train", size="subset")
>>> train.images.shape, train.images.dtype, train.labels.shape
((6000, 28, 28), dtype('uint8'), (6000,))
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dlcourse.data.fetch import DataFileError, DataNotFoundError, sha256_of
from dlcourse.data.paths import cache_dir, data_dir
from dlcourse.data.registry import FASHION_MNIST_FILES, fashion_mnist_search_path

#: The class names, indexed by label (0-9), as published by Zalando Research.
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: The canonical download location, given in the data set's README
#: (https://github.com/zalandoresearch/fashion-mnist#get-the-data).
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

#: sha256 of the four ``.gz`` archives as published at :data:`BASE_URL` (their md5 sums are the
#: ones the data set's README lists). A download is checked against these before it is cached.
ARCHIVE_SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

#: sha256 of the *decompressed* IDX bytes. This identifies the data whatever the compression:
#: Debian's package recompressed the archives (other archive checksums, the same bytes inside).
#: Every file the loader reads, found or downloaded, is checked against these.
IDX_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

#: The committed subset: its folder, its size, and the sha256 of its decompressed IDX bytes
#: (written by ``data/make_fashion_mnist_subset.py``; see ``data/README.md``).
SUBSET_DIRNAME = "fashion-mnist-subset"
SUBSET_SIZE = {"train": 6000, "test": 2000}
SUBSET_IDX_SHA256 = {
    "train-images-idx3-ubyte.gz": "6dded81672539b5d148c1a85358069d1808c316dc6f6c0abfd12ba3ced5dd394",
    "train-labels-idx1-ubyte.gz": "d7c464914ae4b919728c5c99c3cdde5a0259febf1e99ddc6927a15768731d7dc",
    "t10k-images-idx3-ubyte.gz": "862035b0a96959b614c9574f4c2b0ae9584ca234813e8d6d7adb7838b12ca46b",
    "t10k-labels-idx1-ubyte.gz": "aa3f574d30afaf0d4d9da084a6f8541771e20693d6a97fae6e9a4953fca8f078",
}

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
#: IDX type codes (third byte of the magic number) that this reader accepts.
_IDX_DTYPES = {0x08: np.dtype(np.uint8)}

_HOW_TO_GET = (
    "To get the full Fashion-MNIST: on Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist`; "
    "or, online, `load_fashion_mnist(..., download=True)` (the default) fetches it into "
    "~/.cache/dlcourse/fashion-mnist; or put the four .gz files from "
    "https://github.com/zalandoresearch/fashion-mnist into a folder and pass folder=... "
    "(or set FASHION_MNIST_DIR). The committed subset needs none of this: size='subset'."
)


@dataclass(frozen=True)
class FashionMNIST:
    """One split of Fashion-MNIST.

    Attributes:
        images: ``(N, 28, 28)`` uint8 grey levels, 0 (background) to 255.
        labels: ``(N,)`` uint8 class indices 0-9; ``class_names[label]`` names one.
        class_names: the ten class names.
        split: ``"train"`` or ``"test"``.
        source: the folder the files were read from.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    split: str
    source: Path

    def __len__(self) -> int:
        return len(self.labels)


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed) bytes of ``path``; a damaged gzip raises :class:`DataFileError`."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise DataFileError(
            f"{path} is not a readable gzip file ({err}): it is truncated or corrupt. "
            f"Delete it and get it again (a download resumes from scratch). {_HOW_TO_GET}"
        ) from err


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file into an array.

    The IDX format: two zero bytes, a type code (``0x08`` = unsigned byte), the number of
    dimensions ``d``, then ``d`` big-endian uint32 sizes, then the values in C order.

    Args:
        data: the uncompressed file contents.
        name: how to refer to the data in error messages (usually its path).

    Returns:
        An array of shape ``(size_1, ..., size_d)``: ``(N, 28, 28)`` for images, ``(N,)`` for labels.

    Raises:
        DataFileError: wrong magic number, unsupported type, or a length that does not match the
            header (a truncated or padded file).
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataFileError(f"{name} is not an IDX file: it does not start with two zero bytes.")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataFileError(f"{name}: IDX type code 0x{code:02x} is not supported (only 0x08, uint8).")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataFileError(f"{name}: IDX header is incomplete ({len(data)} bytes).")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataFileError(
            f"{name}: the header announces shape {shape} ({expected} bytes) but the file has "
            f"{len(data)} bytes: it is truncated or corrupt. Delete it and get it again."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).copy()


def read_idx(path: Path | str, expected_sha256: str | None = None) -> np.ndarray:
    """Read a (gzipped or plain) IDX file, checking its content's sha256 when one is given.

    Args:
        path: the file.
        expected_sha256: the sha256 of the *decompressed* bytes, or ``None`` to skip the check.

    Returns:
        The array (see :func:`parse_idx`).

    Raises:
        FileNotFoundError: no such file.
        DataFileError: unreadable gzip, bad IDX format, or a checksum mismatch.
    """
    path = Path(path)
    data = _read_bytes(path)
    if expected_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected_sha256:
            raise DataFileError(
                f"{path} has the wrong content: sha256 of its decompressed bytes is {got}, "
                f"expected {expected_sha256}. The file is corrupt or not the published one; "
                f"nothing was loaded. Delete it (or fix the folder) and get it again. {_HOW_TO_GET}"
            )
    return parse_idx(data, name=str(path))


def subset_dir() -> Path:
    """Return the folder of the committed subset (``<data dir>/fashion-mnist-subset``)."""
    return data_dir() / SUBSET_DIRNAME


def find_fashion_mnist(folder: Path | str | None = None) -> Path | None:
    """Return the first folder holding all four full-size files, or ``None``.

    Args:
        folder: a folder to try first (then ``$FASHION_MNIST_DIR``, the repository's data
            folder, the cache and Debian's package: :func:`dlcourse.data.registry.fashion_mnist_search_path`).

    Only the files' presence is checked here; :func:`load_fashion_mnist` checks their contents.
    """
    folders = ([Path(folder).expanduser()] if folder is not None else []) + fashion_mnist_search_path()
    for candidate in folders:
        if all((candidate / name).is_file() for name in FASHION_MNIST_FILES):
            return candidate
    return None


def _verified(path: Path, name: str, idx_sha256: dict[str, str]) -> bool:
    """True when ``path`` is the published archive, or any gzip holding the published IDX bytes."""
    if sha256_of(path) == ARCHIVE_SHA256.get(name):
        return True
    try:
        return hashlib.sha256(_read_bytes(path)).hexdigest() == idx_sha256[name]
    except DataFileError:
        return False


def download_fashion_mnist(dest: Path | str | None = None, base_url: str | None = None,
                           timeout: float = 60.0,
                           idx_sha256: dict[str, str] | None = None) -> Path:
    """Download the four archives into ``dest`` (default: the cache), checking each one's sha256.

    Files already in ``dest`` that pass the check are kept. Each download goes to a temporary
    file in ``dest`` and is renamed into place only after it passed: its sha256 is the published
    archive's (:data:`ARCHIVE_SHA256`), or its decompressed bytes have the published content's
    sha256 (:data:`IDX_SHA256`; a mirror may recompress). An interrupted or corrupted download
    never leaves a file that looks finished.

    Args:
        dest: target folder; default ``<cache dir>/fashion-mnist``.
        base_url: where the files are (default: the canonical location, :data:`BASE_URL`).
        timeout: seconds to wait for the server on each request.
        idx_sha256: expected sha256 of each file's decompressed bytes (default :data:`IDX_SHA256`;
            :data:`SUBSET_IDX_SHA256` fetches the course's subset from a mirror of ``data/``).

    Returns:
        The folder holding the four verified files.

    Raises:
        DataNotFoundError: the server could not be reached (offline); says what to do instead.
        DataFileError: a download arrived with the wrong checksum (it is deleted, not kept).
    """
    idx_sha256 = idx_sha256 or IDX_SHA256
    base_url = base_url or BASE_URL
    dest = Path(dest).expanduser() if dest is not None else cache_dir() / "fashion-mnist"
    dest.mkdir(parents=True, exist_ok=True)
    for name in FASHION_MNIST_FILES:
        target = dest / name
        if target.is_file() and _verified(target, name, idx_sha256):
            continue
        url = base_url.rstrip("/") + "/" + name
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, out, length=1 << 20)
            if not _verified(tmp, name, idx_sha256):
                raise DataFileError(
                    f"The download of {url} (sha256 {sha256_of(tmp)}) is not the published file "
                    f"(archive sha256 {ARCHIVE_SHA256.get(name)}, content sha256 {idx_sha256[name]}):"
                    f" it was incomplete or altered, and was deleted. Try again later. {_HOW_TO_GET}"
                )
            os.replace(tmp, target)  # atomic on one file system
        except urllib.error.HTTPError as err:
            raise DataNotFoundError(f"{url} answered HTTP {err.code} ({err.reason}). {_HOW_TO_GET}") from err
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise DataNotFoundError(
                f"Could not download {url} ({err}): this machine seems to be offline. {_HOW_TO_GET}"
            ) from err
        finally:
            tmp.unlink(missing_ok=True)
    return dest


def _load_split(folder: Path, split: str, checksums: dict[str, str]) -> FashionMNIST:
    image_file, label_file = _SPLIT_FILES[split]
    for name in (image_file, label_file):
        if not (folder / name).is_file():
            raise DataNotFoundError(f"{folder / name} is missing. {_HOW_TO_GET}")
    images = read_idx(folder / image_file, checksums[image_file])
    labels = read_idx(folder / label_file, checksums[label_file])
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise DataFileError(f"{folder}: expected (N, 28, 28) images and (N,) labels, "
                            f"got {images.shape} and {labels.shape}.")
    if len(images) != len(labels):
        raise DataFileError(f"{folder}: {len(images)} images but {len(labels)} labels.")
    return FashionMNIST(images, labels, CLASS_NAMES, split, folder)


def load_fashion_mnist(split: Literal["train", "test"] = "train",
                       size: Literal["subset", "full"] = "subset",
                       folder: Path | str | None = None,
                       download: bool = True, base_url: str | None = None) -> FashionMNIST:
    """Load one split of Fashion-MNIST as NumPy arrays, verified by sha256.

    Args:
        split: ``"train"`` (60,000 full / 6,000 subset) or ``"test"`` (10,000 / 2,000).
        size: ``"subset"`` reads the committed subset (always there, no network);
            ``"full"`` finds the full set (see :func:`find_fashion_mnist`) or downloads it.
        folder: for ``size="full"``, a folder to look in first.
        download: for ``size="full"``, download into the cache when no local copy exists.
        base_url: where to download from (default: the canonical :data:`BASE_URL`).

    Returns:
        A :class:`FashionMNIST` with ``images`` ``(N, 28, 28)`` uint8 and ``labels`` ``(N,)`` uint8.

    Raises:
        ValueError: unknown ``split`` or ``size``.
        DataNotFoundError: the files are not here and could not be downloaded; says how to get them.
        DataFileError: a file is present but corrupt, truncated or not the published one.
            Nothing is replaced or skipped silently: delete the file and get it again.
    """
    if split not in _SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if size == "subset":
        return _load_split(subset_dir(), split, SUBSET_IDX_SHA256)
    if size != "full":
        raise ValueError(f"size must be 'subset' or 'full', got {size!r}")
    found = find_fashion_mnist(folder)
    if found is None:
        if not download:
            searched = ", ".join(str(p) for p in
                                 ([Path(folder)] if folder else []) + fashion_mnist_search_path())
            raise DataNotFoundError(f"Fashion-MNIST was not found in: {searched}. {_HOW_TO_GET}")
        found = download_fashion_mnist(base_url=base_url)
    return _load_split(found, split, IDX_SHA256)
