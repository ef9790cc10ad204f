"""The course's command line: ``python -m dlcourse COMMAND``.

Commands:
    doctor    print the environment report; exit status 0 when the course is ready, 1 when not.
    fetch     download a data set that lessons read from the cache (once, at set-up time):
              ``python -m dlcourse fetch reviews`` (``--from FILE`` installs a local copy).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _doctor(_: argparse.Namespace) -> int:
    from dlcourse.doctor import print_report

    return 0 if print_report().ok else 1


#: Data sets that ``fetch`` can download: name -> "module:function" taking ``source=``.
FETCHABLE = {"reviews": "dlcourse.data.reviews:fetch_reviews", "compas": "dlcourse.data.compas:fetch_compas"}


def _fetch(args: argparse.Namespace) -> int:
    import importlib

    from dlcourse.data.fetch import DataFileError, DataNotFoundError

    module, function = FETCHABLE[args.dataset].split(":")
    try:
        path = getattr(importlib.import_module(module), function)(source=args.source)
    except (DataNotFoundError, DataFileError) as err:
        print(f"fetch {args.dataset}: failed: {err}")
        return 1
    print(f"fetch {args.dataset}: ok, verified copy at {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dlcourse", description="dlcourse helper commands")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    doctor = commands.add_parser("doctor", help="check that this machine is ready for the course")
    doctor.set_defaults(run=_doctor)
    fetch = commands.add_parser("fetch", help="download a data set into the cache, verified by sha256")
    fetch.add_argument("dataset", choices=sorted(FETCHABLE), help="which data set")
    fetch.add_argument("--from", dest="source", metavar="FILE", default=None,
                       help="install this local copy (checked by sha256) instead of downloading")
    fetch.set_defaults(run=_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)
