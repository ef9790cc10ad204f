"""The course's command line: ``python -m dlcourse COMMAND``.

Commands:
    doctor    print the environment report; exit status 0 when the course is ready, 1 when not.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _doctor(_: argparse.Namespace) -> int:
    from dlcourse.doctor import print_report

    return 0 if print_report().ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dlcourse", description="dlcourse helper commands")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    doctor = commands.add_parser("doctor", help="check that this machine is ready for the course")
    doctor.set_defaults(run=_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)
