"""The claim-oracle table in CONTRIBUTING.md ("Claim oracles") stays complete and true.

A claim cell proves that a run agrees with the prose, not that the computation is right; so every
quantity a claim asserts that a lesson derives by hand has an oracle, a unit test that computes it
another way. Two checks, nothing executed:

1. every test the table names (```tests/...py::test_name```) is a test function at the top level of
   that file (read with ``ast``), so a renamed or deleted oracle fails here, not silently;
2. every claim cell of every lesson is in the table or in its list of comparisons, found by the
   first ten words of its opening comment (after its first ": "), so a new claim without a row fails.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "CONTRIBUTING.md"
ORACLE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
LESSONS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))


def oracle_section() -> str:
    """The text of CONTRIBUTING.md's "Claim oracles" section, whitespace collapsed."""
    text = TABLE.read_text(encoding="utf-8")
    start = text.index("### Claim oracles")
    end = text.find("\n#", start + 1)
    return " ".join(text[start:end if end != -1 else None].split())


def claim_quotes(notebook: Path, words: int = 10) -> list[tuple[int, str]]:
    """(cell index, quote) of each cell tagged ``claim``: the first ``words`` words of its opening
    comment (the comment lines before its code, joined), after the first ": " where there is one
    ("The text below, checked on this run: ...")."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    quotes = []
    for index, cell in enumerate(cells):
        if "claim" not in cell.get("metadata", {}).get("tags", []):
            continue
        lines = "".join(cell["source"]).splitlines()
        comment = []
        for line in lines:
            if not line.startswith("#"):
                break
            comment.append(line.lstrip("# ").strip())
        if not comment:
            quotes.append((index, f"(no opening comment: {lines[0]!r})"))
            continue
        said = " ".join(comment).split(": ", 1)[-1].split()
        quotes.append((index, " ".join(said[:words]).rstrip(",:;")))
    return quotes


def test_the_table_names_oracles():
    assert len(ORACLE.findall(oracle_section())) > 20


def test_every_named_oracle_is_a_test_that_exists():
    missing = []
    for file, name in sorted(set(ORACLE.findall(oracle_section()))):
        path = REPO / file
        defined = ({node.name for node in ast.parse(path.read_text(encoding="utf-8")).body
                    if isinstance(node, ast.FunctionDef)} if path.exists() else set())
        if name not in defined:
            missing.append(f"{file}::{name}")
    assert not missing, f"CONTRIBUTING.md's claim oracles name tests that do not exist: {missing}"


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda path: path.stem)
def test_every_claim_is_in_the_oracle_table(notebook):
    section = oracle_section()
    absent = [(index, quote) for index, quote in claim_quotes(notebook) if quote not in section]
    assert not absent, (f"{notebook.name}: claim cells missing from CONTRIBUTING.md's claim oracles "
                        f"(a row with its oracle, or the list of comparisons); cell, first line: {absent}")
