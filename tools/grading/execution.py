"""Running a restored submission in the sandboxed kernel, and collecting what its checks report.

nbgrader's Execute preprocessor runs the notebook (per-cell time limit, interrupt on timeout,
output capped per cell, a total time limit). Right before each autograded test cell the grader
runs two cells of its own: :data:`GUARD_RESET` removes hooks a submission may have installed, and
:data:`GUARD_INSTALL` installs a pristine copy of dlcourse.checks in grading mode with a fresh
random token. Each ``checking`` block then publishes a plain record (:data:`RECORD_MIME`) with
that token, which the grader's own process reads (tools/grading/scoring.py).
"""

from __future__ import annotations

import copy
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from tools.grading.assignment import is_autograded_test
from tools.grading.sandbox import kernel_spec
from tools.notebook_meta import ROOT

CHECKS_SOURCE = ROOT / "dlcourse" / "checks.py"
RECORD_MIME = "application/vnd.dlcourse.check+json"


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
