"""``python -m dlcourse``: see :mod:`dlcourse.cli`."""

import sys

from dlcourse.cli import main

sys.exit(main())
