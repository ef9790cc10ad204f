"""``python -m tools.grading ASSIGNMENT SUBMISSIONS [options]``: see tools/grading/cli.py."""

import sys

from tools.grading.cli import main

sys.exit(main())
