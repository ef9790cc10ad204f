"""What every interactive demo of the course shares: a live widget in Jupyter, a text everywhere else.

Each demo is a small class that builds its ``ipywidgets`` controls, exposes them as attributes
(``quiz.controls[0]``, ``explorer.b``, ``explorer.lr``), and keeps the result of its last update
in plain Python (``quiz.results``, ``explorer.state``). The callbacks are ordinary methods, so a
test can build a demo, set ``explorer.b.value = 1.0`` and assert that the state changed, without a
browser. In a notebook, leave the object as a cell's last expression: JupyterLab and Colab show
the live widget; the cell's plain-text output (what GitHub and the notebook tests see) is a short,
deterministic description of the demo's current state. Pictures are drawn with a matplotlib
``Figure`` into an ``ipywidgets.Image`` (:func:`figure_png`), so no output is captured anywhere
else; a demo's ``figure()`` returns the same picture as a static figure for readers of the
committed notebook.
"""

from __future__ import annotations

import io
from html import escape
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure


class InteractiveDemo:
    """Base of the course's demos: the live widget in Jupyter, a deterministic text everywhere else.

    A subclass sets ``self.widget`` and implements ``describe()``. Jupyter shows the widget; the
    ``text/plain`` part of the same output (what GitHub and the notebook tests see) is ``describe()``.
    """

    widget: widgets.Widget

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.describe()
        return bundle

    def __repr__(self) -> str:
        return self.describe()


class FigureDemo(InteractiveDemo):
    """A demo whose every control redraws one picture and one status line.

    A subclass builds its controls, passes them to :meth:`redraw_on_change` (which creates
    ``self.image`` and ``self.status``), lays them out in ``self.widget`` and calls :meth:`render`;
    it implements ``compute_state()`` (the state of the current controls), ``figure()`` (the
    picture of ``self.state``) and ``status_text()`` (one line about it). ``renders`` counts the
    pictures drawn.
    """

    state: Any

    def redraw_on_change(self, *controls: widgets.ValueWidget) -> None:
        """Create the picture and the status line, and re-render whenever a control changes."""
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML()
        self.renders = 0
        for control in controls:
            control.observe(lambda change: self.render(), names="value")

    def render(self) -> Any:
        """Recompute the state and redraw the picture and the status (every control's callback)."""
        self.state = self.compute_state()
        self.image.value = figure_png(self.figure())
        self.status.value = escape(self.status_text())
        self.renders += 1
        return self.state

    def compute_state(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def figure(self) -> Figure:  # pragma: no cover - overridden
        raise NotImplementedError

    def status_text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


def figure_png(fig: Figure) -> bytes:
    """Return ``fig`` drawn as PNG bytes, for an ``ipywidgets.Image`` (nothing is shown anywhere else)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
