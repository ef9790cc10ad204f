"""Oracles for quantities that a lesson computes with a function it writes itself (not in dlcourse).

The function's definition is read from the committed notebook with ``ast`` and run here on data whose
answer an independent library gives, so a claim resting on it does not rest on it alone
(CONTRIBUTING.md, "Claim oracles"). No notebook is executed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import numpy as np
import pytest
from sklearn.metrics import precision_score

REPO = Path(__file__).resolve().parents[2]


def lesson_function(notebook: str, name: str, namespace: dict) -> object:
    """The function ``name`` that a code cell of ``notebook`` defines, defined again in ``namespace``."""
    nb = nbformat.read(REPO / "notebooks" / notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or f"def {name}(" not in cell.source:
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                exec(compile(ast.Module([node], type_ignores=[]), notebook, "exec"), namespace)
                return namespace[name]
    raise AssertionError(f"{notebook} no longer defines {name}(): update this oracle")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lesson_12_predictive_values_are_precision_per_group(seed):
    """PPV is the precision of the label 'high risk' and NPV that of 'low risk', per group, on test rows."""
    rng = np.random.default_rng(seed)
    n = 400
    namespace = {"np": np, "y": rng.integers(0, 2, n), "group": rng.choice(["Black", "white"], n),
                 "test": rng.random(n) < 0.6}
    predictive_values = lesson_function("12_ethics.ipynb", "predictive_values", namespace)
    pred = rng.integers(0, 2, n)
    values = predictive_values(pred)
    test, y, group = namespace["test"], namespace["y"], namespace["group"]
    for g in ("Black", "white"):
        rows = test & (group == g)
        ppv = precision_score(y[rows], pred[rows], pos_label=1)
        npv = precision_score(y[rows], pred[rows], pos_label=0)
        assert values[g] == pytest.approx((ppv, npv), abs=1e-12)
