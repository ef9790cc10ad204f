"""The course's command line: ``python -m dlcourse COMMAND``.

Commands:
    doctor    print the environment report; exit status 0 when the course is ready, 1 when not.
    fetch     put a verified copy of a data set into the cache now (lessons otherwise fetch it on
              first use): ``python -m dlcourse fetch reviews`` (``--from FILE`` installs a local
              copy), ``fetch --all`` (what ``make data`` runs), ``fetch --list``. The data sets
              are those of :mod:`dlcourse.data.registry` that are downloaded.
    progress  your exercises, question by question: passed, attempted or not started, from the
              checks you ran (:mod:`dlcourse.learner_record`); ``--off`` and ``--on`` stop and
              resume recording.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from dlcourse.data.registry import fetchable


def _doctor(_: argparse.Namespace) -> int:
    from dlcourse.doctor import print_report

    return 0 if print_report().ok else 1


def _fetch(args: argparse.Namespace) -> int:
    from dlcourse.data.fetch import DataFileError, DataNotFoundError
    from dlcourse.data.registry import DATASETS

    if args.list:
        for name in fetchable():
            info = DATASETS[name]
            setup = "fetched by --all" if info.at_setup else "fetched on first use only"
            print(f"{name:<14} {info.where() or 'not here yet'}  ({setup}; {info.source})")
        return 0
    if args.all == (args.dataset is not None) or (args.all and args.source):
        print("fetch: name one data set (optionally with --from FILE), or --all, or --list")
        return 2
    names = [name for name in fetchable() if DATASETS[name].at_setup] if args.all else [args.dataset]
    status = 0
    for name in names:
        try:
            path = DATASETS[name].fetch_now(source=args.source)
        except DataNotFoundError as err:
            print(f"fetch {name}: failed: {err} Download it elsewhere and run "
                  f"`python -m dlcourse fetch {name} --from PATH`, or run this again with the network.")
            status = 1
        except DataFileError as err:
            print(f"fetch {name}: failed: {err}")
            status = 1
        else:
            print(f"fetch {name}: ok, verified copy at {path}")
    return status


def _progress(args: argparse.Namespace) -> int:
    from dlcourse.learner_record import progress_table, turn

    if args.off or args.on:
        print(turn(on=args.on))
        return 0
    print(progress_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dlcourse", description="dlcourse helper commands")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    doctor = commands.add_parser("doctor", help="check that this machine is ready for the course")
    doctor.set_defaults(run=_doctor)
    fetch = commands.add_parser("fetch", help="download a data set into the cache, verified by sha256")
    fetch.add_argument("dataset", nargs="?", choices=fetchable(), help="which data set")
    fetch.add_argument("--all", action="store_true", help="every data set that `make data` fetches")
    fetch.add_argument("--list", action="store_true", help="list the data sets and where each is")
    fetch.add_argument("--from", dest="source", metavar="FILE", default=None,
                       help="install this local copy (checked by sha256) instead of downloading "
                            "(for fashion-mnist: a folder with the four files)")
    fetch.set_defaults(run=_fetch)
    progress = commands.add_parser("progress", help="your exercises: what you passed, attempted, "
                                                    "not started")
    switch = progress.add_mutually_exclusive_group()
    switch.add_argument("--off", action="store_true", help="stop recording your checks' outcomes")
    switch.add_argument("--on", action="store_true", help="record them again")
    progress.set_defaults(run=_progress)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)
