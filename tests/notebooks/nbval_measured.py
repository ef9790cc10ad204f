"""nbval extension: measured outputs are compared within a tolerance stated in the notebook.

nbval compares a re-run cell's outputs with the committed ones exactly (after the sanitize file).
That is right for deterministic outputs, and wrong for anything trained, fitted or timed: BLAS,
oneDNN and PyTorch's vectorised kernels pick code paths by instruction set and thread count, and
training amplifies the last bit, so the same seed prints 0.822 on one CPU and 0.818 on another.

The policy (CONTRIBUTING.md, "Verifying outputs on any machine"):

* A code cell is **exact** unless it says otherwise: every character of its sanitized output must
  match.
* A cell is **measured** when it carries the tag ``measured`` or a ``dlcourse.tolerance`` entry in
  its metadata. Its outputs are split into words and numbers. Words, punctuation and the count and
  order of numbers must match exactly (whitespace runs count as one space, so a column may widen);
  each number must lie within the tolerance of the committed one::

      |new - committed| <= abs + rel * |committed|

  Numbers written without a decimal point or exponent (counts, epochs, indices) are compared
  exactly unless the tolerance gives ``int_abs`` (an absolute allowance for them).
  A NaN or ``inf`` where the committed run had a number is a changed word, so it fails.
* The tolerance comes from the cell's ``metadata.dlcourse.tolerance`` (``{"abs": .., "rel": ..,
  "int_abs": ..}``, missing keys taken from below), else the notebook's
  ``metadata.dlcourse.tolerance``, else :data:`DEFAULT_TOLERANCE`.
* Claims the prose makes about results are checked by assertions in the notebook's own cells,
  which this plugin leaves alone: they pass or fail in the run under test.

A failure names the cell, the number that moved, its line, by how much, and the allowance.

Set ``DLCOURSE_DRIFT_LOG=path`` to append one JSON line per compared cell (measured or exact)
with the largest drift seen (``ok`` under the cell's own rule): ``python -m tools.drift_report`` turns
those lines into a table.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from dataclasses import dataclass, field

import pytest

from tools.notebook_meta import is_measured

#: Tolerance of a measured cell that states none (nor does its notebook). An accuracy near 0.8
#: may move by 0.005 + 0.01 * 0.8 = 0.013: enough for last-digit drift, while an accuracy two
#: points lower fails.
DEFAULT_TOLERANCE = {"abs": 0.005, "rel": 0.01, "int_abs": 0}

#: How an exact cell's numbers are described when they differ: nothing may move.
EXACT = {"abs": 0.0, "rel": 0.0, "int_abs": 0}

# A number: optional sign (not after a letter, digit or dot), digits, optional fraction, optional
# exponent. The sign belongs to the number, so a difference that crosses zero (+0.001 -> -0.001) is
# a small move, not a changed word. Digits glued to letters ("conv2d", "x1") are words: exact.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])")
_SPACE = re.compile(r"\s+")


@dataclass
class Drift:
    """One number that differs between the committed output and the new one."""

    line: int
    committed: str
    new: str
    delta: float
    allowed: float

    @property
    def ok(self) -> bool:
        return self.delta <= self.allowed

    def __str__(self) -> str:
        verdict = "within" if self.ok else "BEYOND"
        return (f"line {self.line}: {self.committed} -> {self.new} moved by {self.delta:.3g}, "
                f"{verdict} the allowed {self.allowed:.3g}")


@dataclass
class Comparison:
    """Result of comparing one committed text with a new one under a tolerance."""

    text: str  # the new text, with in-tolerance numbers replaced by the committed spelling
    drifts: list[Drift] = field(default_factory=list)
    structure: str | None = None  # why the words or the count of numbers differ, if they do

    @property
    def ok(self) -> bool:
        return self.structure is None and all(d.ok for d in self.drifts)


def split_numbers(text: str) -> tuple[list[str], list[str]]:
    """Split ``text`` into its words (the text between numbers) and its numbers.

    Returns ``(words, numbers)`` with ``len(words) == len(numbers) + 1``; whitespace runs in the
    words are collapsed to one space so that a widened column is not a change.
    """
    words, numbers, start = [], [], 0
    for match in _NUMBER.finditer(text):
        words.append(text[start:match.start()])
        numbers.append(match.group())
        start = match.end()
    words.append(text[start:])
    return [_SPACE.sub(" ", w) for w in words], numbers


def _is_integer(token: str) -> bool:
    return not any(c in token for c in ".eE")


def allowance(committed: str, tolerance: dict) -> float:
    """How far a number may move from ``committed`` under ``tolerance``."""
    if _is_integer(committed):
        return float(tolerance.get("int_abs", 0))
    return tolerance["abs"] + tolerance["rel"] * abs(float(committed))


def compare_text(committed: str, new: str, tolerance: dict) -> Comparison:
    """Compare a new output text with the committed one: words exactly, numbers within tolerance."""
    if committed == new:
        return Comparison(new)
    ref_words, ref_numbers = split_numbers(committed)
    new_words, new_numbers = split_numbers(new)
    if len(ref_numbers) != len(new_numbers):
        return Comparison(new, structure=f"{len(ref_numbers)} numbers committed, "
                                         f"{len(new_numbers)} printed now")
    matches = list(_NUMBER.finditer(committed))
    starts = [0] + [m.end() for m in matches]  # where each word of the committed text begins
    for start, a, b in zip(starts, ref_words, new_words, strict=True):
        if a != b:
            same = len(os.path.commonprefix([a, b]))  # the first differing character of the word
            line = committed[:start + same].count("\n") + 1
            return Comparison(new, structure=f"words changed near line {line}: {a.strip()!r} -> "
                                             f"{b.strip()!r}")
    drifts = []
    lines = [committed[:m.start()].count("\n") + 1 for m in matches]
    for line, a, b in zip(lines, ref_numbers, new_numbers, strict=True):
        if a != b:
            delta = abs(float(b) - float(a))
            drifts.append(Drift(line, a, b, delta, allowance(a, tolerance)))
    result = Comparison(new, drifts)
    if result.ok:
        result.text = committed  # same words, every number within tolerance: the committed text
    return result


def cell_tolerance(cell, notebook) -> dict | None:
    """The tolerance of a measured cell, or None for an exact one."""
    if not is_measured(cell):
        return None
    own = cell.metadata.get("dlcourse", {}).get("tolerance")
    notebook_default = notebook.metadata.get("dlcourse", {}).get("tolerance", {}) if notebook else {}
    return {**DEFAULT_TOLERANCE, **notebook_default, **(own or {})}


def _texts(output) -> list[tuple[str, str]]:
    """(key, text) pairs that nbval compares in one output: a stream's text, a display's text types."""
    if output.get("output_type") == "stream":
        return [(output.get("name", "stdout"), output.get("text", ""))]
    data = output.get("data", {})
    return [(k, v) for k, v in data.items() if isinstance(v, str) and k.startswith("text/")]


def _set_text(output, key: str, text: str) -> None:
    if output.get("output_type") == "stream":
        output["text"] = text
    else:
        output["data"][key] = text


def _pairs(test: list, ref: list) -> list[tuple]:
    """Pair new outputs with committed ones: streams by name, the others in their order."""
    streams = {out.get("name"): out for out in ref if out.get("output_type") == "stream"}
    displays = [out for out in ref if out.get("output_type") != "stream"]
    pairs, shown = [], 0
    for out in test:
        if out.get("output_type") == "stream":
            if out.get("name") in streams:
                pairs.append((out, streams[out.get("name")]))
        elif shown < len(displays):
            pairs.append((out, displays[shown]))
            shown += 1
    return pairs


def _log_drift(item, tolerance, comparisons: list[Comparison]) -> None:
    path = os.environ["DLCOURSE_DRIFT_LOG"]
    drifts = [d for c in comparisons for d in c.drifts]
    worst = max(drifts, key=lambda d: d.delta / d.allowed if d.allowed else math.inf, default=None)
    record = {
        "notebook": item.parent.path.name, "folder": item.parent.path.parent.name,
        "cell": item.cell_num, "measured": tolerance is not None,
        "max_float_abs": max((d.delta for d in drifts if not _is_integer(d.committed)), default=0.0),
        "max_int_abs": max((d.delta for d in drifts if _is_integer(d.committed)), default=0.0),
        "worst": str(worst) if worst else None,
        "structure": next((c.structure for c in comparisons if c.structure), None),
        "ok": all(c.ok for c in comparisons),
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")


def _compare(item, test: list, ref: list, tolerance: dict | None) -> list[Comparison]:
    """Compare every text of the new outputs with the committed one; under a tolerance, write the
    committed spelling of in-tolerance numbers back into ``test`` so that nbval's exact check agrees."""
    comparisons = []
    for new_out, ref_out in _pairs(test, ref):
        ref_texts = dict(_texts(ref_out))
        for key, new_text in _texts(new_out):
            if key in ref_texts:
                comparison = compare_text(item.sanitize(ref_texts[key]), item.sanitize(new_text),
                                          tolerance or EXACT)
                comparisons.append(comparison)
                if tolerance is not None:
                    _set_text(new_out, key, comparison.text)
    return comparisons


def _explain(item, tolerance: dict | None, comparisons: list[Comparison], same: bool, logging: bool) -> None:
    """Log the drift if asked, and put what moved at the top of a failing cell's report."""
    if logging:
        _log_drift(item, tolerance, comparisons)
    problems = [str(d) for c in comparisons for d in c.drifts if not d.ok]
    problems += [c.structure for c in comparisons if c.structure]
    if not same and problems:
        kind = ("Measured cell (tolerance " + ", ".join(f"{k}={v}" for k, v in tolerance.items()) + ")"
                if tolerance is not None else "Exact cell (nothing may move)")
        item.comparison_traceback.insert(0, f"{kind}; what moved:\n  " + "\n  ".join(problems))


def install(cell_class) -> None:
    """Wrap ``cell_class.compare_outputs`` (nbval's IPyNbCell) with the measured comparison."""
    exact_compare = cell_class.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        tolerance = cell_tolerance(self.cell, getattr(self.parent, "nb", None))
        logging = bool(os.environ.get("DLCOURSE_DRIFT_LOG"))
        if tolerance is None:  # an exact cell: nbval decides; numbers are read only to explain
            same = exact_compare(self, test, ref, skip_compare)
            if logging or not same:
                _explain(self, None, _compare(self, test, ref, None), same, logging)
            return same
        test = copy.deepcopy(test)  # coalesced outputs of the new run, in nbformat's structure
        comparisons = _compare(self, test, ref, tolerance)  # in-tolerance numbers take the committed text
        same = exact_compare(self, test, ref, skip_compare)
        _explain(self, tolerance, comparisons, same, logging)
        return same

    cell_class.compare_outputs = compare_outputs


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval is not installed: nothing to extend
        return
    if not getattr(IPyNbCell, "_dlcourse_measured", False):
        install(IPyNbCell)
        IPyNbCell._dlcourse_measured = True
