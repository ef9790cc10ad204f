"""dlcourse: the helper package of a Jupyter-first deep learning course.

Each module carries one concept that a lesson built, so later lessons reuse it. docs/architecture.md is
the one inventory of the parts and modules and says what may import what. Importing ``dlcourse``
imports nothing heavy: the submodules import torch where they need it.
"""

__version__ = "0.1.0"
