"""Google Colab, the course's GPU platform for learners without one: detecting it, and keeping a
learner's work on Google Drive so that it outlives a Colab session.

A free Colab session ends after some idle time or a few hours, and its disk (``/content``) goes
with it: the data cache, the checkpoints, the progress record. :func:`keep_on_drive`, called once
after the setup cell, mounts the learner's Google Drive (Colab asks them to allow it) and points
those three at a course folder there, ``MyDrive/dlcourse``, through the variables the package
already reads (:func:`dlcourse.data.paths.cache_dir`, :func:`dlcourse.data.paths.checkpoint_dir`,
:func:`dlcourse.learner_record.record_path`). After a disconnect, running the setup cell and
:func:`keep_on_drive` again finds everything where it was, and ``fit(..., checkpoint=...)`` in
:mod:`dlcourse.pytorch.training` resumes after the last finished epoch. Off Colab it does nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Where Colab's own instructions mount Google Drive; ``MyDrive`` inside it is the learner's Drive.
MOUNTPOINT = "/content/drive"
#: The course's folder on the learner's Drive (inside ``MyDrive``).
DRIVE_FOLDER = "dlcourse"


class DriveNotMounted(RuntimeError):
    """Google Drive could not be mounted (the learner refused access, or Drive failed)."""


def in_colab() -> bool:
    """Return True when running inside a Google Colab runtime.

    Colab imports ``google.colab`` into every kernel and sets ``COLAB_RELEASE_TAG``;
    either sign is enough.
    """
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


#: What :func:`keep_on_drive` keeps on Drive: the variable the package reads, the place inside the
#: course's folder, and what it is, in words.
ON_DRIVE = {"DLCOURSE_CACHE": ("cache", "the data cache"),
            "DLCOURSE_CHECKPOINTS": ("checkpoints", "checkpoints"),
            "DLCOURSE_PROGRESS": ("progress.jsonl", "your progress record")}


def keep_on_drive(mountpoint: str | Path = MOUNTPOINT, folder: str = DRIVE_FOLDER) -> Path | None:
    """On Colab, keep the data cache, checkpoints and progress record on Google Drive.

    Mounts Drive at ``mountpoint`` with ``google.colab.drive.mount`` (Colab asks the learner to
    allow access; a Drive mounted before is kept), creates ``MyDrive/<folder>`` with ``cache/``
    and ``checkpoints/`` in it, and sets ``DLCOURSE_CACHE``, ``DLCOURSE_CHECKPOINTS`` and
    ``DLCOURSE_PROGRESS`` in this kernel's environment (``DLCOURSE_PROGRESS=off`` stays off).
    Call it again after a reconnect: it finds the same folder.

    Returns:
        The course's folder on Drive, or ``None`` off Colab, where nothing is changed.

    Raises:
        DriveNotMounted: Drive could not be mounted or written to; nothing was changed, so the
            course keeps working in ``/content`` (lost when the session ends).
    """
    if not in_colab():
        return None
    mountpoint = Path(mountpoint)
    try:
        from google.colab import drive

        drive.mount(str(mountpoint))
    except Exception as err:  # Colab's MessageError when access is refused, ValueError otherwise
        raise DriveNotMounted(
            f"Google Drive could not be mounted at {mountpoint} ({type(err).__name__}: {err}). "
            "Run the cell again and allow access to your Google Drive when Colab asks; or go on "
            "without it: the course then keeps its data, checkpoints and progress in /content, "
            "which is lost when the session ends.") from err
    my_drive = mountpoint / "MyDrive"
    if not my_drive.is_dir():
        raise DriveNotMounted(f"Google Drive was mounted at {mountpoint}, but {my_drive} is not a "
                              "folder: remount with drive.mount(..., force_remount=True).")
    course = my_drive / folder
    kept = {variable: course / name for variable, (name, _) in ON_DRIVE.items()
            if not (variable == "DLCOURSE_PROGRESS" and os.environ.get(variable, "").lower() == "off")}
    try:
        for variable in ("DLCOURSE_CACHE", "DLCOURSE_CHECKPOINTS"):
            kept[variable].mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DriveNotMounted(f"cannot create the course's folders on Google Drive in {course}: "
                              f"{err.strerror or err}") from err
    os.environ.update({variable: str(path) for variable, path in kept.items()})
    print(f"Kept on your Google Drive, in {course}: {', '.join(ON_DRIVE[v][1] for v in kept)}.")
    return course
