"""Repository-wide pytest hooks: measured notebook outputs, a per-notebook run-time table, and
``serve``, a local HTTP server that stands in for a download site or the package registry.

``tests/notebooks/nbval_measured.py`` extends nbval so that measured outputs (anything trained or fitted)
are compared within the tolerance their notebook states, and deterministic ones exactly.

nbval turns each notebook cell into a test item; this adds up the cells' durations per
notebook (also across pytest-xdist workers) so a slow notebook is visible at once. The table is
printed in the terminal summary and written to ``build/notebook-times.md``.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest_plugins = ["tests.notebooks.nbval_measured"]

# The checks that tests run are not a learner's progress (dlcourse/learner_record.py); the kernels
# the tests start inherit this. Tests of the record choose a file of their own.
os.environ.setdefault("DLCOURSE_PROGRESS", "off")

_NOTEBOOK_SECONDS: dict[str, float] = defaultdict(float)
_NOTEBOOK_FAILED: set[str] = set()
#: A lesson's run-time budget on a 2-core CPU (the issues' "under two minutes").
BUDGET_S = 120


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] += report.duration
        if report.failed:
            _NOTEBOOK_FAILED.add(path)


def pytest_terminal_summary(terminalreporter):
    if not _NOTEBOOK_SECONDS:
        return
    lines = ["| notebook | seconds | within 2 min | result |", "|---|---:|---|---|"]
    for path, seconds in sorted(_NOTEBOOK_SECONDS.items(), key=lambda item: -item[1]):
        lines.append(f"| {path} | {seconds:.1f} | {'yes' if seconds <= BUDGET_S else 'NO'} | "
                     f"{'FAILED' if path in _NOTEBOOK_FAILED else 'passed'} |")
    terminalreporter.write_sep("=", "notebook run times")
    for line in lines:
        terminalreporter.write_line(line)
    out = Path(terminalreporter.config.rootpath) / "build" / "notebook-times.md"
    out.parent.mkdir(exist_ok=True)
    existing = out.read_text() if out.exists() else ""
    out.write_text(existing + "\n".join(lines) + "\n\n")


class _Server:
    """``serve(folder)`` serves ``folder`` on 127.0.0.1 and returns its base URL (ending in ``/``);
    ``serve.requests`` lists the paths requested so far, with their HTTP status."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int]] = []
        self._servers: list[ThreadingHTTPServer] = []

    def __call__(self, folder: Path | str) -> str:
        requests = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                requests.append((self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def serve():
    """Start HTTP servers on 127.0.0.1 for a test: ``url = serve(folder)``; stopped afterwards."""
    server = _Server()
    yield server
    server.close()
