"""Every repository path that a Markdown file names exists: README, CONTRIBUTING, docs/, data/ and
the benchmark tables point maintainers at files, and a file that moved must not leave a stale name.

A name counts as a repository path when it is written as code (`...`) or as a link target and its
first folder is one of the repository's tracked top-level folders (``dlcourse/``, ``tests/``, ...).
Globs (``notebooks/0*.ipynb``) must match at least one file; a pytest node id or a line number
after the path (``tests/unit/test_x.py::test_y``, ``Makefile:12``) is checked for the file alone.
Generated folders (``build/``, ``.venv/``) are not tracked, and names that git ignores (a place to put
files by hand) or that hold a placeholder in capitals (``solutions/NN_name.ipynb``) are not checked.
Fenced code blocks are skipped: they show commands, not references.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TRACKED = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
TOP_FOLDERS = {name.split("/")[0] for name in TRACKED if "/" in name}
MARKDOWN = sorted(name for name in TRACKED if name.endswith(".md")
                  and not name.startswith(("notebooks/", "solutions/", "exercises/")))

FENCED = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`([^`]+)`")
LINK_TARGET = re.compile(r"\]\(([^)\s#]+)")
PATH_LIKE = re.compile(r"^[\w.*\-/\[\]]+$")
PLACEHOLDER = re.compile(r"(^|[/_])(NN|NAME|N)(_|\.|/|$)")


def named_paths(text: str) -> set[str]:
    """The repository paths that ``text`` names (see the module's docstring for what counts)."""
    text = FENCED.sub("", text)
    found = set()
    for candidate in CODE_SPAN.findall(text) + LINK_TARGET.findall(text):
        candidate = candidate.strip().split("::")[0]
        candidate = re.sub(r":\d+$", "", candidate).rstrip(".,;")
        if "/" not in candidate or not PATH_LIKE.match(candidate) or PLACEHOLDER.search(candidate):
            continue
        if candidate.split("/")[0] in TOP_FOLDERS:
            found.add(candidate)
    return found


def ignored(path: str) -> bool:
    """Whether git ignores ``path``: a generated file or a place a person fills by hand."""
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0


def exists(path: str) -> bool:
    """Whether ``path`` (a file, a folder or a glob) names something in the working tree."""
    if any(ch in path for ch in "*?["):
        return any(REPO.glob(path))
    return (REPO / path).exists()


def test_the_reader_finds_paths_and_skips_prose():
    text = ("See `tests/unit/test_checks.py::test_close`, [the page](docs/architecture.md#parts), "
            "`notebooks/0*.ipynb`, `build/book/html`, `python -m tools.grading`, `a/b c`, `Makefile:3`, "
            "`solutions/NN_name.ipynb`, `python -m\n tools.book`, `dlcourse/env/`.\n```\ntools/x.py\n```\n")
    assert named_paths(text) == {"tests/unit/test_checks.py", "docs/architecture.md", "notebooks/0*.ipynb",
                                 "dlcourse/env/"}
    assert not exists("tests/unit/no_such_test.py")
    assert exists("notebooks/0*.ipynb")


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_every_named_path_exists(markdown):
    missing = sorted(path for path in named_paths((REPO / markdown).read_text())
                     if not exists(path) and not ignored(path))
    assert not missing, f"{markdown} names paths that do not exist (moved or renamed?): {missing}"
