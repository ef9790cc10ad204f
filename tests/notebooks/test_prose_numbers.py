"""No number in a lesson's prose disagrees with the outputs under it.

Every decimal number and every percentage that a Markdown cell writes must be one of:

* a number printed by the same notebook's committed outputs, at the precision the prose uses
  ("about 0.97" matches a printed 0.972; "45 %" matches a printed 45 or 0.45);
* declared in the cell's metadata, ``dlcourse.prose_numbers``, as ``{"0.853": source}``, where the
  source is either another notebook (``notebooks/07_training_in_practice.ipynb``), whose committed
  outputs must then print it, or the reason it is not a result of any run (a setting the code
  uses, a citation, a definition).

Committed outputs are themselves compared with every new run (strict nbval,
tests/notebooks/nbval_measured.py), so a prose number that passes here is tied to the run under
test; when a refresh moves a result, this test names the sentences to update.
"""

import re
from functools import cache
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))

# A decimal number, or a whole number directly followed by a percent sign.
PROSE_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d+(?=\s?%))(?![\w])")
OUTPUT_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
# What in Markdown is not prose: maths, code, link targets, addresses and arXiv identifiers.
NOT_PROSE = [re.compile(p, re.S) for p in
             (r"\$\$.*?\$\$", r"\$[^$\n]*\$", r"`[^`]*`", r"\]\([^)]*\)", r"https?://\S+", r"arXiv:\S+")]


def prose(source: str) -> str:
    for pattern in NOT_PROSE:
        source = pattern.sub(" ", source)
    return source


@cache
def printed_numbers(path: Path) -> tuple[str, ...]:
    """Every number in a notebook's committed outputs (text, HTML and stream), as printed."""
    nb = nbformat.read(path, as_version=4)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            elif "data" in out:
                texts += [v for k, v in out.data.items() if k in ("text/plain", "text/html")]
    return tuple(OUTPUT_NUMBER.findall("\n".join(texts)))


def matches(quoted: str, percent: bool, printed: tuple[str, ...]) -> bool:
    """Whether a printed number, rounded to the prose's precision, is the quoted number."""
    digits = len(quoted.partition(".")[2])
    wanted = [float(quoted)] + ([float(quoted) / 100] if percent else [])
    for token in printed:
        value = float(token)
        for target, extra in zip(wanted, (0, 2), strict=False):
            if round(value, digits + extra) == round(target, digits + extra):
                return True
    return False


def prose_numbers(cell) -> list[tuple[str, bool, str]]:
    """(number, is a percentage, context) for every number in a Markdown cell's prose."""
    text = prose(cell.source)
    found = []
    for match in PROSE_NUMBER.finditer(text):
        percent = text[match.end():match.end() + 2].lstrip().startswith("%")
        context = " ".join(text[max(0, match.start() - 50):match.end() + 20].split())
        found.append((match.group(1), percent, context))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_number_in_the_prose_is_printed_or_declared(path):
    nb = nbformat.read(path, as_version=4)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        declared = cell.metadata.get("dlcourse", {}).get("prose_numbers", {})
        for number, percent, context in prose_numbers(cell):
            source = declared.get(number + ("%" if percent else ""), declared.get(number))
            if source is None:
                if not matches(number, percent, printed_numbers(path)):
                    problems.append(f"cell {index}: {number}{' %' if percent else ''} is not printed "
                                    f"by this notebook: ...{context}...")
            elif source.endswith(".ipynb"):
                other = ROOT / source
                if not other.exists() or not matches(number, percent, printed_numbers(other)):
                    problems.append(f"cell {index}: {number} is not printed by {source}: ...{context}...")
    assert not problems, (
        "Numbers in the prose that no output prints. Update the sentence to the output, or declare "
        "the number in the cell's metadata dlcourse.prose_numbers (a notebook that prints it, or why "
        "it is not a result):\n" + "\n".join(problems))


def test_declared_numbers_are_still_in_their_cells():
    stale = []
    for path in NOTEBOOKS:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            declared = cell.metadata.get("dlcourse", {}).get("prose_numbers", {})
            present = {n + ("%" if pct else "") for n, pct, _ in prose_numbers(cell)} | \
                      {n for n, _, _ in prose_numbers(cell)}
            stale += [f"{path.name} cell {index}: {n}" for n in declared if n not in present]
    assert not stale, "declared prose numbers that the prose no longer mentions:\n" + "\n".join(stale)


def test_the_matching_is_strict_where_it_should_be():
    assert matches("0.97", False, ("0.972",)) and not matches("0.97", False, ("0.962",))
    assert matches("45", True, ("0.45",)) and matches("45", True, ("45",))
    assert not matches("0.853", False, ("0.854",))
    assert prose_numbers(nbformat.v4.new_markdown_cell("rate $0.5$ and `0.1`, acc 0.853, 45 % done")) == [
        ("0.853", False, "rate and , acc 0.853, 45 % done"), ("45", True, "rate and , acc 0.853, 45 % done")]
