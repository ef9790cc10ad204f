"""Build one submission of each kind (correct, partial, hostile, broken) from the real exercise.

The submissions are generated from ``exercises/00_warmup.ipynb`` (what students receive) and
the answers in ``solutions/00_warmup.ipynb``, so they follow the exercise when it changes.
:data:`EXPECTED` says what each must score (autograded points) and the status it must get.
"""

from __future__ import annotations

import copy
import json
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
}


def solution_code(grade_id: str) -> str:
    """The solution cell's code, without the solution markers."""
    nb = nbformat.read(SOLUTION, as_version=4)
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


def build(folder: Path) -> dict[str, Path]:
    """Write one submission of each kind in :data:`EXPECTED` into ``folder``."""
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
    return written


def copy_of(nb):
    return copy.deepcopy(nb)
