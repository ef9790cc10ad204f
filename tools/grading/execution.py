"""Running a notebook in a sandboxed kernel, and collecting the values its checks send.

nbgrader's Execute preprocessor runs the notebook (per-cell time limit, interrupt on timeout,
output capped per cell, a total time limit) in a kernel started by tools/grading/sandbox.py, which
talks to the grader over Unix sockets in the kernel's scratch folder. The checks of a test cell
publish their values as records (mime type :data:`RECORD_MIME`, see dlcourse/checks.py): they
are collected here, capped in size, and judged by the grader's own process
(tools/grading/scoring.py). A watchdog thread here stops a kernel whose scratch folder grows
past its limit. Nothing of the grader runs inside the kernel.

A hostile kernel controls what it sends and when. A message the grader cannot read (JSON nested
too deeply, a number too long, content that is not what its type needs) is dropped and counted,
and the run goes on; ``update_display_data`` never writes or replaces a record (a cell's records
are what it sent while it ran); a kernel that does not answer within :data:`INTERRUPT_GRACE`
seconds of being interrupted (it ignores SIGINT, or it stopped itself) is stopped, and so is one
whose cells stop finishing on its output channel (it closed it, or never reports idle).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat

from dlcourse.checks import RECORD_MIME
from tools.grading.sandbox import Sandbox, end_kernel_processes, kernel_spec, prepare_scratch

#: Largest total size of the records one cell may send (bytes); more fails that cell's checks.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: Seconds a kernel has to answer once a timed-out cell was interrupted.
INTERRUPT_GRACE = 5
#: Cells in a row whose end never arrives on the output channel before the run stops.
MAX_SILENT_CELLS = 2


def _make_executor(cell_timeout: int, max_output_bytes: int, deadline: float,
                   longer: dict[int, int] | None = None):
    """Return nbgrader's Execute preprocessor, extended with output caps and a stop rule."""
    import asyncio

    import zmq
    from nbclient.exceptions import CellExecutionComplete, DeadKernelError
    from nbclient.util import ensure_async, run_sync
    from nbgrader.preprocessors import Execute

    class GradingExecute(Execute):
        def __init__(self, **kwargs):
            super().__init__(timeout=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                             raise_on_iopub_timeout=False, **kwargs)
            #: cells (by identity) allowed more than ``cell_timeout``: a trained model's budget
            self.longer = {}
            if longer:
                self.timeout_func = lambda cell: self.longer.get(id(cell), cell_timeout)
            self.bytes_out: dict[int, int] = {}
            self.record_bytes: dict[int, int] = {}
            self.truncated: set[int] = set()
            self.records_overflow: set[int] = set()
            self.timed_out: list[int] = []
            self.stopped: str | None = None
            self.stop_status = "crashed"
            self.executed: set[int] = set()
            #: each code cell's run time as the grader observed it (its own clock, in seconds)
            self.seconds: dict[int, float] = {}
            self.consecutive_timeouts = 0
            self.dropped: dict[int, int] = {}  # per cell: messages that could not be read
            self.finished: set[int] = set()  # cells whose end (idle status) arrived
            self.silent_cells = 0  # cells in a row whose end never arrived

        async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
            """nbclient's loop over the kernel's outputs, where a message that cannot be read or
            processed is dropped and counted instead of ending the run."""
            while True:
                try:
                    msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
                    if msg["parent_header"].get("msg_id") == parent_msg_id:
                        self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    self.finished.add(cell_index)
                    return
                except zmq.ZMQError:
                    raise
                except Exception:  # RecursionError, ValueError, KeyError, a validation error
                    self.dropped[cell_index] = self.dropped.get(cell_index, 0) + 1
                    await asyncio.sleep(0)

        def _update_display_id(self, display_id, msg):
            """Update earlier outputs, but never write or replace a record, nor more than the cap."""
            content = msg.get("content")
            data = content.get("data") if isinstance(content, dict) else None
            targets = [outputs[i] for c, indices in self._display_id_map.get(display_id, {}).items()
                       for outputs in [self.nb["cells"][c].get("outputs", [])]
                       for i in indices if i < len(outputs)]
            if (not isinstance(data, dict) or RECORD_MIME in data
                    or any(RECORD_MIME in target.get("data", {}) for target in targets)
                    or len(json.dumps(content, default=str)) > max_output_bytes):
                return
            super()._update_display_id(display_id, msg)

        async def _async_answers(self, seconds: float) -> bool:
            request = self.kc.kernel_info()
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
                except Exception:  # Empty, or a message that cannot be read
                    await asyncio.sleep(0.01)
                    continue
                if msg.get("parent_header", {}).get("msg_id") == request:
                    return True
            return False

        def answers(self, seconds: float) -> bool:
            """Whether the kernel answers a request within ``seconds`` (once interrupted)."""
            return run_sync(self._async_answers)(seconds)

        def note_silence(self, index: int, cell) -> None:
            """Stop the run when cells in a row never finish on the output channel."""
            if not cell.source.strip():
                return
            self.silent_cells = 0 if index in self.finished else self.silent_cells + 1
            if self.silent_cells >= MAX_SILENT_CELLS:
                self.stopped = (f"the kernel stopped reporting on its output channel: "
                                f"{self.silent_cells} cells in a row never finished there")
                self.stop_status = "crashed"

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            data = content.get("data") if isinstance(content.get("data"), dict) else {}
            size = len(json.dumps(content, default=str))
            if RECORD_MIME in data:
                used = self.record_bytes.get(cell_index, 0) + size
                self.record_bytes[cell_index] = used
                if used > MAX_RECORD_BYTES:
                    self.records_overflow.add(cell_index)
                    return None
                return super().output(outs, msg, display_id, cell_index)
            used = self.bytes_out.get(cell_index, 0) + size
            self.bytes_out[cell_index] = used
            if used > max_output_bytes:
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
            began = time.monotonic()
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self.stopped = self.stopped or self.death()
                self.stop_status = "crashed"
                return cell, resources
            self.executed.add(index)
            self.seconds[index] = time.monotonic() - began
            if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
                self.timed_out.append(index)
                self.consecutive_timeouts += 1
                if self.consecutive_timeouts >= 2 or not self.answers(INTERRUPT_GRACE):
                    self.stopped = ("the kernel stayed busy after being interrupted (it ignores "
                                    "interrupts, or it stopped itself)")
                    self.stop_status = "timeout"
            else:
                self.consecutive_timeouts = 0
                self.note_silence(index, cell)
            return cell, resources

        def death(self) -> str:
            """Why the kernel died, as far as its exit status tells."""
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            code = process.poll() if process is not None else None
            if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):  # the soft limit; SIGKILL 5 s later
                return "the kernel used up its CPU-time limit"
            if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
                return "the kernel wrote a file larger than the limit"
            return "the kernel died (a crash, os._exit or a killed process)"

    return GradingExecute


def _tree_size(folder: Path, budget: int) -> int:
    """Bytes (and 4 KiB per file) under ``folder``, counting no further than ``budget``."""
    total = 0
    stack = [folder]
    while stack and total <= budget:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                total += entry.stat(follow_symlinks=False).st_size + 4096
            except OSError:
                pass
    return total


class _Watchdog(threading.Thread):
    """Kills the kernel when its scratch folder grows past ``limit`` bytes."""

    def __init__(self, scratch: Path, limit: int, executor: Any, km: Any) -> None:
        super().__init__(daemon=True)
        self.scratch, self.limit, self.executor, self.km = scratch, limit, executor, km
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            if _tree_size(self.scratch, self.limit) > self.limit:
                self.executor.stopped = (f"the kernel wrote more than {self.limit / 2**20:.0f} "
                                         "MiB into its scratch folder")
                self.executor.stop_status = "crashed"
                process = getattr(getattr(self.km, "provisioner", None), "process", None)
                if process is not None and process.poll() is None:
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        process.kill()
                return


def remove_folder(folder: Path) -> None:
    """Remove a scratch folder, whatever permissions the kernel left on its contents."""
    def unlock(function, path, _info):
        try:
            os.chmod(Path(path).parent, stat.S_IRWXU)
            os.chmod(path, stat.S_IRWXU)
            function(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=unlock)


def execute(nb: Any, *, cell_timeout: int, notebook_timeout: int, max_output_bytes: int,
            sandbox: Sandbox, mode: str = "grading", sources: dict[int, str] | None = None,
            longer: dict[int, int] | None = None) -> tuple[Any, dict]:
    """Execute ``nb`` in a fresh sandboxed kernel; return it with outputs, and what happened.

    ``mode`` is dlcourse.checks' mode in the kernel (``grading``, or ``key`` for the solution).
    ``longer`` gives some cells (by index) a time limit above ``cell_timeout`` (a test cell that
    trains a model, whose task has a time budget: tools/grading/assignment.py ``cell_timeouts``).
    ``sources`` replaces the source of some cells for the run only (the test cells without their
    expected values); the returned notebook keeps the original sources. ``info`` has, per cell
    index, the records its checks sent and how long it ran (``seconds``, the grader's clock:
    a model check's time budget), and what stopped the run early, if anything.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    run_nb = copy.deepcopy(nb)
    for index, source in (sources or {}).items():
        run_nb.cells[index].source = source

    base = Path(tempfile.gettempdir())  # a worker's own temporary folder (tools/grading/workers.py)
    if len(str(base)) > 64:  # Unix socket paths are limited to about 100 characters
        base = Path("/tmp")
    scratch = Path(tempfile.mkdtemp(prefix="dlcourse-kernel-", dir=base))
    spec_dir = Path(tempfile.mkdtemp(prefix="dlcourse-spec-"))
    watchdog = None
    try:
        prepare_scratch(scratch, sandbox)
        name = kernel_spec(spec_dir, sandbox, scratch, mode)
        km = AsyncKernelManager(kernel_name=name, transport="ipc", ip=str(scratch / "ipc" / "k"),
                                connection_file=str(scratch / "kernel.json"),
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]))
        executor = _make_executor(cell_timeout, max_output_bytes,
                                  time.monotonic() + notebook_timeout, longer)(kernel_name=name)
        executor.longer = {id(run_nb.cells[i]): seconds for i, seconds in (longer or {}).items()}
        executor.km = km
        watchdog = _Watchdog(scratch, sandbox.limits.scratch, executor, km)
        watchdog.start()
        try:
            executor.preprocess(run_nb, {"metadata": {"path": str(scratch / "cwd")}}, km=km)
        except Exception as error:  # kernel failed to start, or died while starting
            executor.stopped = executor.stopped or (f"the kernel failed: "
                                                    f"{type(error).__name__}: {error}")
        finally:
            watchdog.done.set()
            try:
                if km.has_kernel:
                    import asyncio

                    asyncio.run(km.shutdown_kernel(now=True))
            except Exception:
                pass
    finally:
        end_kernel_processes(sandbox)  # without bwrap, what the kernel started (with it, a no-op)
        remove_folder(scratch)
        shutil.rmtree(spec_dir, ignore_errors=True)

    records: dict[int, list] = {}
    for index, cell in enumerate(run_nb.cells):
        if cell.cell_type == "code":
            nb.cells[index].outputs = cell.get("outputs", [])
            found = [o["data"][RECORD_MIME] for o in cell.outputs
                     if o.get("output_type") == "display_data" and RECORD_MIME in o.get("data", {})]
            if found:
                records[index] = found
    info = {"records": records, "stopped": executor.stopped, "stop_status": executor.stop_status,
            "timed_out": list(executor.timed_out), "truncated": sorted(executor.truncated),
            "records_overflow": sorted(executor.records_overflow),
            "dropped": sum(executor.dropped.values()),
            "executed": set(executor.executed), "seconds": dict(executor.seconds)}
    return nb, info
