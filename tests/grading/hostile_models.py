"""Build one submission of each kind for exercise 05, whose last question trains a model.

Like tests/grading/hostile.py (exercise 00), from the real exercise and solution: what students
receive, filled in with the solution's answers, then changed where each kind says. Questions 1-3
are answered correctly in every kind but ``untouched``; what differs is ``train_digits``, whose
points rest on ``check.model``: the grader rebuilds ``mlp([64, 128, 64, 10])`` from the parameters
the kernel sent and measures it on the test split in its own process. None of the hostile kinds
trains (they are cheap); each must lose exactly question 4's two points, with a clear reason.

``oracle`` reads the test labels from the notebook's globals and ``lookup`` the data files (the
digits come with scikit-learn), as a kernel can; neither sends a model. What a kernel can read
does limit the design in one way, which no submission here tries: a network of the fixed
architecture trained on the test images too reaches the requirement on its merits (the split is
not held out from the kernel; tests/unit/test_model_tasks_models_a.py measures it).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests.grading.hostile import MONKEYPATCH, _cell, solution_code

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "05_train_mlp"
EXERCISE = ROOT / "exercises" / f"{ASSIGNMENT}.ipynb"
SOLUTION = ROOT / "solutions" / f"{ASSIGNMENT}.ipynb"
QUESTIONS = ("momentum-step", "adam-step", "train-epoch", "train-digits")
TEST_CELLS = tuple(f"test-{q}" for q in QUESTIONS)

#: The issue's attack: nothing is trained; the "model" answers with the test labels it reads from
#: the notebook's own globals (``y_test`` is bound in a locked cell).
ORACLE = '''
def train_digits(X_train, y_train, rng):
    class Oracle:
        def forward(self, X):
            return np.eye(10)[y_test[: len(X)]]  # the labels, as one-hot logits

        def params(self):
            return []

        def grads(self):
            return []

    return Oracle(), [2.3, 0.01]
'''

UNTRAINED = '''
def train_digits(X_train, y_train, rng):
    return mlp([64, 128, 64, 10], rng=rng), [2.3, 0.01]
'''

#: exercise 00's replacements of the checks, and Check.model's too, before question 4's test
MONKEYPATCH_MODEL = MONKEYPATCH + '''
checks_module.Check.model = lambda *args, **kwargs: None
'''

NAN = '''
def train_digits(X_train, y_train, rng):
    model = mlp([64, 128, 64, 10], rng=rng)
    model.linears[1].W[0, 0] = np.nan
    return model, [2.3, 0.01]
'''

WRONG_SHAPES = '''
def train_digits(X_train, y_train, rng):
    return mlp([64, 32, 10], rng=rng), [2.3, 0.01]
'''

#: a parameter of 64 x 40,000 entries (2.56 million: over what a check sends)
OVERSIZED = '''
def train_digits(X_train, y_train, rng):
    model = mlp([64, 128, 64, 10], rng=rng)
    model.linears[0].W = np.zeros((64, 40_000))
    return model, [2.3, 0.01]
'''

NOT_A_MODEL = '''
def train_digits(X_train, y_train, rng):
    return {"test accuracy": 1.0, "model": "trust me"}, [2.3, 0.01]
'''

#: reads the data files as a kernel can (scikit-learn's digits) and looks each image's label up
LOOKUP = '''
from sklearn.datasets import load_digits


def train_digits(X_train, y_train, rng):
    images, labels = load_digits(return_X_y=True)
    known = {row.tobytes(): label for row, label in zip(images / 16.0, labels)}

    class Lookup:
        def forward(self, X):
            return np.eye(10)[[known[row.tobytes()] for row in np.asarray(X, dtype=float)]]

    return Lookup(), [2.3, 0.01]
'''

FULL = 10.0
#: kind -> (autograded points, status, words the instructor's reason or feedback must contain)
EXPECTED = {
    "correct": (FULL, "graded", ""),
    "untouched": (0.0, "graded", "not attempted"),
    "oracle": (FULL - 2, "graded", "not a model of mlp([64, 128, 64, 10])"),
    "monkeypatched": (FULL - 2, "graded", "touches dlcourse.checks"),
    "nan": (FULL - 2, "graded", "NaN or infinite"),
    "wrong_shapes": (FULL - 2, "graded", "not those of mlp([64, 128, 64, 10])"),
    "oversized": (FULL - 2, "graded", "too large to send"),
    "not_a_model": (FULL - 2, "graded", "not a model of mlp([64, 128, 64, 10])"),
    "lookup": (FULL - 2, "graded", "not a model of mlp([64, 128, 64, 10])"),
}


def _filled(train_digits: str | None = None, before_test: str | None = None):
    """The exercise, answered with the solution (``train_digits`` replaced when given); with
    ``before_test``, a cell of the learner's just before question 4's test cell."""
    nb = nbformat.read(EXERCISE, as_version=4)
    for question in QUESTIONS:
        _cell(nb, question).source = solution_code(question, SOLUTION)
    if train_digits is not None:
        _cell(nb, "train-digits").source = train_digits
    if before_test is not None:
        nb.cells.insert(nb.cells.index(_cell(nb, "test-train-digits")),
                        nbformat.v4.new_code_cell(before_test))
    return nb


def build(folder: Path) -> dict[str, Path]:
    """Write one submission of each kind in :data:`EXPECTED` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    notebooks = {
        "correct": _filled(),
        "untouched": nbformat.read(EXERCISE, as_version=4),
        "oracle": _filled(ORACLE),
        "monkeypatched": _filled(UNTRAINED, before_test=MONKEYPATCH_MODEL),
        "nan": _filled(NAN),
        "wrong_shapes": _filled(WRONG_SHAPES),
        "oversized": _filled(OVERSIZED),
        "not_a_model": _filled(NOT_A_MODEL),
        "lookup": _filled(LOOKUP),
    }
    assert set(notebooks) == set(EXPECTED)
    written = {}
    for kind, nb in notebooks.items():
        written[kind] = folder / f"{kind}.ipynb"
        nbformat.write(nb, written[kind])
    return written
