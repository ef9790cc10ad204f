"""Where the course and its data live.

The course is used from a clone of the repository (``make lab``, or the Colab setup cell,
which clones it to ``/content/dlcourse``), so the data folder is found next to the package.
``DLCOURSE_DATA`` overrides it, for example to point at a shared read-only copy.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The ``dlcourse`` package folder (this module lives in ``dlcourse/data/``).
PACKAGE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = PACKAGE_DIR.parent


def data_dir() -> Path:
    """Return the folder with the course's data files (``$DLCOURSE_DATA`` or ``<repo>/data``)."""
    override = os.environ.get("DLCOURSE_DATA")
    return Path(override).expanduser() if override else REPO_DIR / "data"


def cache_dir() -> Path:
    """Return the folder where downloaded data is cached (``$DLCOURSE_CACHE`` or ``~/.cache/dlcourse``)."""
    override = os.environ.get("DLCOURSE_CACHE")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "dlcourse"
