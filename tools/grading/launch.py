"""Start a kernel in its sandbox: the command of the grading kernelspec (tools/grading/sandbox.py).

    python tools/grading/launch.py CONFIG [CONNECTION_FILE]

It runs as the grader's user, outside the sandbox: it puts the connection file's path into the
command line that ``CONFIG`` holds (written by the grader), hands the file to the kernel's own user
when the grader runs as root (the kernel then runs as an unprivileged user of its own, see
sandbox.py), and replaces itself with bubblewrap. Run as a script, not with ``-m``: its working
folder is the kernel's scratch folder, and it imports nothing but the standard library.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    with open(argv[1]) as f:
        config = json.load(f)
    connection_file = argv[2] if len(argv) > 2 else ""
    if connection_file and config.get("uid") is not None and os.path.exists(connection_file):
        os.chown(connection_file, config["uid"], config["uid"])
    args = [connection_file if a == "{connection_file}" else a for a in config["argv"]]
    os.execvp(args[0], args)


if __name__ == "__main__":
    main(sys.argv)
