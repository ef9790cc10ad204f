"""Exercise checks: instant, specific feedback for a learner, and pass/fail records for the grader.

One ``with checking(...)`` block per question::

    from dlcourse.checks import checking

    with checking("sigmoid") as check:
        out = sigmoid(np.array([0.0, 2.0]))
        check.shape("sigmoid(z)", out, (2,))
        check.close("sigmoid(0)", out[0], 0.5, rtol=1e-6)
        check.true("sigmoid is increasing", out[1] > out[0], hint="compare the two values")

What a block does when it ends:

- every check passed: it prints ``sigmoid: all tests passed``;
- a check failed: it raises :class:`CheckFailed` (an ``AssertionError``) whose message names the
  value, what was expected, what was found and where (an index, a shape, a term);
- the learner's stub raised ``NotImplementedError``: it prints ``sigmoid: not attempted yet ...``
  and swallows the error, so an untouched exercise notebook runs top to bottom. In *grading mode*
  the same block fails instead.

Grading mode is switched on only by the grader (``tools/grading/``): right before each graded
test cell it runs a fresh copy of this module's source, with a random token, in place of the
imported module. A learner's earlier cells therefore cannot turn grading mode off, nor keep a
monkeypatched ``checking``: the test cell gets a pristine copy. The pristine copy publishes one
record per block (mime type :data:`RECORD_MIME`) with that token, and the grader counts a test
cell as passed only if every block in it published a "passed" record with the right token.
See docs/instructors.md for what code running *inside* a test (the learner's own function) could
still do, and how the grader flags it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Check", "CheckFailed", "checking", "is_grading", "RECORD_MIME"]

#: Mime type of the records a block publishes in grading mode.
RECORD_MIME = "application/vnd.dlcourse.check+json"

# Grading state: None for a learner; {"token": str} while the grader runs a test cell.
_GRADING: dict[str, str] | None = None
#: Records published so far in this process (the grader reads them from the cell outputs).
RECORDS: list[dict[str, Any]] = []


class CheckFailed(AssertionError):
    """A check of an exercise failed; the message says what is wrong and where."""


def is_grading() -> bool:
    """Return True while the grader runs a test cell (never in a learner's session)."""
    return _GRADING is not None


def _enable_grading(token: str) -> None:
    """Switch grading mode on for this copy of the module (called by the grader only)."""
    global _GRADING
    _GRADING = {"token": str(token)}


def _publish(record: dict[str, Any]) -> None:
    """Publish a grading record: kept in :data:`RECORDS`, and sent to the notebook if any."""
    RECORDS.append(record)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is always installed with the course
        return
    shell = get_ipython()
    publisher = getattr(shell, "display_pub", None)
    if publisher is not None:
        publisher.publish(data={RECORD_MIME: record}, metadata={})


def _fmt(value: Any) -> str:
    """Format a number or a small array for a message: 6 significant digits, short."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=6, threshold=8, edgeitems=2, separator=", ")
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _as_float_array(what: str, value: Any) -> np.ndarray:
    """Convert ``value`` (number, list, NumPy array, torch tensor) to a float64 array."""
    if value is None:
        raise CheckFailed(f"{what}: got None. Did the function forget to `return` its result?")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{what}: expected numbers, got {type(value).__name__} "
                          f"({_fmt(value)}): {error}") from None


def _shape_of(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return tuple(int(n) for n in shape)
    try:
        return tuple(np.shape(value))
    except (TypeError, ValueError):
        return None


class Check:
    """The checks of one question (one ``with checking(...)`` block).

    Every method raises :class:`CheckFailed` with a specific message when its check fails, and
    returns ``None`` otherwise. ``name`` is how the message refers to the value being checked,
    e.g. ``"sigmoid(z)"`` or ``"dL/dW1"``.
    """

    def __init__(self, block: str) -> None:
        self.block = block
        #: number of checks that passed in this block
        self.count = 0

    def _fail(self, message: str) -> None:
        raise CheckFailed(f"{self.block}: {message}")

    def true(self, name: str, condition: Any, hint: str = "") -> None:
        """Check that ``condition`` is true (a bool or a 0-d array); ``hint`` says what to look at."""
        try:
            ok = bool(condition)
        except (TypeError, ValueError):
            self._fail(f"{name}: expected a single True/False, got {_fmt(condition)}. "
                       "Use np.all(...) or np.any(...) to reduce an array to one answer.")
        if not ok:
            self._fail(f"{name}: this is not true" + (f". Hint: {hint}" if hint else "."))
        self.count += 1

    def equal(self, name: str, got: Any, expected: Any) -> None:
        """Check exact equality (ints, strings, tuples, shapes, integer arrays)."""
        if isinstance(got, np.ndarray) or isinstance(expected, np.ndarray):
            if _shape_of(got) != _shape_of(expected):
                self._fail(f"{name}: expected shape {_shape_of(expected)}, got shape {_shape_of(got)}.")
            got_a, exp_a = np.asarray(got), np.asarray(expected)
            wrong = np.argwhere(got_a != exp_a)
            if len(wrong):
                where = tuple(int(i) for i in wrong[0])
                self._fail(f"{name}: wrong at index {where}: expected {_fmt(exp_a[where])}, "
                           f"got {_fmt(got_a[where])} ({len(wrong)} of {exp_a.size} entries differ).")
        elif got != expected:
            hint = " Did the function forget to `return` its result?" if got is None else ""
            self._fail(f"{name}: expected {_fmt(expected)}, got {_fmt(got)}.{hint}")
        self.count += 1

    def shape(self, name: str, value: Any, expected: Sequence[int]) -> None:
        """Check that ``value`` has the shape ``expected``, e.g. ``(batch, 10)``."""
        if value is None:
            self._fail(f"{name}: got None. Did the function forget to `return` its result?")
        got = _shape_of(value)
        expected = tuple(int(n) for n in expected)
        if got != expected:
            detail = ""
            if got is not None and sorted(got) == sorted(expected) and got != expected:
                detail = " The same sizes in another order: is something transposed?"
            elif got is not None and len(got) != len(expected):
                detail = f" It has {len(got)} dimension(s) instead of {len(expected)}."
            self._fail(f"{name}: expected shape {expected}, got shape {got}.{detail}")
        self.count += 1

    def close(self, name: str, got: Any, expected: Any, rtol: float = 1e-5,
              atol: float = 1e-8) -> None:
        """Check ``|got - expected| <= atol + rtol * |expected|`` everywhere (NaN never passes).

        ``got`` and ``expected`` may be numbers, lists, arrays or tensors of the same shape.
        The message names the first wrong entry, the expected and the found value there, and
        how many entries are wrong.
        """
        got_a = _as_float_array(f"{self.block}: {name}", got)
        exp_a = np.asarray(expected, dtype=np.float64)
        if got_a.shape != exp_a.shape:
            self._fail(f"{name}: expected shape {exp_a.shape}, got shape {got_a.shape}.")
        bad = ~(np.abs(got_a - exp_a) <= atol + rtol * np.abs(exp_a))
        bad |= np.isnan(got_a)
        if bad.any():
            nan = " (NaN: look for a division by zero or a log of 0)" if np.isnan(got_a).any() else ""
            if got_a.ndim == 0:
                self._fail(f"{name}: expected {_fmt(exp_a.item())}, got {_fmt(got_a.item())}{nan}.")
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            self._fail(f"{name}: wrong at index {where}: expected {_fmt(exp_a[where].item())}, "
                       f"got {_fmt(got_a[where].item())} ({int(bad.sum())} of {bad.size} entries "
                       f"differ){nan}.")
        self.count += 1

    def grad(self, name: str, f: Callable[[np.ndarray], Any], x: Any, analytic_grad: Any,
             rtol: float = 1e-6, eps: float = 1e-6, atol: float = 1e-8) -> None:
        """Compare ``analytic_grad`` with a central finite-difference gradient of ``f`` at ``x``.

        ``f`` maps an array shaped like ``x`` to a scalar; ``analytic_grad`` has ``x``'s shape.
        Each entry is estimated as ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` in float64.
        """
        x0 = np.array(x, dtype=np.float64)
        g = _as_float_array(f"{self.block}: {name}", analytic_grad)
        if g.shape != x0.shape:
            self._fail(f"{name}: the gradient must have the shape of its input {x0.shape}, "
                       f"got shape {g.shape}.")
        numeric = np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            step = np.zeros_like(x0)
            step[i] = eps
            numeric[i] = (float(f(x0 + step)) - float(f(x0 - step))) / (2 * eps)
        bad = ~(np.abs(g - numeric) <= atol + rtol * np.abs(numeric))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            self._fail(f"{name}: gradient wrong at index {where}: finite differences give "
                       f"{_fmt(numeric[where].item())}, your gradient is {_fmt(g[where].item())} "
                       f"({int(bad.sum())} of {bad.size} entries differ).")
        self.count += 1


class checking:  # noqa: N801 - used like a function: ``with checking("name") as check:``
    """Context manager for one question's checks; see the module docstring."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"checking() needs the question's name as a non-empty string, got {name!r}")
        self.name = name
        self.check = Check(name)

    def __enter__(self) -> Check:
        return self.check

    def _record(self, status: str, message: str = "") -> None:
        if _GRADING is not None:
            _publish({"token": _GRADING["token"], "block": self.name, "status": status,
                      "checks": self.check.count, "message": message[:2000]})

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self._record("passed")
            if self.check.count:
                print(f"{self.name}: all tests passed")
            else:
                print(f"{self.name}: ran without errors")
            return False
        if issubclass(exc_type, NotImplementedError):
            self._record("not attempted", f"{self.name}: not attempted")
            if _GRADING is not None:
                raise CheckFailed(f"{self.name}: not attempted (the stub still raises "
                                  "NotImplementedError)") from None
            print(f"{self.name}: not attempted yet. Write your code where it says "
                  "`# YOUR CODE HERE`, delete the `raise NotImplementedError()` line, "
                  "then run this cell again.")
            return True
        if issubclass(exc_type, CheckFailed):
            self._record("failed", str(exc))
            return False
        self._record("error", f"{exc_type.__name__}: {exc}")
        if not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            print(f"{self.name}: your code raised {exc_type.__name__} (see the traceback below).")
        return False

