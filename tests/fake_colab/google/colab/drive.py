"""Stand-in for Colab's ``google.colab.drive`` (tests/fake_colab/README.md).

Colab's ``mount(mountpoint)`` asks the learner to allow access, then shows their Google Drive at
``mountpoint`` (a FUSE file system with ``MyDrive`` in it). Here ``mount`` makes ``mountpoint`` a
symbolic link to the folder named by ``$DLCOURSE_FAKE_DRIVE``, the stand-in Drive, which lives
outside the stand-in ``/content`` and so outlives a session; without that variable it refuses, as
Colab does when the learner denies access. Its checks are Colab's: a mountpoint already showing
Drive is kept; a link, a folder with files or a missing parent folder is refused.
"""

import os

#: The variable naming the stand-in Drive folder (with ``MyDrive`` in it).
FAKE_DRIVE = "DLCOURSE_FAKE_DRIVE"


class MessageError(RuntimeError):
    """Like ``google.colab._message.MessageError``, which ``mount`` raises when access is refused."""


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    mountpoint = os.path.expanduser(str(mountpoint))
    if not force_remount and os.path.isdir(os.path.join(mountpoint, "MyDrive")):
        print(f"Drive already mounted at {mountpoint}; to attempt to forcibly remount, call "
              f'drive.mount("{mountpoint}", force_remount=True).')
        return
    drive = os.environ.get(FAKE_DRIVE)
    if not drive:
        raise MessageError("Error: credential propagation was unsuccessful")
    if force_remount and os.path.islink(mountpoint):
        os.unlink(mountpoint)
    if os.path.islink(mountpoint):
        raise ValueError("Mountpoint must not be a symlink")
    if os.path.isdir(mountpoint) and os.listdir(mountpoint):
        raise ValueError("Mountpoint must not already contain files")
    if not os.path.isdir(os.path.dirname(os.path.normpath(mountpoint))):
        raise ValueError("Mountpoint must be in a directory that exists")
    if os.path.isdir(mountpoint):
        os.rmdir(mountpoint)
    os.symlink(drive, mountpoint)
    print(f"Mounted at {mountpoint}")
