"""Fashion-MNIST, for real: the four IDX files, verified, found offline or downloaded once.

Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017; Zalando Research, MIT license) has 60,000 training
and 10,000 test images of clothing, 28x28 grey levels, in ten classes. It ships as four gzipped
IDX files. This module

- reads the IDX files (:mod:`dlcourse.data.idx` checks their format);
- checks every file's sha256 against the published data, so a corrupt, truncated or wrong file
  is reported with what to do, and never silently replaced or used;
- finds the full set offline (:func:`fashion_mnist_search_path`), or else fetches it on first use
  from the canonical location into the cache, through the data layer's one verified download
  (:mod:`dlcourse.data.fetch`: a progress bar, and a half-finished download never looks finished);
- always has the committed **subset** (``data/fashion-mnist-subset``: the first 6,000 training
  and 2,000 test images, made by ``data/make_fashion_mnist_subset.py``), so lessons run on a
  CPU without the network.

>>> train = load_fashion_mnist("train", size="subset")
>>> train.images.shape, train.images.dtype, train.labels.shape
((6000, 28, 28), dtype('uint8'), (6000,))
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dlcourse.data.fetch import (
    DataFileError,
    DataNotFoundError,
    download_verified,
    fetch_on_first_use,
    how_to_fetch,
    sha256_of,
)
from dlcourse.data.idx import read_bytes, read_idx
from dlcourse.data.paths import cache_dir, data_dir

#: The class names, indexed by label (0-9), as published by Zalando Research.
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: The four IDX files, the same names in every copy (canonical, Debian's, the cache, the subset).
FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

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

_SPLIT_FILES = {"train": FASHION_MNIST_FILES[:2], "test": FASHION_MNIST_FILES[2:]}

_ELSEWHERE = ("On Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist` provides the full set; or put "
              "the four .gz files from https://github.com/zalandoresearch/fashion-mnist into a folder "
              "and pass folder=... (or set FASHION_MNIST_DIR).")
_HOW_TO_GET = (f"{_ELSEWHERE} {how_to_fetch('fashion-mnist')} "
               "The committed subset needs none of this: size='subset'.")


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


def subset_dir() -> Path:
    """Return the folder of the committed subset (``<data dir>/fashion-mnist-subset``)."""
    return data_dir() / SUBSET_DIRNAME


def fashion_mnist_search_path() -> list[Path]:
    """Return the folders searched for the full set, in order: ``$FASHION_MNIST_DIR``, the
    repository's ``data/fashion-mnist``, the cache, and Debian's package ``dataset-fashion-mnist``."""
    mine = os.environ.get("FASHION_MNIST_DIR")
    return ([Path(mine).expanduser()] if mine else []) + [data_dir() / "fashion-mnist",
                                                          cache_dir() / "fashion-mnist",
                                                          Path("/usr/share/datasets/fashion-mnist")]


def test_split_files() -> list[Path]:
    """Every copy of the test split's two files on this machine: the subset's and, in each folder
    of :func:`fashion_mnist_search_path`, the full set's (where they exist).

    The grader measures trained models on the test split and hides these files from graded
    kernels (:mod:`dlcourse.model_tasks`).
    """
    names = [name for name in FASHION_MNIST_FILES if name.startswith("t10k")]
    return [folder / name for folder in [subset_dir(), *fashion_mnist_search_path()]
            for name in names if (folder / name).is_file()]


def find_fashion_mnist(folder: Path | str | None = None) -> Path | None:
    """Return the first folder holding all four full-size files, or ``None``.

    Args:
        folder: a folder to try first (then :func:`fashion_mnist_search_path`).

    Only the files' presence is checked here; :func:`load_fashion_mnist` checks their contents.
    """
    folders = ([Path(folder).expanduser()] if folder is not None else []) + fashion_mnist_search_path()
    for candidate in folders:
        if all((candidate / name).is_file() for name in FASHION_MNIST_FILES):
            return candidate
    return None


def available() -> str | None:
    """Return the folder of the full set when it is on this machine, else ``None`` (for ``doctor``)."""
    found = find_fashion_mnist()
    return str(found) if found else None


def _verified(path: Path, name: str, idx_sha256: dict[str, str]) -> bool:
    """True when ``path`` is the published archive, or any gzip holding the published IDX bytes."""
    if sha256_of(path) == ARCHIVE_SHA256.get(name):
        return True
    try:
        return hashlib.sha256(read_bytes(path)).hexdigest() == idx_sha256[name]
    except DataFileError:
        return False


def download_fashion_mnist(dest: Path | str | None = None, base_url: str | None = None,
                           timeout: float = 60.0,
                           idx_sha256: dict[str, str] | None = None) -> Path:
    """Download the four archives into ``dest`` (default: the cache), each one verified.

    Files already in ``dest`` that pass the check are kept. A file passes when its sha256 is the
    published archive's (:data:`ARCHIVE_SHA256`) or its decompressed bytes have the published
    content's sha256 (``idx_sha256``; a mirror may recompress); a download that does not pass is
    deleted (:func:`dlcourse.data.fetch.download_verified`).

    Args:
        dest: target folder; default ``<cache dir>/fashion-mnist``.
        base_url: where the files are (default: the canonical location, :data:`BASE_URL`; a
            ``file://`` URL copies a local folder).
        timeout: seconds to wait for the server on each request.
        idx_sha256: expected sha256 of each file's decompressed bytes (default :data:`IDX_SHA256`;
            :data:`SUBSET_IDX_SHA256` fetches the course's subset from a mirror of ``data/``).

    Returns:
        The folder holding the four verified files.

    Raises:
        DataNotFoundError: the server could not be reached (offline); says what to do instead.
        DataFileError: a download was not the published file (it is deleted, not kept).
    """
    idx_sha256 = idx_sha256 or IDX_SHA256
    dest = Path(dest).expanduser() if dest is not None else cache_dir() / "fashion-mnist"
    for name in FASHION_MNIST_FILES:
        url = (base_url or BASE_URL).rstrip("/") + "/" + name
        try:
            download_verified(url, dest / name, timeout=timeout,
                              accept=lambda path, name=name: _verified(path, name, idx_sha256))
        except (DataNotFoundError, DataFileError) as err:
            raise type(err)(f"{err} {_ELSEWHERE}") from err
    return dest


def fetch_fashion_mnist(source: Path | str | None = None) -> Path:
    """Put the verified full set into the cache (``python -m dlcourse fetch fashion-mnist``).

    ``source`` is a folder holding the four files, copied instead of downloading them.
    """
    return download_fashion_mnist(base_url=Path(source).resolve().as_uri() if source else None)


def _load_split(folder: Path, split: str, checksums: dict[str, str]) -> FashionMNIST:
    image_file, label_file = _SPLIT_FILES[split]
    for name in (image_file, label_file):
        if not (folder / name).is_file():
            raise DataNotFoundError(f"{folder / name} is missing. {_HOW_TO_GET}")
    images = read_idx(folder / image_file, checksums[image_file], _HOW_TO_GET)
    labels = read_idx(folder / label_file, checksums[label_file], _HOW_TO_GET)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise DataFileError(f"{folder}: expected (N, 28, 28) images and (N,) labels, "
                            f"got {images.shape} and {labels.shape}.")
    if len(images) != len(labels):
        raise DataFileError(f"{folder}: {len(images)} images but {len(labels)} labels.")
    return FashionMNIST(images, labels, CLASS_NAMES, split, folder)


def load_fashion_mnist(split: Literal["train", "test"] = "train",
                       size: Literal["subset", "full"] = "subset",
                       folder: Path | str | None = None,
                       download: bool | None = None, base_url: str | None = None) -> FashionMNIST:
    """Load one split of Fashion-MNIST as NumPy arrays, verified by sha256.

    Args:
        split: ``"train"`` (60,000 full / 6,000 subset) or ``"test"`` (10,000 / 2,000).
        size: ``"subset"`` reads the committed subset (always there, no network);
            ``"full"`` finds the full set (see :func:`find_fashion_mnist`) or downloads it.
        folder: for ``size="full"``, a folder to look in first.
        download: for ``size="full"``, download into the cache when no local copy exists (with a
            progress bar); ``None``, the default, downloads unless ``$DLCOURSE_OFFLINE`` is set.
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
        searched = ", ".join(str(p) for p in ([Path(folder)] if folder else []) + fashion_mnist_search_path())
        found = fetch_on_first_use("fashion-mnist", lambda: download_fashion_mnist(base_url=base_url),
                                   f"Fashion-MNIST was not found in: {searched}", allowed=download)
    return _load_split(found, split, IDX_SHA256)
