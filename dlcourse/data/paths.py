"""Where the course and its data live.

The course is used from a clone of the repository (``make lab``, or the Colab setup cell,
which clones it to ``/content/dlcourse``), so the data folder is found next to the package.
``DLCOURSE_DATA`` overrides it, for example to point at a shared read-only copy.
On Colab, :func:`dlcourse.env.colab.keep_on_drive` points the cache and the checkpoints at the
learner's Google Drive, where they outlive the session.
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


def checkpoint_dir() -> Path:
    """Return the folder for training checkpoints that should outlive the session.

    ``$DLCOURSE_CHECKPOINTS`` (on Colab, set by :func:`dlcourse.env.colab.keep_on_drive` to a folder
    on Google Drive), else ``checkpoints`` in the user's data folder (``platformdirs``; on Linux
    ``~/.local/share/dlcourse/checkpoints``), beside the progress record. Lessons pass
    ``checkpoint=checkpoint_dir() / "name.pt"`` to :func:`dlcourse.pytorch.training.fit`.
    """
    override = os.environ.get("DLCOURSE_CHECKPOINTS")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("dlcourse", appauthor=False)) / "checkpoints"
