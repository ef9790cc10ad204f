"""Lesson 08's overfitting explorer: the sliders look results up in a precomputed grid."""

import pytest

from dlcourse.demos.overfit_explorer import OverfitExplorer
from dlcourse.pytorch.small_mlp import SweepResult


def grid() -> dict[tuple[int, float], SweepResult]:
    """A complete 2 x 2 grid with a different result at every point, as sweep() returns it."""
    return {(width, lam): SweepResult(train_acc=1.0 - lam / 100, val_acc=0.5 + width / 1000,
                                      val_loss=1.0 + lam)
            for width in (8, 32) for lam in (0.0, 5.0)}


def test_explorer_looks_up_the_grid():
    results = grid()
    explorer = OverfitExplorer(results)
    explorer.width.value, explorer.lam.value = 8, 5.0
    assert explorer.result == results[(8, 5.0)]
    assert "width 8, λ 5" in explorer.status.value
    assert "best in the grid: width 32" in explorer.status.value
    assert "2 widths x 2 L2 strengths" in repr(explorer)
    with pytest.raises(KeyError, match="not in the grid"):
        explorer.lookup(16, 0.0)


def test_explorer_rejects_incomplete_grid():
    r = SweepResult(1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="incomplete"):
        OverfitExplorer({(8, 0.0): r, (16, 1.0): r})
    with pytest.raises(ValueError, match="empty"):
        OverfitExplorer({})
