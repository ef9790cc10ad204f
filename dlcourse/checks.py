"""Exercise checks: instant, specific feedback for a learner, and plain values for the grader.

One ``with checking(...)`` block per question::

    from dlcourse.checks import checking

    with checking("sigmoid") as check:
        out = sigmoid(np.array([0.0, 2.0]))
        check.shape("sigmoid(z)", out, (2,))
        check.close("sigmoid(0)", out[0], 0.5, rtol=1e-6)
        check.true("sigmoid is increasing", out[1] > out[0], hint="compare the two values")

Each check is declared once: a name, the value computed from the learner's code, the expected
value (or a property), a tolerance. The same declaration serves two modes:

- **for a learner** (the default) the block compares in the notebook. Every check passed: it prints
  ``sigmoid: all tests passed``; a check failed: it raises :class:`CheckFailed` (an
  ``AssertionError``) whose message names the value, what was expected, what was found and where;
  the learner's stub raised ``NotImplementedError``: it prints ``sigmoid: not attempted yet ...``
  and swallows the error, so an untouched exercise notebook runs top to bottom.
- **when grading** (``DLCOURSE_CHECKS=grading`` in the kernel's environment, set by the grader in
  tools/grading/) nothing is compared in the kernel. Each check converts the learner-side value
  to plain data (:func:`to_plain`: numbers, nested lists, strings, shapes) and the block publishes
  those values as one record (mime type :data:`RECORD_MIME`). The grader's own process compares
  them, with :func:`compare` (this module, imported there), against expected values it computed
  by running the solution (``DLCOURSE_CHECKS=key``). The grader removes the expected arguments
  (:data:`EXPECTED_ARGUMENTS`) from the test cells before they reach the kernel, so expected values
  never enter a graded kernel; replacing NumPy, builtins or this module there can only change the
  values sent, which then fail.

Both modes compare the same plain values with the same functions: a learner's value and the
expected value both go through :func:`to_plain` and :func:`from_plain` first.

The checks:

- ``close(name, got, expected, rtol, atol)``: numbers or arrays within a tolerance;
- ``equal(name, got, expected)``: exact equality (ints, strings, tuples, integer arrays);
- ``shape(name, value, expected)``: an array's shape;
- ``grad(name, f, x, analytic_grad, rtol, eps, atol)``: a gradient against central finite
  differences of ``f`` at ``x``. When grading, the kernel sends both, and the grader compares each
  with the finite differences of the *solution's* ``f``, which it holds: the gradient and the
  function it belongs to must both be right (for a learner, they must agree with each other);
- ``same(name, got, other, rtol, atol)``: two values computed from the learner's code agree (a
  consistency property: the grader compares the two values sent);
- ``true(name, condition, hint)``: a claim about the learner's code (returns a float, updates in
  place, raises ValueError). When grading, the kernel reports the claim's truth; see
  docs/instructors.md for what that means for a question's points;
- ``model(name, model, task)``: a trained model, judged by its parameters: the check sends them
  (nothing else), and whoever judges (the notebook for a learner, the grader's own process when
  grading) rebuilds the architecture the exercise fixes, loads them and measures the model, with
  :func:`dlcourse.model_tasks.judge` (see :mod:`dlcourse.model_tasks`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Check", "CheckFailed", "checking", "is_grading", "mode", "RECORD_MIME", "to_plain",
           "from_plain", "compare", "Failure", "Opaque"]

#: Mime type of the records a block publishes when grading.
RECORD_MIME = "application/vnd.dlcourse.check+json"
#: The environment variable that selects the mode: unset for a learner, ``grading`` or ``key``.
MODE_VARIABLE = "DLCOURSE_CHECKS"
#: For each check method, the positions (and keyword names) of the arguments that hold expected
#: values or compute them: the grader removes them from a test cell before a graded kernel runs it.
EXPECTED_ARGUMENTS: dict[str, dict[int, str]] = {
    "close": {2: "expected"}, "equal": {2: "expected"}, "shape": {2: "expected"},
}
#: Largest array sent to the grader (entries); a larger one is reported as too large.
MAX_ELEMENTS = 1_000_000
_MAX_TEXT = 10_000
_MAX_DEPTH = 20

#: ``learner`` (compare here, print feedback), ``grading`` (send values) or ``key`` (compare here
#: and send the expected values: the grader's run of the solution).
_MODE = os.environ.get(MODE_VARIABLE, "learner")
if _MODE not in ("learner", "grading", "key"):
    _MODE = "learner"
#: Records published so far in this process (the grader reads them from the cell outputs).
RECORDS: list[dict[str, Any]] = []


class CheckFailed(AssertionError):
    """A check of an exercise failed; the message says what is wrong and where.

    In IPython (JupyterLab, Colab) a learner sees the message alone, plainly, and how to see
    more: the first time the error is shown it is its message; ``%tb`` then shows the whole
    traceback (IPython asks :meth:`_render_traceback_` again).
    """

    _shown = False

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this error: the message first; the traceback on request."""
        if not self._shown:
            self._shown = True
            return [f"\x1b[1;31mCheckFailed\x1b[0m: {self}",
                    "\x1b[2m(this is the check's verdict; run %tb in a new cell to see the "
                    "traceback)\x1b[0m"]
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.InteractiveTB.structured_traceback(type(self), self, self.__traceback__)
        import traceback

        return [line.rstrip("\n") for line in
                traceback.format_exception(type(self), self, self.__traceback__)]


def mode() -> str:
    """Return ``learner``, ``grading`` or ``key`` (see the module docstring)."""
    return _MODE


def is_grading() -> bool:
    """Return True in a kernel run by the grader (never in a learner's session)."""
    return _MODE != "learner"


# ----------------------------------------------------------------------------------------------
# Plain data: the one representation of a value on both sides of the grader's channel.


class Opaque:
    """A value that is not plain data (an object, a too-large array), as the grader sees it."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Opaque) and (self.type_name, self.text)
                == (other.type_name, other.text))

    __hash__ = None  # type: ignore[assignment]


def _float_plain(x: float) -> Any:
    return x if math.isfinite(x) else {"float": repr(x)}


def _array_plain(a: np.ndarray) -> dict:
    if a.size > MAX_ELEMENTS:
        return {"object": "ndarray", "repr": f"an array of shape {tuple(a.shape)}, too large to "
                                             f"send (more than {MAX_ELEMENTS} entries)"}
    kind = a.dtype.kind
    if kind == "b":
        data, dtype = a.astype(bool).ravel().tolist(), "bool"
    elif kind in "iu":
        data, dtype = a.astype(np.int64).ravel().tolist(), "int"
    elif kind == "f":
        flat = a.astype(np.float64).ravel()
        data = flat.tolist()
        if not np.isfinite(flat).all():
            data = [v if math.isfinite(v) else repr(v) for v in data]
        dtype = "float"
    elif kind in "US":
        data, dtype = [str(v)[:_MAX_TEXT] for v in a.ravel().tolist()], "str"
    else:
        return {"object": f"ndarray of {a.dtype}", "repr": _fmt(a)}
    return {"array": {"dtype": dtype, "shape": list(a.shape), "data": data}}


def to_plain(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` as JSON-able plain data: what the grader receives from a kernel.

    Numbers, strings, ``None`` and booleans stay as they are (NaN and infinities are tagged);
    lists, tuples and dicts keep their kind; NumPy arrays, NumPy scalars and torch tensors become
    tagged arrays; anything else becomes an :class:`Opaque` description (its type and repr).
    """
    if value is None or isinstance(value, (bool, str)):
        return value[:_MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float_plain(float(value))
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return _float_plain(float(value))
        if isinstance(value, (np.str_, np.bytes_)):
            return str(value)[:_MAX_TEXT]
    if _depth > _MAX_DEPTH:
        return {"object": type(value).__name__, "repr": "(nested too deeply)"}
    if isinstance(value, np.ndarray):
        return _array_plain(value)
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):  # torch
        tensor = value.detach().cpu()
        if str(getattr(tensor, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
            tensor = tensor.float()
        return _array_plain(tensor.numpy())
    if type(value).__name__ == "Size" and isinstance(value, tuple):  # torch.Size
        return {"tuple": [int(n) for n in value]}
    if isinstance(value, list):
        return {"list": [to_plain(v, _depth + 1) for v in value[:MAX_ELEMENTS]]}
    if isinstance(value, tuple):
        return {"tuple": [to_plain(v, _depth + 1) for v in value[:MAX_ELEMENTS]]}
    if isinstance(value, (set, frozenset)):
        items = [to_plain(v, _depth + 1) for v in list(value)[:MAX_ELEMENTS]]
        return {"set": sorted(items, key=repr)}
    if isinstance(value, dict):
        return {"dict": [[to_plain(k, _depth + 1), to_plain(v, _depth + 1)]
                         for k, v in list(value.items())[:MAX_ELEMENTS]]}
    if hasattr(value, "__array__"):
        try:
            return _array_plain(np.asarray(value))
        except Exception:
            pass
    return {"object": type(value).__name__, "repr": _fmt(value)}


def from_plain(data: Any, _depth: int = 0) -> Any:
    """Return the value that :func:`to_plain` described (arrays as NumPy arrays).

    The grader reads what a kernel sent with it, so any data gives a value and never an error:
    what is nested deeper than :func:`to_plain` writes, an array whose shape does not match its
    data or whose type is unknown, a body of the wrong type, all become an :class:`Opaque`
    description, which fails every check.
    """
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if _depth > 2 * _MAX_DEPTH:
        return Opaque(type(data).__name__, "(nested too deeply)")
    if isinstance(data, dict) and len(data) == 1:
        (kind, body), = data.items()
        inner = _depth + 1
        try:
            if kind == "float":
                return float(body)
            if kind == "list":
                return [from_plain(v, inner) for v in body]
            if kind == "tuple":
                return tuple(from_plain(v, inner) for v in body)
            if kind == "set":
                items = [from_plain(v, inner) for v in body]
                try:
                    return frozenset(items)
                except TypeError:
                    return Opaque("set", repr(items))
            if kind == "dict":
                out = {}
                for k, v in body:
                    key = from_plain(k, inner)
                    out[key if isinstance(key, (str, int, float, bool, tuple)) or key is None
                        else repr(key)] = from_plain(v, inner)
                return out
            if kind == "array":
                dtypes = {"bool": bool, "int": np.int64, "float": np.float64, "str": str}
                shape, values = body.get("shape"), body.get("data")
                if not (body.get("dtype") in dtypes and isinstance(values, list)
                        and isinstance(shape, list) and len(shape) <= 64
                        and all(type(n) is int and n >= 0 for n in shape)
                        and math.prod(shape) == len(values)):
                    return Opaque("array", "a malformed array (its type, shape or data)")
                if body["dtype"] == "float":
                    values = [float(v) for v in values]
                return np.array(values, dtype=dtypes[body["dtype"]]).reshape(shape)
        except (TypeError, ValueError, OverflowError, AttributeError):
            return Opaque(str(kind)[:100], "malformed value")
    if isinstance(data, dict) and set(data) == {"object", "repr"}:
        return Opaque(str(data["object"]), str(data["repr"]))
    return Opaque(type(data).__name__, "malformed value")


def _roundtrip(value: Any) -> Any:
    return from_plain(to_plain(value))


# ----------------------------------------------------------------------------------------------
# Comparisons: the same functions in a learner's kernel and in the grader's process.


class Failure:
    """Why a check failed: a ``kind`` the grader may show for a hidden check, and the message."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind, self.message = kind, message

    def __repr__(self) -> str:
        return f"Failure({self.kind!r}, {self.message!r})"


#: What a failed hidden check's feedback says, by kind (no input, no expected value).
KIND_TEXT = {
    "none": "your function returned None",
    "type": "your function returned something of the wrong kind",
    "shape": "the shape is wrong",
    "value": "a value is wrong",
    "nan": "a value is NaN",
    "gradient": "the gradient is wrong",
    "claim": "a property does not hold",
    "missing": "the value sent could not be read",
    "score": "the trained model falls short of what it must reach",
    "time": "the cell ran past its time budget",
}


def _fmt(value: Any) -> str:
    """Format a number or a small array for a message: 6 significant digits, short."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=6, threshold=8, edgeitems=2, separator=", ")
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def _shape_of(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is not None:
        try:
            return tuple(int(n) for n in shape)
        except (TypeError, ValueError):
            return None
    if isinstance(value, Opaque):
        return None
    try:
        return tuple(np.shape(value))
    except (TypeError, ValueError):
        return None


def _float_array(name: str, value: Any) -> np.ndarray | Failure:
    if value is None:
        return Failure("none", f"{name}: got None. Did the function forget to `return` its "
                               "result?")
    if isinstance(value, Opaque):
        return Failure("type", f"{name}: expected numbers, got {value.type_name} ({value.text})")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        return Failure("type", f"{name}: expected numbers, got {type(value).__name__} "
                               f"({_fmt(value)}): {error}")


class _Mismatch(NamedTuple):
    """Where two arrays of one shape differ beyond the tolerance: the first index and the count."""

    got: np.ndarray
    expected: np.ndarray
    where: tuple[int, ...]
    count: int


def _mismatch(name: str, got: Any, expected: Any, rtol: float, atol: float,
              wanted_shape: str = "expected shape") -> Failure | _Mismatch | None:
    """Compare ``got`` with ``expected`` entry by entry: ``|got - expected| <= atol + rtol * |expected|``
    (NaN always fails).

    Returns a :class:`Failure` when ``got`` is not numbers of ``expected``'s shape (its message
    says "{name}: {wanted_shape} (...), got shape (...)"), the :class:`_Mismatch` when an entry is
    outside the tolerance, and None when every entry is within it.
    """
    got_a = _float_array(name, got)
    if isinstance(got_a, Failure):
        return got_a
    exp_a = np.asarray(expected, dtype=np.float64)
    if got_a.shape != exp_a.shape:
        return Failure("shape", f"{name}: {wanted_shape} {exp_a.shape}, got shape {got_a.shape}.")
    bad = ~(np.abs(got_a - exp_a) <= atol + rtol * np.abs(exp_a))
    if not bad.any():
        return None
    return _Mismatch(got_a, exp_a, tuple(int(i) for i in np.argwhere(bad)[0]), int(bad.sum()))


def _compare_close(name: str, got: Any, expected: Any, rtol: float = 1e-5,
                   atol: float = 1e-8) -> Failure | None:
    found = _mismatch(name, got, expected, rtol, atol)
    if not isinstance(found, _Mismatch):
        return found
    got_a, exp_a, where, count = found
    is_nan = bool(np.isnan(got_a).any())
    nan = " (NaN: look for a division by zero or a log of 0)" if is_nan else ""
    kind = "nan" if is_nan else "value"
    if got_a.ndim == 0:
        return Failure(kind, f"{name}: expected {_fmt(exp_a.item())}, got {_fmt(got_a.item())}"
                             f"{nan}.")
    return Failure(kind, f"{name}: wrong at index {where}: expected {_fmt(exp_a[where].item())}, "
                         f"got {_fmt(got_a[where].item())} ({count} of {got_a.size} "
                         f"entries differ){nan}.")


def _compare_equal(name: str, got: Any, expected: Any) -> Failure | None:
    if isinstance(got, np.ndarray) or isinstance(expected, np.ndarray):
        if _shape_of(got) != _shape_of(expected):
            return Failure("shape", f"{name}: expected shape {_shape_of(expected)}, got shape "
                                    f"{_shape_of(got)}.")
        got_a, exp_a = np.asarray(got), np.asarray(expected)
        wrong = np.argwhere(got_a != exp_a)
        if len(wrong):
            where = tuple(int(i) for i in wrong[0])
            return Failure("value", f"{name}: wrong at index {where}: expected "
                                    f"{_fmt(exp_a[where])}, got {_fmt(got_a[where])} "
                                    f"({len(wrong)} of {exp_a.size} entries differ).")
        return None
    if not _equal_values(got, expected):
        hint = " Did the function forget to `return` its result?" if got is None else ""
        return Failure("none" if got is None else "value",
                       f"{name}: expected {_fmt(expected)}, got {_fmt(got)}.{hint}")
    return None


def _equal_values(a: Any, b: Any) -> bool:
    """``a == b`` for plain values, also when they hold arrays (compared whole)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and bool(np.all(a == b)))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_equal_values(x, y) for x, y in zip(a, b, strict=True)))
    if isinstance(a, (set, frozenset)) or isinstance(b, (set, frozenset)):
        return isinstance(a, (set, frozenset)) and isinstance(b, (set, frozenset)) and a == b
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_equal_values(a[k], b[k]) for k in a))
    try:
        return bool(a == b)
    except Exception:
        return False


def _compare_shape(name: str, got: Any, expected: Any) -> Failure | None:
    """``got`` is what :meth:`Check.shape` sends: ``"none"``, ``None`` (no shape) or a shape."""
    if got == "none":
        return Failure("none", f"{name}: got None. Did the function forget to `return` its "
                               "result?")
    expected = tuple(int(n) for n in expected)
    try:
        got = tuple(int(n) for n in got) if isinstance(got, (list, tuple)) else None
    except (TypeError, ValueError):
        got = None
    if got == expected:
        return None
    detail = ""
    if got is not None and sorted(got) == sorted(expected):
        detail = " The same sizes in another order: is something transposed?"
    elif got is not None and len(got) != len(expected):
        detail = f" It has {len(got)} dimension(s) instead of {len(expected)}."
    return Failure("shape", f"{name}: expected shape {expected}, got shape {got}.{detail}")


def _compare_grad(name: str, got: Any, expected: Any, rtol: float = 1e-6,
                  atol: float = 1e-8) -> Failure | None:
    """``expected`` is the finite-difference gradient, shaped like the input."""
    found = _mismatch(name, got, expected, rtol, atol,
                      wanted_shape="the gradient must have the shape of its input")
    if not isinstance(found, _Mismatch):
        return found
    g, numeric, where, count = found
    return Failure("gradient", f"{name}: gradient wrong at index {where}: finite differences "
                               f"give {_fmt(numeric[where].item())}, your gradient is "
                               f"{_fmt(g[where].item())} ({count} of {g.size} entries "
                               "differ).")


def _compare_function_fd(name: str, got: Any, expected: Any, rtol: float = 1e-6,
                         atol: float = 1e-8) -> Failure | None:
    """The finite differences of a learner's function against those of the solution's."""
    failure = _compare_close(f"{name}: finite differences of the function", got, expected,
                             rtol=rtol, atol=atol)
    if failure is not None and failure.kind == "value":
        failure.kind = "gradient"
    return failure


def _compare_true(name: str, got: Any, expected: Any = True, hint: str = "") -> Failure | None:
    """``got`` is what :meth:`Check.true` sends: a bool, or an :class:`Opaque` for an array."""
    if isinstance(got, Opaque):
        return Failure("claim", f"{name}: expected a single True/False, got {got.text}. "
                                "Use np.all(...) or np.any(...) to reduce an array to one answer.")
    if got is True:
        return None
    return Failure("claim", f"{name}: this is not true" + (f". Hint: {hint}" if hint else "."))


def _compare_model(name: str, got: Any, expected: Any, seconds: Any) -> Failure | None:
    """``got`` is a model's parameters as sent; ``expected`` names its task (``{"task": name}``);
    ``seconds`` is the test cell's run time as the judging process observed it."""
    from dlcourse.model_tasks.task import get_task, judge

    try:
        task = get_task(str(expected.get("task")) if isinstance(expected, dict) else "")
    except ValueError as error:
        return Failure("missing", f"{name}: {error}")
    verdict = judge(task, got, float(seconds) if isinstance(seconds, (int, float)) else None)
    return None if verdict.passed else Failure(verdict.kind or "value", f"{name}: {verdict.message}")


def compare(method: str, name: str, got: Any, expected: Any = None, **params: Any
            ) -> Failure | None:
    """Compare one check's plain ``got`` with its ``expected``; return why it failed, or None.

    ``method`` is the check (close, equal, shape, grad, true, same, model); ``params`` its
    tolerances (``rtol``, ``atol``), ``hint``, or for ``model`` the cell's ``seconds``. Used by
    :class:`Check` for a learner and by the grader.
    """
    if method == "close":
        return _compare_close(name, got, expected, **_only(params, "rtol", "atol"))
    if method == "same":
        return _compare_close(name, got, expected, **_only(params, "rtol", "atol"))
    if method == "equal":
        return _compare_equal(name, got, expected)
    if method == "shape":
        return _compare_shape(name, got, expected)
    if method == "grad":
        return _compare_grad(name, got, expected, **_only(params, "rtol", "atol"))
    if method == "function_fd":
        return _compare_function_fd(name, got, expected, **_only(params, "rtol", "atol"))
    if method == "true":
        return _compare_true(name, got, hint=str(params.get("hint", "")))
    if method == "model":
        return _compare_model(name, got, expected, params.get("seconds"))
    return Failure("missing", f"{name}: unknown check {method!r}")


def _only(params: dict, *keys: str) -> dict:
    return {k: float(params[k]) for k in keys if k in params and params[k] is not None}


# ----------------------------------------------------------------------------------------------
# The checks of one question.


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


class Check:
    """The checks of one question (one ``with checking(...)`` block).

    For a learner, every method raises :class:`CheckFailed` with a specific message when its check
    fails, and returns ``None`` otherwise. When grading, it only records the learner-side value
    for the grader. ``name`` is how the message refers to the value being checked, e.g.
    ``"sigmoid(z)"`` or ``"dL/dW1"``.
    """

    def __init__(self, block: str) -> None:
        self.block = block
        #: when the block started (a model check's time budget counts from here, for a learner)
        self.started = time.perf_counter()
        #: number of checks made in this block
        self.count = 0
        #: what is sent to the grader (grading and key modes)
        self.sent: list[dict[str, Any]] = []

    def _fail(self, message: str) -> None:
        raise CheckFailed(f"{self.block}: {message}")

    def _check(self, method: str, name: str, got: Any, expected: Any = None, **params: Any
               ) -> None:
        """Send ``got`` (grading), or compare it with ``expected`` (learner, key)."""
        entry: dict[str, Any] = {"method": method, "name": str(name)[:500], "value": got}
        if _MODE == "grading":
            self.sent.append(entry)
            self.count += 1
            return
        failure = compare(method, str(name), from_plain(got), from_plain(expected), **params)
        if _MODE == "key":  # the grader keeps the expected value, not the solution's own
            self.sent.append({"method": method, "name": entry["name"], "expected": expected,
                              "params": params})
        if failure is not None:
            self._fail(failure.message)
        self.count += 1

    def _send_two(self, method: str, name: str, value: Any, other: Any) -> None:
        """When grading: send two learner-side values (plain data) that the grader compares with
        each other (``same``) or each with the solution's finite differences (``grad``)."""
        self.sent.append({"method": method, "name": str(name)[:500], "value": value, "other": other})
        self.count += 1

    def true(self, name: str, condition: Any, hint: str = "") -> None:
        """Check that ``condition`` is true (a bool or a 0-d array); ``hint`` says what to look at."""
        try:
            got: Any = bool(condition)
        except (TypeError, ValueError):
            got = {"object": "ambiguous", "repr": _fmt(condition)}
        self._check("true", name, got, True, hint=hint)

    def equal(self, name: str, got: Any, expected: Any = None) -> None:
        """Check exact equality (ints, strings, tuples, shapes, integer arrays)."""
        self._check("equal", name, to_plain(got), _expected(expected))

    def shape(self, name: str, value: Any, expected: Sequence[int] | None = None) -> None:
        """Check that ``value`` has the shape ``expected``, e.g. ``(batch, 10)``."""
        got = "none" if value is None else _shape_of(value)
        self._check("shape", name, to_plain(None if got is None else
                                            (got if got == "none" else list(got))),
                    _expected(None if expected is None else [int(n) for n in expected]))

    def close(self, name: str, got: Any, expected: Any = None, rtol: float = 1e-5,
              atol: float = 1e-8) -> None:
        """Check ``|got - expected| <= atol + rtol * |expected|`` everywhere (NaN never passes).

        ``got`` and ``expected`` may be numbers, lists, arrays or tensors of the same shape.
        The message names the first wrong entry, the expected and the found value there, and
        how many entries are wrong.
        """
        self._check("close", name, to_plain(got), _expected(expected), rtol=rtol, atol=atol)

    def same(self, name: str, got: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8
             ) -> None:
        """Check that two values computed from the learner's code agree (like :meth:`close`).

        When grading, both values are sent and the grader compares them with each other: use it
        for a consistency property (resuming gives the same weights as not stopping), and
        :meth:`close` for a value whose correct answer is known.
        """
        got_p, other_p = to_plain(got), to_plain(other)
        if _MODE == "grading":
            return self._send_two("same", name, got_p, other_p)
        failure = compare("same", str(name), from_plain(got_p), from_plain(other_p),
                          rtol=rtol, atol=atol)
        if _MODE == "key":
            self.sent.append({"method": "same", "name": str(name)[:500], "expected": None,
                              "params": {"rtol": rtol, "atol": atol}})
        if failure is not None:
            self._fail(failure.message)
        self.count += 1

    def grad(self, name: str, f: Callable[[np.ndarray], Any] | None, x: Any,
             analytic_grad: Any, rtol: float = 1e-6, eps: float = 1e-6, atol: float = 1e-8
             ) -> None:
        """Compare ``analytic_grad`` with a central finite-difference gradient of ``f`` at ``x``.

        ``f`` maps an array shaped like ``x`` to a scalar; ``analytic_grad`` has ``x``'s shape.
        Each entry is estimated as ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` in float64.
        When grading, the kernel sends both the gradient and the finite differences; the grader
        compares each with the finite differences of the solution's ``f`` at ``x``.
        """
        x0 = np.array(x, dtype=np.float64)
        numeric = np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            step = np.zeros_like(x0)
            step[i] = eps
            numeric[i] = (float(f(x0 + step)) - float(f(x0 - step))) / (2 * eps)
        got, numeric_p = to_plain(analytic_grad), to_plain(numeric)
        if _MODE == "grading":
            return self._send_two("grad", name, got, numeric_p)
        self._check("grad", name, got, numeric_p, rtol=rtol, atol=atol)


    def model(self, name: str, model: Any, task: str) -> None:
        """Judge a trained ``model`` by its parameters, as the exercise's ``task`` says.

        ``task`` names a :class:`dlcourse.model_tasks.ModelTask`: the architecture the exercise
        fixes, how the model is measured, what it must reach and in how much time. Only the
        parameters are sent (plain arrays, :func:`to_plain`). For a learner the check measures the
        model here and prints the numbers; when grading the grader's own process measures it; in
        the key run (the solution) the grader measures the solution's model the same way.
        """
        from dlcourse.model_tasks.task import get_task, judge

        spec = get_task(task)
        try:
            got = None if model is None else to_plain(spec.state(model))
        except Exception as error:
            got = {"object": type(model).__name__[:200],
                   "repr": f"not a model of {spec.architecture} ({type(error).__name__})"}
        entry = {"method": "model", "name": str(name)[:500], "value": got}
        self.count += 1
        if _MODE == "grading":
            self.sent.append(entry)
            return
        if _MODE == "key":  # judged by the grader, which keeps only the task
            self.sent.append({**entry, "expected": {"task": task}, "params": {}})
            return
        verdict = judge(spec, from_plain(got), time.perf_counter() - self.started)
        if not verdict.passed:
            self.count -= 1
            self._fail(f"{name}: {verdict.message}")
        print(f"{self.block}: {name}: {verdict.message}")


def _expected(expected: Any) -> Any:
    """The expected value as plain data (``None`` when grading: the grader removed it)."""
    return None if _MODE == "grading" else to_plain(expected)


class checking:
    """Context manager for one question's checks; see the module docstring."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"checking() needs the question's name as a non-empty string, got {name!r}")
        self.name = name
        self.check = Check(name)

    def __enter__(self) -> Check:
        return self.check

    def _record(self, outcome: str, error: dict[str, str] | None = None) -> None:
        """Publish the block's record (grading, key), or note a learner's progress: a block with
        checks that passed, failed, raised or was not attempted (:mod:`dlcourse.learner_record`)."""
        if _MODE != "learner":
            _publish({"block": self.name, "outcome": outcome, "checks": self.check.sent,
                      "error": error})
        elif outcome != "finished" or self.check.count:
            try:
                from dlcourse.learner_record import record

                record(self.name, "passed" if outcome == "finished" else outcome)
            except Exception:  # progress is a convenience: it never breaks a learner's cell
                pass

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self._record("finished")
            if _MODE == "grading" and self.check.count:
                print(f"{self.name}: {self.check.count} value(s) sent to the grader")
            elif self.check.count:
                print(f"{self.name}: all tests passed")
            else:
                print(f"{self.name}: ran without errors")
            return False
        if issubclass(exc_type, NotImplementedError):
            self._record("not attempted")
            print(f"{self.name}: not attempted yet. Write your code where it says "
                  "`# YOUR CODE HERE`, delete the `raise NotImplementedError()` line, "
                  "then run this cell again.")
            return True
        if _MODE != "grading" and issubclass(exc_type, CheckFailed):
            self._record("failed", {"type": "CheckFailed", "message": str(exc)[:2000]})
            return False
        try:
            text = str(exc)[:2000]
        except Exception:
            text = ""
        self._record("error", {"type": exc_type.__name__[:200], "message": text})
        if not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            print(f"{self.name}: your code raised {exc_type.__name__} (see the traceback below)."
                  if _MODE != "grading" else f"{self.name}: your code raised "
                  f"{exc_type.__name__}: {text[:300]}")
            # When grading, the error is reported to the grader and the notebook goes on.
            return _MODE == "grading" and issubclass(exc_type, Exception)
        return False
