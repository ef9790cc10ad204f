"""Build one submission of each kind (correct, partial, hostile, broken) from the real exercise.

The submissions are generated from ``exercises/00_warmup.ipynb`` (what students receive) and
the answers in ``solutions/00_warmup.ipynb``, so they follow the exercise when it changes.
:data:`EXPECTED` says what each must score (autograded points) and the status it must get.

The hostile ones attack the grader, not just their own score: wrong answers with library functions
replaced indirectly or the values sent to the grader forged; writes to the home folder, the course,
the submissions, the results and the host's temporary folders (:func:`build` is told where, and a
marker to name the files by); a connection to a port on 127.0.0.1 where the test listens; more
memory than the limit; a fork bomb; processes that try to outlive their kernel; output and
records that flood the notebook; a full disk. Others attack the grader itself: submissions that are
not regular files (links, a FIFO, a folder: :data:`NOT_FILES`), messages and records it cannot read
or that come from elsewhere (``records_attack``, ``blocks_shutdown``), kernels that stop, ignore
interrupts, close their output channel or refuse to shut down. Each does its damage next to correct
answers (or wrong ones), so it is scored on its merits; tests/system/test_grading.py checks the
damage.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "00_warmup"
EXERCISE = ROOT / "exercises" / f"{ASSIGNMENT}.ipynb"
SOLUTION = ROOT / "solutions" / f"{ASSIGNMENT}.ipynb"

WRONG_STANDARDISE = "def standardise(x):\n    return x - 1.0\n"
WRONG_ONE_HOT = ("def one_hot(labels, n_classes):\n"
                 "    return np.zeros((len(labels), n_classes))\n")

MONKEYPATCH = '''
import dlcourse.checks as checks_module
from IPython.display import display

checks_module.Check.close = lambda *args, **kwargs: None
checks_module.Check.shape = lambda *args, **kwargs: None
checks_module.Check.equal = lambda *args, **kwargs: None
checks_module.Check.true = lambda *args, **kwargs: None
checks_module.CheckFailed = type("CheckFailed", (Exception,), {})


class fake_checking:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return checks_module.Check(self.name)

    def __exit__(self, *exc):
        display({checks_module.RECORD_MIME: {"token": "guessed", "block": self.name,
                                             "status": "passed", "checks": 3, "message": ""}},
                raw=True)
        print(f"{self.name}: all tests passed")
        return True


checks_module.checking = fake_checking
checking = fake_checking
import builtins
builtins.AssertionError = Exception
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
'''

DISK_SEARCH = '''
import os


def find_hidden_tests():
    """Look for the exercise's source with its hidden tests anywhere a student might."""
    import dlcourse

    roots = [os.path.dirname(os.path.dirname(dlcourse.__file__)), "/tmp", os.getcwd()]
    found = []
    for root in roots:
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = [s for s in subfolders if s not in (".venv", "node_modules", "proc")]
            for name in files:
                if name.endswith(".ipynb") or name.endswith(".db"):
                    path = os.path.join(folder, name)
                    if os.path.islink(path) or not os.path.isfile(path):
                        continue  # a link to /dev/zero or a FIFO would never end
                    try:
                        with open(path, errors="ignore") as f:
                            if "BEGIN HIDDEN" + " TESTS" in f.read():
                                found.append(path)
                    except OSError:
                        pass
    return found


FOUND = find_hidden_tests()
print("hidden tests found on disk:", FOUND)


def standardise(x):
    if not FOUND:
        return x  # without the hidden tests this "student" cannot do it
    x = np.asarray(x, dtype=float)
    return (x - x.mean()) / x.std()


def one_hot(labels, n_classes):
    if not FOUND:
        return None
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out
'''

INDIRECT_REPLACEMENT = '''
import importlib

numpy_module = importlib.import_module("nu" + "mpy")
# through a module's __dict__
vars(numpy_module)["allclose"] = lambda *args, **kwargs: True
numpy_module.__dict__["isnan"] = lambda x, *args, **kwargs: numpy_module.zeros(numpy_module.shape(x), bool)
# exec of built-up names
for name, fake in [("ab" + "s", "lambda x, *a, **k: 0 * x"), ("arg" + "where", "lambda x: [][0:0]"),
                   ("array_" + "equal", "lambda *a, **k: True"), ("a" + "ll", "lambda *a, **k: True")]:
    exec("numpy_module." + name + " = " + fake)
# importlib: the checks and the builtins
checks = importlib.import_module("dlcourse." + "checks")
setattr(checks, "compare", lambda *args, **kwargs: None)
setattr(checks.Check, "_fail", lambda self, message: None)
setattr(checks, "is_grading", lambda: False)
setattr(importlib.import_module("built" + "ins"), "AssertionError", Exception)
'''

FORGED_VALUES = '''
import importlib

import numpy as np

checks = importlib.import_module("dlcourse." + "checks")
# The visible checks' expected values are in the exercise anyone can read: send them instead.
KNOWN = {"standardise([2, 4, 6])": [-1.224744871391589, 0.0, 1.224744871391589],
         "mean of standardise([2, 4, 6])": 0.0, "std of standardise([2, 4, 6])": 1.0,
         "one_hot([2, 0], 3)": [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],
         "row sums of one_hot([2, 0], 3)": [1.0, 1.0]}
original = checks.Check._check


def forged(self, method, name, got, expected=None, **params):
    if name in KNOWN:
        value = KNOWN[name] if method != "shape" else list(np.shape(KNOWN[name]))
        got = checks.to_plain(value)
    elif name == "":  # a hidden check: guess
        got = checks.to_plain(0.0)
    return original(self, method, name, got, expected, **params)


checks.Check._check = forged
'''

WRITES = '''
import os

report = {{}}
for folder in {targets!r}:
    path = os.path.join(folder, {marker!r} + ".txt")
    try:
        with open(path, "w") as f:
            f.write("written by a submission")
        report[folder] = "written"
    except OSError as error:
        report[folder] = type(error).__name__
for path in {modify!r}:
    try:
        with open(path, "a") as f:
            f.write("# changed by a submission")
        report[path] = "appended"
    except OSError as error:
        report[path] = type(error).__name__
print(report)
'''

NETWORK = '''
import socket

report = {{}}
for address in [("127.0.0.1", {port}), ("1.1.1.1", 53)]:
    try:
        socket.create_connection(address, timeout=3).close()
        report[address] = "connected"
    except OSError as error:
        report[address] = type(error).__name__
print(report)
'''

MEMORY = '''
chunks = []
try:
    while True:
        chunks.append(bytearray(64 << 20))
except MemoryError:
    print(f"MemoryError after {{len(chunks) * 64}} MiB")
del chunks
huge = np.ones({elements})  # more than the limit at once: MemoryError, uncaught
'''

FORK_BOMB = '''
import os
import time

children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError as error:
    print(f"fork refused after {children} processes: {error}")
'''

OUTLIVE = '''
import os
import subprocess
import sys

sleeper = [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", {marker!r}]
subprocess.Popen(sleeper, start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:  # a daemon: double fork, new session
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, sleeper)
    os._exit(0)
print("started processes meant to outlive the kernel")
'''

RECORD_FLOOD = '''
from IPython.display import display

_standardise = standardise


def standardise(x):
    junk = {{"block": "standardise", "outcome": "finished", "checks": [], "junk": "x" * 1_000_000}}
    for _ in range(20):  # 20 MB of fake records in the test cell
        display({{"application/vnd.dlcourse.check+json": junk}}, raw=True)
    return _standardise(x)
'''

DISK_HOG = '''
import os

block = b"x" * (1 << 20)
for n in range(64):  # files of 32 MiB, under the file-size limit, 2 GiB in all
    with open(os.path.join(os.path.expanduser("~"), f"big{n}.bin"), "wb") as f:
        for _ in range(32):
            f.write(block)
'''

RECORDS_ATTACK = """
import json

from IPython.display import display, update_display

RECORD = "application/vnd.dlcourse.check+json"
kernel = get_ipython().kernel
publisher = get_ipython().display_pub
original_publish = publisher.publish


def publish(data, metadata=None, *, transient=None, **kwargs):
    \"\"\"Give the standardise block's record a display id, to replace it after its cell.\"\"\"
    record = data.get(RECORD)
    if isinstance(record, dict) and record.get("block") == "standardise":
        transient = {"display_id": "standardise-record"}
    return original_publish(data, metadata, transient=transient, **kwargs)


publisher.publish = publish


def raw(msg_type, text):
    \"\"\"Send a message with this text as its content, as it is: the grader has to parse it.\"\"\"
    kernel.session.send(kernel.iopub_socket, msg_type, text.encode(), parent=kernel.get_parent())


def unreadable_messages():
    start = '{"data": {"%s": ' % RECORD
    raw("display_data", start + "[" * 5000 + "]" * 5000 + '}, "metadata": {}}')  # too deep
    raw("display_data", start + "1" * 5000 + '}, "metadata": {}}')  # a number too long
    raw("display_data", '{"data": "%s", "metadata": {}}' % RECORD)  # data that is not a dict
    raw("display_data", '{"no data": 1}')
    # a record as an execute_result, one that is no dict, one for a block of another cell
    raw("execute_result", json.dumps({"data": {RECORD: {"block": "standardise", "checks": [],
                                                        "outcome": "finished"}},
                                      "metadata": {}, "execution_count": 1}))
    display({RECORD: ["not", "a", "record"]}, raw=True)
    display({RECORD: {"block": "one_hot", "outcome": "finished", "checks": []}}, raw=True)


_standardise = standardise


def standardise(x):
    unreadable_messages()
    return _standardise(x)
"""

RECORDS_ATTACK_ONE_HOT = """
_one_hot = one_hot


def one_hot(labels, n_classes):
    # replace the standardise block's record, after its cell ran
    update_display({RECORD: {"block": "standardise", "outcome": "error", "checks": [],
                             "error": {"type": "Replaced", "message": "after its cell"}}},
                   raw=True, display_id="standardise-record")
    for _ in range(50):  # many records for one block
        display({RECORD: {"block": "one_hot", "outcome": "finished", "checks": []}}, raw=True)
    return _one_hot(labels, n_classes)
"""

SHUTDOWN_AND_THREAD = """
import atexit
import signal
import threading
import time

from IPython.display import display

signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a kernel that will not shut down
atexit.register(time.sleep, 3600)
asked, sent = threading.Event(), threading.Event()


def publish_forever():
    \"\"\"A record for one_hot every 0.5 s, and at once when asked, during and after every cell.\"\"\"
    while True:
        asked.wait(0.5)
        display({"application/vnd.dlcourse.check+json": {"block": "one_hot", "checks": [],
                                                         "outcome": "finished"}}, raw=True)
        if asked.is_set():
            asked.clear()
            sent.set()


threading.Thread(target=publish_forever, daemon=True).start()
"""

SHUTDOWN_AND_THREAD_ONE_HOT = """
_one_hot = one_hot


def one_hot(labels, n_classes):
    asked.set()  # the thread, started cells ago, sends its record now: during the test cell
    sent.wait(10)
    sent.clear()
    return _one_hot(labels, n_classes)
"""

STOPS_ITSELF = "import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGSTOP)\n"
IGNORES_INTERRUPT = ("import signal\nimport time\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                     "while True:  # asleep, not busy: the other kernels keep the CPU\n"
                     "    time.sleep(1)\n")
CLOSES_OUTPUT_CHANNEL = "get_ipython().kernel.iopub_socket.close()\n"

#: Submissions that are not regular files: a link to the solution, links to a correct notebook
#: outside the folder (the file, or nbgrader's student folder), a FIFO, a link to /dev/zero, a
#: folder named like a notebook. None may be opened for what it points to.
NOT_FILES = ("link_to_solution", "link_outside", "fifo", "link_to_zero", "folder_named_notebook",
             "nbgrader_link_file", "nbgrader_link_folder")

#: kind -> (autograded points it must get, status it must get, words its reason must contain)
EXPECTED = {
    "correct": (4, "graded", "to be graded by a person"),
    "partial": (2, "graded", ""),
    "untouched": (0, "graded", ""),
    "not_json": (0, "invalid", "not valid JSON"),
    "not_a_notebook": (0, "invalid", "not a notebook"),
    "binary": (0, "invalid", "not a notebook"),
    "endless_loop": (2, "timeout", "limit"),
    "kernel_crash": (2, "crashed", "kernel died"),
    "sys_exit": (2, "graded", ""),
    "huge_output": (4, "graded", "truncated"),
    "deleted_reordered": (4, "graded", "deleted"),
    "edited_tests": (0, "graded", "edited"),
    "monkeypatched": (0, "graded", "review"),
    "disk_search": (0, "graded", "review"),
    "indirect_replacement": (0, "graded", ""),
    "forged_values": (0, "graded", ""),
    "writes_outside": (4, "graded", ""),
    "network": (4, "graded", ""),
    "memory_hog": (4, "graded", ""),
    "fork_bomb": (4, "graded", ""),
    "outlive": (4, "graded", ""),
    "record_flood": (2, "graded", ""),
    "disk_hog": (4, "crashed", "scratch folder"),
    "records_attack": (2, "graded", "could not be read"),
    "blocks_shutdown": (2, "graded", ""),
    "stops_itself": (2, "timeout", "ignores interrupts"),
    "ignores_interrupt": (2, "timeout", "ignores interrupts"),
    "closes_output_channel": (2, "crashed", "output channel"),
    **{kind: (0, "invalid", "not a regular file") for kind in NOT_FILES},
}


def solution_code(grade_id: str, solution: Path = SOLUTION) -> str:
    """The solution cell's code, without the solution markers (of 00_warmup unless ``solution``)."""
    nb = nbformat.read(solution, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", cell.source, flags=re.M)
    raise KeyError(grade_id)


def _cell(nb, grade_id: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def _filled(standardise: str | None = None, one_hot: str | None = None,
            answer: str | None = None):
    nb = nbformat.read(EXERCISE, as_version=4)
    _cell(nb, "standardise").source = standardise or solution_code("standardise")
    _cell(nb, "one-hot").source = one_hot or solution_code("one-hot")
    _cell(nb, "explain-constant-input").source = answer or (
        "All entries equal the mean, so the standard deviation is 0 and we divide 0 by 0: nan.")
    return nb


def build(folder: Path, *, marker: str = "dlcourse-hostile", port: int = 9,
          targets: list[str] = (), modify: list[str] = (), memory_limit: int = 1 << 30,
          not_files: bool = False) -> dict[str, Path]:
    """Write one submission of each kind in :data:`EXPECTED` into ``folder``.

    ``marker`` names the files and processes the hostile ones leave (to look for them after),
    ``port`` is where the network submission connects on 127.0.0.1, ``targets`` the folders it
    writes into and ``modify`` the files it appends to; ``memory_limit`` the kernels' limit.
    ``not_files``: also the :data:`NOT_FILES` (remove them after: :func:`remove_not_regular_files`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def save(kind: str, nb) -> None:
        written[kind] = folder / f"{kind}.ipynb"
        nbformat.write(nb, written[kind])

    save("correct", _filled())
    save("partial", _filled(one_hot=WRONG_ONE_HOT))
    save("untouched", nbformat.read(EXERCISE, as_version=4))

    text = EXERCISE.read_text()
    (folder / "not_json.ipynb").write_text(text[: len(text) // 2])
    (folder / "not_a_notebook.ipynb").write_text(json.dumps({"essay": "I did my homework"}))
    (folder / "binary.ipynb").write_bytes(bytes(range(256)) * 4)
    for kind in ("not_json", "not_a_notebook", "binary"):
        written[kind] = folder / f"{kind}.ipynb"

    save("endless_loop", _filled(one_hot="def one_hot(labels, n_classes):\n"
                                         "    while True:\n        pass\n"))
    save("kernel_crash", _filled(one_hot="import os\nos._exit(1)\n"))
    save("sys_exit", _filled(one_hot="import sys\nsys.exit('I give up')\n" + WRONG_ONE_HOT))

    nb = _filled()
    nb.cells.insert(5, nbformat.v4.new_code_cell(
        "for i in range(200_000):\n    print('spam ' * 20)"))
    save("huge_output", nb)

    nb = _filled()
    test_cell = _cell(nb, "test-one-hot")
    nb.cells.remove(test_cell)
    one_hot_cell = _cell(nb, "one-hot")
    nb.cells.remove(one_hot_cell)
    nb.cells.insert(3, one_hot_cell)  # before the imports cell and question 1
    nb.cells.reverse()
    save("deleted_reordered", nb)

    nb = _filled(standardise=WRONG_STANDARDISE, one_hot=WRONG_ONE_HOT)
    for grade_id in ("test-standardise", "test-one-hot"):
        cell = _cell(nb, grade_id)
        cell.source = 'print("all tests passed")'
    # and one test cell disguised as an ordinary cell
    del _cell(nb, "test-one-hot").metadata["nbgrader"]
    save("edited_tests", nb)

    nb = _filled(standardise=WRONG_STANDARDISE, one_hot=WRONG_ONE_HOT)
    nb.cells.insert(5, nbformat.v4.new_code_cell(MONKEYPATCH))
    save("monkeypatched", nb)

    nb = _filled(standardise=DISK_SEARCH, one_hot="# answered above\n")
    save("disk_search", nb)

    def with_cell(code: str, at: int = 5, **answers):
        nb = _filled(**answers)
        nb.cells.insert(at if at >= 0 else len(nb.cells), nbformat.v4.new_code_cell(code))
        return nb

    wrong = {"standardise": WRONG_STANDARDISE, "one_hot": WRONG_ONE_HOT}
    save("indirect_replacement", with_cell(INDIRECT_REPLACEMENT, **wrong))
    save("forged_values", with_cell(FORGED_VALUES, **wrong))
    save("writes_outside", with_cell(WRITES.format(targets=list(targets), modify=list(modify),
                                                   marker=marker)))
    save("network", with_cell(NETWORK.format(port=port)))
    save("memory_hog", with_cell(MEMORY.format(elements=memory_limit // 8 * 2)))
    save("fork_bomb", with_cell(FORK_BOMB))
    save("outlive", with_cell(OUTLIVE.format(marker=marker)))
    nb = _filled()
    standardise_cell = _cell(nb, "standardise")
    nb.cells.insert(nb.cells.index(standardise_cell) + 1,
                    nbformat.v4.new_code_cell(RECORD_FLOOD.format()))
    save("record_flood", nb)
    save("disk_hog", with_cell(DISK_HOG, at=-1))

    save("records_attack", _filled(standardise=solution_code("standardise") + RECORDS_ATTACK,
                                   one_hot=solution_code("one-hot") + RECORDS_ATTACK_ONE_HOT))
    save("blocks_shutdown", with_cell(SHUTDOWN_AND_THREAD, one_hot=solution_code("one-hot")
                                      + SHUTDOWN_AND_THREAD_ONE_HOT))
    save("stops_itself", _filled(one_hot=STOPS_ITSELF))
    save("ignores_interrupt", _filled(one_hot=IGNORES_INTERRUPT))
    nb = _filled()
    nb.cells.insert(nb.cells.index(_cell(nb, "test-standardise")) + 1,
                    nbformat.v4.new_code_cell(CLOSES_OUTPUT_CHANNEL))
    save("closes_output_channel", nb)
    if not_files:
        written.update(not_regular_files(folder))
    return written


def not_regular_files(folder: Path) -> dict[str, Path]:
    """The :data:`NOT_FILES` submissions in ``folder``; what they point to lies beside it.

    Remove them when done (:func:`remove_not_regular_files`): whatever later searches the
    temporary folders and opens them would wait on the FIFO, or read /dev/zero, forever.
    """
    folder.mkdir(parents=True, exist_ok=True)
    elsewhere = folder.with_name(folder.name + "-elsewhere")
    (elsewhere / "student").mkdir(parents=True, exist_ok=True)
    correct = elsewhere / "student" / f"{ASSIGNMENT}.ipynb"
    nbformat.write(_filled(), correct)  # it would score full marks if it were read
    paths = {kind: folder / f"{kind}.ipynb" for kind in NOT_FILES}
    paths["link_to_solution"].symlink_to(SOLUTION.resolve())
    paths["link_outside"].symlink_to(correct)
    os.mkfifo(paths["fifo"])  # opening it to read would wait for a writer forever
    paths["link_to_zero"].symlink_to("/dev/zero")  # endless
    paths["folder_named_notebook"].mkdir()
    nbgrader = paths["nbgrader_link_file"] = folder / "nbgrader_link_file" / f"{ASSIGNMENT}.ipynb"
    nbgrader.parent.mkdir()
    nbgrader.symlink_to(correct)
    paths["nbgrader_link_folder"] = folder / "nbgrader_link_folder"  # alice/ -> a folder elsewhere
    paths["nbgrader_link_folder"].symlink_to(correct.parent, target_is_directory=True)
    return paths


def copy_of(nb):
    return copy.deepcopy(nb)


def remove_not_regular_files(paths: dict[str, Path]) -> None:
    """Remove the links and the FIFO that :func:`not_regular_files` made."""
    for kind in NOT_FILES:
        path = paths.get(kind)
        if path is not None and (path.is_symlink() or path.is_fifo()):
            path.unlink()
