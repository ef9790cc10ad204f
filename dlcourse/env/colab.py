"""Detecting Google Colab, the course's GPU platform for learners without one."""

from __future__ import annotations

import os
import sys


def in_colab() -> bool:
    """Return True when running inside a Google Colab runtime.

    Colab imports ``google.colab`` into every kernel and sets ``COLAB_RELEASE_TAG``;
    either sign is enough.
    """
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
