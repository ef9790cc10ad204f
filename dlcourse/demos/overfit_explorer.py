"""The overfitting explorer of lesson 08: sliders for a network's width and its L2 strength.

The training happens once, beforehand, in :func:`dlcourse.pytorch.small_mlp.sweep`; the explorer only
looks results up in that grid, so moving its sliders is instant (see :mod:`dlcourse.demos.base` for
how demos show and test).
"""

from __future__ import annotations

from html import escape

import ipywidgets as widgets

from dlcourse.demos.base import InteractiveDemo
from dlcourse.pytorch.small_mlp import SweepResult


class OverfitExplorer(InteractiveDemo):
    """Two sliders (hidden width, L2 strength) over a precomputed :func:`sweep` grid.

    The callback only looks the pair up, so it is instant. Attributes: ``width`` and ``lam``
    (``SelectionSlider``), ``status`` (``HTML``), ``result`` (the :class:`SweepResult` shown).
    """

    def __init__(self, results: dict[tuple[int, float], SweepResult]) -> None:
        if not results:
            raise ValueError("OverfitExplorer needs the results of sweep(); got an empty grid.")
        self.results = dict(results)
        self.widths = sorted({w for w, _ in results})
        self.lams = sorted({lam for _, lam in results})
        missing = [(w, lam) for w in self.widths for lam in self.lams if (w, lam) not in results]
        if missing:
            raise ValueError(f"the grid is incomplete: no result for (width, lam) in {missing}.")
        self.width = widgets.SelectionSlider(options=self.widths, value=self.widths[-1],
                                             description="width")
        self.lam = widgets.SelectionSlider(options=self.lams, value=self.lams[0], description="λ (L2)")
        self.status = widgets.HTML()
        for control in (self.width, self.lam):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([self.width, self.lam, self.status])
        self.update()

    def lookup(self, width: int, lam: float) -> SweepResult:
        """The result of one grid point (``KeyError`` that lists the grid when it is not one)."""
        try:
            return self.results[(int(width), float(lam))]
        except KeyError:
            raise KeyError(f"({width}, {lam}) is not in the grid: widths {self.widths}, "
                           f"lams {self.lams}.") from None

    def update(self) -> SweepResult:
        """Look up the current slider values and rewrite the status (the sliders' callback)."""
        self.result = self.lookup(self.width.value, self.lam.value)
        best = max(self.results, key=lambda k: self.results[k].val_acc)
        self.status.value = escape(self._line(self.width.value, self.lam.value)) + \
            "<br>" + escape(f"best in the grid: width {best[0]}, λ {best[1]:g} "
                             f"(validation accuracy {self.results[best].val_acc:.3f})")
        return self.result

    def _line(self, width: int, lam: float) -> str:
        r = self.lookup(width, lam)
        return (f"width {width}, λ {lam:g}: training accuracy {r.train_acc:.3f}, validation accuracy "
                f"{r.val_acc:.3f} (gap {r.train_acc - r.val_acc:.3f}), validation loss {r.val_loss:.3f}")

    def describe(self) -> str:
        lines = [f"Overfitting explorer: {len(self.widths)} widths x {len(self.lams)} L2 strengths, "
                 "precomputed. Move the sliders in JupyterLab or Colab. The grid:"]
        lines += ["  " + self._line(w, lam) for w in self.widths for lam in self.lams]
        return "\n".join(lines)
