"""Grade a folder of submitted notebooks into a gradebook (CSV) and per-student feedback.

Usage:
    python tools/grade.py ASSIGNMENT SUBMISSIONS [--out DIR] [--cell-timeout S] [--jobs N]
    make grade ASSIGNMENT=00_warmup SUBMISSIONS=path/to/folder

ASSIGNMENT names a source notebook in solutions/ (``00_warmup``) or is a path to one.
SUBMISSIONS is a folder with one entry per student: ``alice.ipynb``, or nbgrader's layout
``alice/00_warmup.ipynb``. The results go to ``--out`` (default: ``SUBMISSIONS-graded`` next to
the folder); every run writes a new ``runs/<time>/`` folder and a new ``gradebook-<time>.csv``,
and copies the latter to ``gradebook-latest.csv``: an earlier gradebook is never overwritten.

Each submission is graded in its own worker process and a fresh kernel:

1. read and validate the notebook (not JSON, not a notebook: scored 0, with the reason);
2. clear its outputs, then let nbgrader restore it from the source, as ``nbgrader autograde``
   does: DeduplicateIds, then OverwriteCells (with ``add_missing_cells``) against an in-memory
   gradebook filled by SaveCells from the source *with* its hidden tests, so edited or deleted
   test cells come back as written, hidden tests included; cells are put back in source order;
3. run it with nbgrader's Execute preprocessor (per-cell time limit, interrupt on timeout,
   output capped per cell), in a kernel that runs in a sandbox where it cannot see solutions/,
   the repository's .git, the submissions or the results (Linux namespaces via ``unshare``);
   right before each graded test cell the grader runs a pristine copy of dlcourse.checks with
   a random token (see dlcourse/checks.py), and a test cell scores only if every ``checking``
   block in it reported "passed" with that token *and* nbgrader's ``determine_grade`` gives it
   points (no error, nothing on stderr);
4. write the executed notebook (for the instructor), a feedback file (for the student) and one
   gradebook row: student, assignment, points per question, total, max, status, reason.

Written answers are left for a person (an empty cell in the gradebook; a blank answer scores 0).
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
from notebook_meta import ROOT, SOLUTIONS  # noqa: E402

CHECKS_SOURCE = ROOT / "dlcourse" / "checks.py"
RECORD_MIME = "application/vnd.dlcourse.check+json"
MAX_SUBMISSION_BYTES = 20_000_000
STATUSES = ("graded", "timeout", "crashed", "invalid", "error")
#: Code in a learner's cells that reaches into the checker or the interpreter: graded as usual,
#: but flagged for a person to look at (see docs/instructors.md).
SUSPICIOUS = {
    r"dlcourse\.checks|from\s+dlcourse\s+import\s+checks": "touches dlcourse.checks",
    r"sys\.modules": "edits sys.modules",
    r"\bbuiltins\b|__builtins__": "touches builtins",
    r"get_ipython|\bIPython\b": "touches the IPython shell",
    r"settrace|setprofile|addaudithook|_getframe|f_back|f_locals|__closure__|__code__"
    r"|__defaults__|\bgc\.": "inspects or hooks the interpreter",
    r"\bthreading\b|\bmultiprocessing\b|os\.fork": "starts threads or processes",
    r"\bctypes\b|os\._exit|os\.kill|signal\.": "can crash or signal the kernel",
    r"\b(?:np|numpy|math)\.\w+\s*=[^=]": "replaces a NumPy or math function",
    r"\bsetattr\s*\(": "uses setattr",
    r"HIDDEN TESTS|\bos\.walk\b|\bglob\b|\brglob\b|solutions/": "searches files",
}


# --------------------------------------------------------------------------------------------
# Source notebook
# --------------------------------------------------------------------------------------------

def resolve_source(assignment: str) -> Path:
    """Return the source notebook of ``assignment`` (a name in solutions/ or a path)."""
    path = Path(assignment)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    candidate = SOLUTIONS / f"{path.stem}.ipynb"
    if candidate.exists():
        return candidate
    known = ", ".join(p.stem for p in sorted(SOLUTIONS.glob("*.ipynb"))) or "none"
    raise SystemExit(f"no source notebook for assignment {assignment!r} "
                     f"(looked for {candidate}); known assignments: {known}")


def nbgrader_meta(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_autograded_test(cell: Any) -> bool:
    meta = nbgrader_meta(cell)
    return (cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")
            and bool(meta.get("locked")))


def questions(template: Any) -> list[dict]:
    """Return the graded cells of a notebook: id, points and kind (auto or manual), in order."""
    out = []
    for cell in template.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            out.append({"id": meta["grade_id"], "points": float(meta.get("points", 0)),
                        "kind": "auto" if is_autograded_test(cell) else "manual"})
    return out


def checking_blocks(source: str) -> list[str]:
    """Return the names of the ``with checking("name")`` blocks in a cell's source."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "checking"
                        and call.args and isinstance(call.args[0], ast.Constant)
                        and isinstance(call.args[0].value, str)):
                    names.append(call.args[0].value)
    return names


# --------------------------------------------------------------------------------------------
# Restoring a submission from the source (nbgrader's preprocessors)
# --------------------------------------------------------------------------------------------

def _memory_gradebook_url() -> tuple[str, Any]:
    """An in-memory SQLite database shared by nbgrader's Gradebook objects in this process.

    Returns its URL and a connection that keeps it alive: nothing is written to disk, so the
    hidden tests it stores never exist in a file a submission could read.
    """
    import sqlite3

    name = f"dlcourse-gradebook-{secrets.token_hex(8)}"
    keeper = sqlite3.connect(f"file:{name}?mode=memory&cache=shared", uri=True)
    return f"sqlite:///file:{name}?mode=memory&cache=shared&uri=true", keeper


def restore(submission: Any, template: Any, release: Any, assignment: str
            ) -> tuple[Any, list[str]]:
    """Return the submission restored from ``template`` (hidden tests included), and notes.

    ``release`` is the notebook the students were given (to tell which cells they edited).

    nbgrader does the restoring: ClearOutput, DeduplicateIds, SaveCells (template into an
    in-memory gradebook) and OverwriteCells with ``add_missing_cells``. Around them, this makes
    the graded-cell metadata the source's (so a changed flag cannot unlock a test cell or break
    nbgrader's checksums) and puts the graded cells back in the source's order.
    """
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds, OverwriteCells, SaveCells

    notes: list[str] = []
    nb = copy.deepcopy(submission)
    nb, _ = ClearOutput().preprocess(nb, {})  # outputs a student saved never count
    nb, _ = DeduplicateIds().preprocess(nb, {})
    source_cells = {nbgrader_meta(c)["grade_id"]: c for c in template.cells if nbgrader_meta(c)}
    given = {nbgrader_meta(c)["grade_id"]: c.source for c in release.cells if nbgrader_meta(c)}
    order = [nbgrader_meta(c)["grade_id"] for c in template.cells if nbgrader_meta(c)]

    seen = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta:
            cell.metadata.pop("nbgrader", None)
            continue
        grade_id = meta.get("grade_id")
        if grade_id not in source_cells:
            notes.append(f"cell {grade_id!r} is not in the assignment: graded as an ordinary cell")
            cell.metadata.pop("nbgrader")
            continue
        seen.append(grade_id)
        original = source_cells[grade_id]
        wanted = {k: v for k, v in nbgrader_meta(original).items()
                  if k not in ("checksum", "cell_type")}
        if cell.cell_type != original.cell_type or any(meta.get(k) != v for k, v in wanted.items()):
            notes.append(f"cell {grade_id!r}: its nbgrader metadata or type was changed; restored")
            if cell.cell_type != original.cell_type:
                nb.cells[nb.cells.index(cell)] = cell = copy.deepcopy(original)
            cell.metadata["nbgrader"] = copy.deepcopy(nbgrader_meta(original))
        if nbgrader_meta(original).get("locked") and cell.source != given[grade_id]:
            notes.append(f"locked cell {grade_id!r} was edited; restored from the source")
    for grade_id in order:
        if grade_id not in seen and nbgrader_meta(source_cells[grade_id]).get("grade"):
            notes.append(f"graded cell {grade_id!r} was deleted; restored from the source")

    url, keeper = _memory_gradebook_url()
    try:
        resources = {"nbgrader": {"notebook": "nb", "assignment": assignment, "db_url": url}}
        import nbgrader.api
        from nbgrader.api import Gradebook

        # A new database records its alembic schema version, which nbgrader asks the `alembic`
        # command for (a subprocess that may not be on PATH). An in-memory gradebook that lives
        # for one submission never migrates, so the version is irrelevant.
        nbgrader.api.get_alembic_version = lambda: "in-memory"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Gradebook(url) as gb:
                gb.add_assignment(assignment)
        with warnings.catch_warnings():  # SQLAlchemy's note on in-memory pools; harmless here
            warnings.simplefilter("ignore")
            SaveCells().preprocess(copy.deepcopy(template), resources)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb, _ = OverwriteCells(add_missing_cells=True).preprocess(nb, resources)
    finally:
        keeper.close()

    # Graded and solution cells in the source's order; a student's own cells travel with the
    # graded cell they followed.
    groups: dict[str | None, list] = {None: []}
    current = None
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in source_cells and grade_id not in groups:
            current = grade_id
            groups[current] = [cell]
        else:
            groups[current].append(cell)
    present = [g for g in groups if g is not None]
    wanted_order = [g for g in order if g in groups]
    if present != wanted_order:
        notes.append("graded cells were reordered; put back in the source's order")
    nb.cells = groups[None] + [cell for g in wanted_order for cell in groups[g]]
    return nb, notes


def suspicious_code(nb: Any, release: Any) -> list[str]:
    """Return what a learner's own code cells do that deserves a person's look."""
    found = []
    given = {c.source for c in release.cells}
    for cell in nb.cells:
        if cell.cell_type != "code" or nbgrader_meta(cell).get("locked") or cell.source in given:
            continue
        for pattern, what in SUSPICIOUS.items():
            if what not in found and re.search(pattern, cell.source):
                found.append(what)
    return found


# --------------------------------------------------------------------------------------------
# Sandboxed kernel and execution
# --------------------------------------------------------------------------------------------

def sandbox_available() -> bool:
    """True if ``unshare`` can give a kernel its own user, mount and PID namespaces here."""
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return False
    try:
        return subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child",
             "--mount-proc", "sh", "-c", "mount -t tmpfs none /mnt && setpriv --bounding-set=-all "
             "--inh-caps=-all --no-new-privs true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kernel_spec(spec_dir: Path, hide: list[Path], sandbox: bool) -> str:
    """Write a kernelspec whose kernel cannot see ``hide`` (when ``sandbox``); return its name."""
    python = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
              "--HistoryManager.hist_file=:memory:"]
    if sandbox:
        # Read the connection file first: it may live under a folder the mounts cover.
        script = 'conn=$(cat "$1") && '
        temps = [Path(t) for t in ("/tmp", "/var/tmp", "/dev/shm") if Path(t).is_dir()]
        # The course and its Python must stay visible even when they live under a temporary
        # folder (a CI checkout in /tmp): park them on a bind mount, then put them back.
        keep = sorted({p.resolve() for p in (ROOT, Path(sys.prefix), Path(sys.base_prefix))
                       if any(p.resolve().is_relative_to(t.resolve()) for t in temps)})
        keep = [k for k in keep if not any(q != k and k.is_relative_to(q) for q in keep)]
        if keep:
            script += "mount -t tmpfs -o size=4k none /mnt && "
            script += "".join(f'mkdir /mnt/keep{i} && mount --bind "{k}" /mnt/keep{i} && '
                              for i, k in enumerate(keep))
        # Fresh, private temporary folders: nothing an earlier run or another user left there.
        script += "".join(f'mount -t tmpfs -o size=256m,mode=1777 none "{t}" && ' for t in temps)
        script += "".join(f'mkdir -p "{k}" && mount --bind /mnt/keep{i} "{k}" && '
                          for i, k in enumerate(keep))
        # Hide the sources, submissions and results; those under a private temporary folder
        # (and not put back above) are gone already.
        script += "".join(f'if [ -e "{p}" ]; then mount -t tmpfs -o size=4k,mode=555 none "{p}" '
                          '|| exit 1; fi && ' for p in hide)
        script += ('d=$(mktemp -d) && printf "%s" "$conn" > "$d/kernel.json" && cd "$d" && '
                   f'exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs '
                   f'"{sys.executable}" -m ipykernel_launcher -f "$d/kernel.json" '
                   f'--HistoryManager.hist_file=:memory:')
        argv = ["setpriv", "--pdeathsig", "KILL", "unshare", "--user", "--map-root-user",
                "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                "sh", "-c", script, "sh", "{connection_file}"]
    else:
        argv = python
    name = "dlcourse-grading"
    (spec_dir / name).mkdir(parents=True, exist_ok=True)
    (spec_dir / name / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "dlcourse grading", "language": "python",
         "interrupt_mode": "signal", "env": {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
                                              "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}}))
    return name


GUARD_RESET = '''\
# Injected by the grader before a test cell: remove hooks a submission may have installed.
import sys as _dlcourse_sys
_dlcourse_sys.settrace(None)
_dlcourse_sys.setprofile(None)
_dlcourse_ip = get_ipython()
for _dlcourse_event in list(_dlcourse_ip.events.callbacks):
    _dlcourse_ip.events.callbacks[_dlcourse_event] = []
_dlcourse_ip.ast_transformers = []
_dlcourse_ip.input_transformers_post = []
_dlcourse_ip.set_custom_exc((), None)
del _dlcourse_sys, _dlcourse_ip, _dlcourse_event
'''

GUARD_INSTALL = '''\
# Injected by the grader before a test cell: a pristine dlcourse.checks in grading mode.
def _dlcourse_install(source, token):
    import sys
    import types

    module = types.ModuleType("dlcourse.checks")
    module.__file__ = "<dlcourse.checks: pristine copy installed by the grader>"
    sys.modules["dlcourse.checks"] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    module._enable_grading(token)
    import dlcourse

    dlcourse.checks = module
    get_ipython().user_ns["checking"] = module.checking
_dlcourse_install({source!r}, {token!r})
del _dlcourse_install
'''


def _make_executor(cell_timeout: int, max_output_bytes: int, deadline: float):
    """Return nbgrader's Execute preprocessor, extended with output caps and a stop rule."""
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute

    class GradingExecute(Execute):
        def __init__(self, **kwargs):
            super().__init__(timeout=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                             raise_on_iopub_timeout=False, **kwargs)
            self.bytes_out: dict[int, int] = {}
            self.truncated: set[int] = set()
            self.timed_out: list[int] = []
            self.stopped: str | None = None
            self.stop_status = "crashed"
            self.executed: set[int] = set()
            self.consecutive_timeouts = 0

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            is_record = RECORD_MIME in content.get("data", {})
            size = len(json.dumps(content, default=str))
            used = self.bytes_out.get(cell_index, 0) + size
            self.bytes_out[cell_index] = used
            if used > max_output_bytes and not is_record:
                if cell_index not in self.truncated:
                    self.truncated.add(cell_index)
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stdout",
                        text=f"\n[grader: output truncated at {max_output_bytes} bytes]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

        def preprocess_cell(self, cell, resources, index):
            if self.stopped or cell.cell_type != "code":
                return cell, resources
            if time.monotonic() > deadline:
                self.stopped = "the notebook's total time limit was reached"
                self.stop_status = "timeout"
                return cell, resources
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self.stopped = "the kernel died (a crash, os._exit or a killed process)"
                self.stop_status = "crashed"
                return cell, resources
            self.executed.add(index)
            if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
                self.timed_out.append(index)
                self.consecutive_timeouts += 1
                if self.consecutive_timeouts >= 2:
                    self.stopped = "the kernel stayed busy after being interrupted"
                    self.stop_status = "timeout"
            else:
                self.consecutive_timeouts = 0
            return cell, resources

    return GradingExecute


def execute(nb: Any, *, cell_timeout: int, notebook_timeout: int, max_output_bytes: int,
            hide: list[Path], sandbox: bool) -> tuple[Any, dict]:
    """Execute ``nb`` (restored) with guards before its test cells; return it and what happened.

    The returned notebook has the original cells only (guards removed). ``info`` has per test
    cell its token, and what stopped the run early, if anything.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    checks_source = CHECKS_SOURCE.read_text()
    run_nb = copy.deepcopy(nb)
    run_nb.cells = []
    positions = []  # index in run_nb of each original cell
    tokens: dict[int, str] = {}
    for i, cell in enumerate(nb.cells):
        if is_autograded_test(cell):
            token = secrets.token_hex(16)
            tokens[i] = token
            run_nb.cells.append(nbformat.v4.new_code_cell(GUARD_RESET))
            run_nb.cells.append(nbformat.v4.new_code_cell(
                GUARD_INSTALL.format(source=checks_source, token=token)))
        positions.append(len(run_nb.cells))
        run_nb.cells.append(copy.deepcopy(cell))

    with tempfile.TemporaryDirectory(prefix="dlcourse-kernel-") as tmp:
        spec_dir, cwd = Path(tmp) / "kernels", Path(tmp) / "cwd"
        cwd.mkdir()
        name = kernel_spec(spec_dir, hide, sandbox)
        km = AsyncKernelManager(kernel_name=name,
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]))
        executor = _make_executor(cell_timeout, max_output_bytes,
                                  time.monotonic() + notebook_timeout)(kernel_name=name)
        try:
            executor.preprocess(run_nb, {"metadata": {"path": str(cwd)}}, km=km)
        except Exception as error:  # kernel failed to start, or died while starting
            executor.stopped = executor.stopped or f"the kernel failed: {type(error).__name__}: {error}"
        finally:
            try:
                if km.has_kernel:
                    import asyncio

                    asyncio.run(km.shutdown_kernel(now=True))
            except Exception:  # noqa: BLE001 - best effort; the sandbox kills the rest
                pass
    for i, pos in enumerate(positions):
        nb.cells[i] = run_nb.cells[pos]
    timed_out = [positions.index(p) for p in executor.timed_out if p in positions]
    executed = {positions.index(p) for p in executor.executed if p in positions}
    info = {"tokens": tokens, "stopped": executor.stopped, "stop_status": executor.stop_status,
            "timed_out": timed_out,
            "truncated": sorted(positions.index(p) for p in executor.truncated if p in positions),
            "executed": executed}
    return nb, info


# --------------------------------------------------------------------------------------------
# Scoring one submission
# --------------------------------------------------------------------------------------------

def score_cell(cell: Any, token: str | None, executed: bool) -> tuple[float | None, str]:
    """Return the points a graded cell earned (None: a person grades it) and why."""
    from nbgrader.utils import determine_grade

    if not is_autograded_test(cell):
        points, _ = determine_grade(cell)
        return (0.0, "no answer written") if points == 0 else (None, "to be graded by a person")
    if not executed:
        return 0.0, "not run (an earlier cell crashed the kernel or used up the time limit)"
    records = [o["data"][RECORD_MIME] for o in cell.outputs
               if o.get("output_type") == "display_data" and RECORD_MIME in o.get("data", {})]
    forged = [r for r in records if not isinstance(r, dict) or r.get("token") != token]
    records = [r for r in records if isinstance(r, dict) and r.get("token") == token]
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    failed = [r for r in records if r.get("status") != "passed"]
    if failed:
        first = failed[0]
        return 0.0, first.get("message") or f"{first.get('block')}: {first.get('status')}"
    if errors:
        error = errors[0]
        if error.get("ename") == "CellTimeoutError":
            return 0.0, f"stopped after the time limit of the test cell ({error.get('evalue', '')})"
        return 0.0, f"{error.get('ename')}: {str(error.get('evalue', ''))[:300]}"
    passed = {r.get("block") for r in records}
    missing = [b for b in checking_blocks(cell.source) if b not in passed]
    if missing or not records:
        note = " (records with a wrong token were ignored)" if forged else ""
        return 0.0, (f"no 'passed' report from check(s) {', '.join(missing) or 'in this cell'}: "
                     f"the checks did not run, or the output was tampered with{note}")
    points, max_points = determine_grade(cell)
    if points is None or points < max_points:
        return float(points or 0.0), "output on stderr or a partial score from nbgrader"
    return float(points), "all tests passed" + (" (forged records ignored)" if forged else "")


def grade_submission(path: Path, source_path: Path, *, cell_timeout: int, notebook_timeout: int,
                     max_output_bytes: int, hide: list[Path], sandbox: bool) -> dict:
    """Grade one submission; return its result (scores, status, reasons, feedback data)."""
    from make_exercises import release_notebook

    source_nb = nbformat.read(source_path, as_version=4)
    template = release_notebook(source_nb, hidden_tests=True)
    release = release_notebook(source_nb)
    qs = questions(template)
    result: dict[str, Any] = {"points": {q["id"]: 0.0 for q in qs}, "messages": {},
                              "status": "graded", "reasons": [], "questions": qs}

    def invalid(why: str) -> dict:
        result.update(status="invalid", reasons=[why])
        result["messages"] = {q["id"]: why for q in qs}
        return result

    if path.is_dir():
        return invalid("no notebook found in the submission folder")
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        return invalid(f"the file is {size / 1e6:.0f} MB, more than the "
                       f"{MAX_SUBMISSION_BYTES / 1e6:.0f} MB allowed")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return invalid("not a notebook: the file is not text (UTF-8)")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return invalid(f"not a notebook: not valid JSON ({error.msg} at line {error.lineno})")
    try:
        submission = nbformat.reads(text, as_version=4)
        nbformat.validate(submission)
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds
        return invalid(f"not a notebook: JSON, but not a valid Jupyter notebook "
                       f"({type(error).__name__}: {str(error).splitlines()[0][:200]})")
    if path.suffix != ".ipynb":
        result["reasons"].append(f"file named {path.name}, not .ipynb; graded as a notebook")

    nb, notes = restore(submission, template, release, source_path.stem)
    result["reasons"] += notes
    flags = suspicious_code(nb, release)
    if flags:
        result["reasons"].append("for a person to review: the learner's code " + ", ".join(flags))
    nb, info = execute(nb, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                       max_output_bytes=max_output_bytes, hide=hide, sandbox=sandbox)
    if info["stopped"]:
        result["reasons"].append(f"stopped early: {info['stopped']}")
        result["status"] = info["stop_status"]
    if info["timed_out"]:
        result["reasons"].append(f"{len(info['timed_out'])} cell(s) ran past the {cell_timeout} s "
                                 "limit and were interrupted")
        if result["status"] == "graded":
            result["status"] = "timeout"
    if info["truncated"]:
        result["reasons"].append(f"output of {len(info['truncated'])} cell(s) truncated at "
                                 f"{max_output_bytes} bytes")
    if not sandbox:
        result["reasons"].append("graded WITHOUT the sandbox: the kernel could read files")

    answers = {}
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        points, message = score_cell(cell, info["tokens"].get(i), i in info["executed"])
        result["points"][meta["grade_id"]] = points
        result["messages"][meta["grade_id"]] = message
        if not is_autograded_test(cell):
            answers[meta["grade_id"]] = cell.source
    result["answers"] = answers
    from nbgrader.preprocessors import LimitOutput

    # The saved notebook shows the test cells as the students saw them (outputs kept): the grader
    # never writes hidden tests to a file, where a later submission's kernel might find them.
    visible = {nbgrader_meta(c)["grade_id"]: c.source for c in release.cells if nbgrader_meta(c)}
    for cell in nb.cells:
        if is_autograded_test(cell):
            cell.source = visible.get(nbgrader_meta(cell)["grade_id"], "")
            for output in cell.outputs:  # tracebacks quote the lines around the failure
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
    result["graded_notebook"] = nbformat.writes(LimitOutput().preprocess(nb, {})[0])
    return result


# --------------------------------------------------------------------------------------------
# The command: many submissions, one gradebook
# --------------------------------------------------------------------------------------------

def find_submissions(folder: Path, assignment: str) -> list[tuple[str, Path]]:
    """Return (student, path) for each entry of ``folder``, sorted by student."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            notebooks = sorted(entry.glob("*.ipynb"))
            named = entry / f"{assignment}.ipynb"
            found.append((entry.name, named if named.exists() else
                          (notebooks[0] if len(notebooks) == 1 else entry)))
        else:
            found.append((entry.stem if entry.suffix == ".ipynb" else entry.name, entry))
    return found


def safe_name(student: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", student)[:100] or "_"


def feedback_markdown(student: str, assignment: str, result: dict) -> str:
    qs = result["questions"]
    auto_total = sum(v for v in result["points"].values() if v is not None)
    lines = [f"# Feedback: {assignment}", "", f"**Student:** {student}  ",
             f"**Score so far:** {auto_total:g} of {sum(q['points'] for q in qs):g} points  ",
             f"**Status:** {result['status']}", ""]
    if result["reasons"]:
        lines += ["**Notes from the grader:**", ""] + [f"- {r}" for r in result["reasons"]] + [""]
    lines += ["| question | points | feedback |", "|---|---:|---|"]
    for q in qs:
        got = result["points"].get(q["id"])
        shown = "to be graded" if got is None else f"{got:g}"
        message = str(result["messages"].get(q["id"], "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {q['id']} | {shown} / {q['points']:g} | {message} |")
    lines += ["", "Visible checks are in your notebook; hidden tests are run by the grader only."]
    return "\n".join(lines) + "\n"


def _worker(student: str, path: Path, source: Path, result_path: Path, log_path: Path,
            options: dict) -> None:
    """Body of a forked worker process: grade one submission, write its result as JSON."""
    os.setsid()  # its own process group: the parent can kill it and what it started
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        result = grade_submission(path, source, **options)
    except BaseException as error:  # noqa: BLE001 - reported as this submission's status
        import traceback

        traceback.print_exc()
        result = {"status": "error", "reasons": [f"the grader failed on this submission: "
                                                 f"{type(error).__name__}: {error}"]}
    result_path.write_text(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)


def grade_all(entries: list[tuple[str, Path]], source: Path, run_dir: Path, options: dict,
              jobs: int, hard_limit: float) -> dict[str, dict]:
    """Grade each submission in its own forked worker, ``jobs`` at a time; return the results.

    A worker that runs past ``hard_limit`` seconds is killed with its process group, and its
    submission scored 0 with the reason; no submission can stop the others.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")  # nbgrader is imported once, in the parent
    work = run_dir / "work"
    pending, running, results = list(entries), {}, {}
    while pending or running:
        while pending and len(running) < jobs:
            student, path = pending.pop(0)
            name = safe_name(student)
            paths = (work / f"{name}.json", work / f"{name}.log")
            proc = context.Process(target=_worker, args=(student, path, source, *paths, options))
            proc.start()
            running[student] = (proc, time.monotonic(), paths)
        time.sleep(0.05)
        for student, (proc, start, (result_path, log_path)) in list(running.items()):
            overdue = time.monotonic() - start > hard_limit
            if proc.is_alive() and not overdue:
                continue
            if overdue:
                _kill_group(proc.pid)
            proc.join()
            _kill_group(proc.pid)  # whatever the submission left behind
            del running[student]
            if result_path.exists():
                result = json.loads(result_path.read_text())
            else:
                why = (f"killed after the hard limit of {hard_limit:.0f} s" if overdue else
                       f"the grading worker stopped without a result (exit code {proc.exitcode})")
                result = {"status": "timeout" if overdue else "error",
                          "reasons": [f"{why}; see runs/{run_dir.name}/work/{log_path.name}"]}
            result["seconds"] = round(time.monotonic() - start, 1)
            results[student] = result
    return results


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="?", help="e.g. 00_warmup (a notebook in solutions/)")
    parser.add_argument("submissions", nargs="?", type=Path, help="folder of submitted notebooks")
    parser.add_argument("--out", type=Path, help="results folder (default: SUBMISSIONS-graded)")
    parser.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (60)")
    parser.add_argument("--notebook-timeout", type=int, default=600,
                        help="seconds per submission in all (600)")
    parser.add_argument("--max-output-bytes", type=int, default=100_000,
                        help="output kept per cell (100000)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at a time (2)")
    parser.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                        help="hide solutions/ and more from the kernels (default: when possible)")
    args = parser.parse_args(argv)
    if not args.assignment or not args.submissions:
        parser.error("give ASSIGNMENT and SUBMISSIONS")

    import make_exercises  # noqa: F401 - imported once here, shared by the forked workers
    import nbgrader.preprocessors  # noqa: F401
    import nbgrader.utils  # noqa: F401

    source = resolve_source(args.assignment)
    assignment = source.stem
    submissions = args.submissions.resolve()
    if not submissions.is_dir():
        raise SystemExit(f"{submissions} is not a folder of submissions")
    out = (args.out or submissions.with_name(submissions.name + "-graded")).resolve()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = out / "runs" / stamp
    n = 1
    while run_dir.exists() or (out / f"gradebook-{run_dir.name}.csv").exists():
        n += 1
        run_dir = out / "runs" / f"{stamp}-{n}"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "feedback").mkdir()
    (run_dir / "graded").mkdir()

    sandbox = {"on": True, "off": False}.get(args.sandbox)
    if sandbox is None:
        sandbox = sandbox_available()
    if args.sandbox == "on" and not sandbox_available():
        raise SystemExit("--sandbox on, but `unshare` cannot create namespaces on this machine")
    hide = [source.parent, submissions, out]
    if (ROOT / ".git").is_dir():
        hide.append(ROOT / ".git")
    hide = sorted({p.resolve() for p in hide})
    hide = [p for p in hide if not any(q != p and p.is_relative_to(q) for q in hide)]
    if not sandbox:
        print("WARNING: no sandbox (unshare unavailable or --sandbox off): a submission's code "
              f"could read the hidden tests in {source.parent}. See docs/instructors.md.")

    entries = find_submissions(submissions, assignment)
    print(f"grading {len(entries)} submission(s) of {assignment} into {run_dir}")
    options = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout,
               "max_output_bytes": args.max_output_bytes, "hide": hide, "sandbox": sandbox}
    results = grade_all(entries, source, run_dir, options, max(1, args.jobs),
                        hard_limit=args.notebook_timeout + 60)

    template = nbformat.read(source, as_version=4)
    qs = questions(template)
    columns = ["student", "assignment"] + [q["id"] for q in qs] + ["total", "max", "status",
                                                                   "reason"]
    rows = []
    for student, _ in entries:
        result = results[student]
        result.setdefault("questions", qs)
        result.setdefault("points", {q["id"]: 0.0 for q in qs})
        result.setdefault("messages", {})
        points = result["points"]
        total = sum(v for v in points.values() if v is not None)
        manual = [q["id"] for q in qs if points.get(q["id"]) is None]
        reasons = list(result.get("reasons", []))
        if manual:
            reasons.append(f"to be graded by a person: {', '.join(manual)}")
        row = {"student": student, "assignment": assignment, "total": f"{total:g}",
               "max": f"{sum(q['points'] for q in qs):g}", "status": result["status"],
               "reason": "; ".join(reasons) or "all questions graded"}
        for q in qs:
            value = points.get(q["id"])
            row[q["id"]] = "" if value is None else f"{value:g}"
        rows.append(row)
        name = safe_name(student)
        (run_dir / "feedback" / f"{name}.md").write_text(
            feedback_markdown(student, assignment, result))
        if "graded_notebook" in result:
            (run_dir / "graded" / f"{name}.ipynb").write_text(result["graded_notebook"])
        if result.get("answers"):
            with open(run_dir / "written-answers.md", "a") as f:
                for grade_id, text in result["answers"].items():
                    f.write(f"## {student} · {grade_id}\n\n{text}\n\n")
        print(f"  {student:24} {row['total']:>5} / {row['max']:<4} {result['status']:8} "
              f"{result.get('seconds', 0):5.1f} s  {row['reason'][:100]}")

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    write_csv(run_dir / "gradebook.csv")
    gradebook = out / f"gradebook-{run_dir.name}.csv"
    write_csv(gradebook)
    shutil.copyfile(gradebook, out / "gradebook-latest.csv")
    (out / "LATEST").write_text(f"runs/{run_dir.name}\n")
    print(f"gradebook: {gradebook}\nfeedback:  {run_dir / 'feedback'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
