"""The learning-rate explorer of lesson 03: gradient descent on a chosen loss surface.

:func:`descent_path` is the plain gradient-descent loop; :class:`LearningRateExplorer` runs it with a
slider for the learning rate and the number of steps, and draws the path and the loss per step
(see :mod:`dlcourse.demos.base` for how demos show and test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from dlcourse.demos.base import FigureDemo
from dlcourse.plots.palette import OKABE_ITO


@dataclass(frozen=True)
class Surface:
    """A loss surface to descend: ``f`` maps a point of shape ``(d,)`` to a float, ``grad`` to ``(d,)``.

    ``bounds`` is the plotted range of every coordinate; ``start`` the starting point, shape ``(d,)``.
    """

    name: str
    f: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]
    start: tuple[float, ...]
    bounds: tuple[float, float]

    @property
    def dim(self) -> int:
        return len(self.start)


#: The surfaces of the explorer. The bowl's curvature is 2 (gradient descent diverges for a
#: learning rate above 2 / 2 = 1); the valley's curvatures are 1 and 10 (it diverges above 0.2).
SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("1-D bowl: f(x) = x²", lambda p: float(p[0] ** 2), lambda p: 2 * p,
            (2.5,), (-3.0, 3.0)),
    Surface("1-D two valleys: f(x) = x⁴/4 - x² + x/2",
            lambda p: float(p[0] ** 4 / 4 - p[0] ** 2 + p[0] / 2),
            lambda p: p ** 3 - 2 * p + 0.5, (2.5,), (-3.0, 3.0)),
    Surface("2-D valley: f(x, y) = (x² + 10 y²) / 2",
            lambda p: float((p[0] ** 2 + 10 * p[1] ** 2) / 2),
            lambda p: np.array([p[0], 10 * p[1]]), (-2.5, 1.5), (-3.0, 3.0)),
)}


def descent_path(grad: Callable[[np.ndarray], np.ndarray], start: np.ndarray, lr: float,
                 steps: int, limit: float = 1e6) -> np.ndarray:
    """Run plain gradient descent ``p <- p - lr * grad(p)`` and return every point visited.

    Args:
        grad: the gradient, a point of shape ``(d,)`` -> shape ``(d,)``.
        start: the starting point, shape ``(d,)``.
        lr: the learning rate (step size), positive.
        steps: how many steps to take.
        limit: stop early once a coordinate's magnitude exceeds this (the run has diverged).

    Returns:
        The points, shape ``(k + 1, d)`` with ``k <= steps`` the number of steps taken.
    """
    if lr <= 0:
        raise ValueError(f"the learning rate must be positive, got {lr}")
    p = np.asarray(start, dtype=float).copy()
    path = [p.copy()]
    for _ in range(steps):
        p = p - lr * grad(p)
        path.append(p.copy())
        if not np.all(np.isfinite(p)) or np.abs(p).max() > limit:
            break
    return np.array(path)


@dataclass(frozen=True)
class DescentState:
    """The outcome of one run: the points visited, their losses, and whether the run diverged.

    ``diverged`` is True when the loss ended higher than it started (or left the finite numbers).
    """

    surface: str
    lr: float
    path: np.ndarray
    losses: np.ndarray
    diverged: bool

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


class LearningRateExplorer(FigureDemo):
    """Gradient descent on a chosen surface, with a slider for the learning rate and the steps.

    Attributes:
        surface: a ``Dropdown`` of :data:`SURFACES`; lr: a ``FloatLogSlider``; steps: an ``IntSlider``.
        image, status: the picture (PNG bytes) and an ``HTML`` line; state: the :class:`DescentState`.
    """

    def __init__(self, surface: str = "1-D bowl: f(x) = x²", lr: float = 0.1, steps: int = 20) -> None:
        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {list(SURFACES)}, got {surface!r}")
        self.surface = widgets.Dropdown(options=list(SURFACES), value=surface, description="surface",
                                        layout=widgets.Layout(width="auto"))
        self.lr = widgets.FloatLogSlider(value=lr, base=10, min=-3, max=0.5, step=0.05,
                                         description="learning rate", readout_format=".3f",
                                         continuous_update=False,
                                         style={"description_width": "initial"})
        self.steps = widgets.IntSlider(value=steps, min=1, max=100, description="steps",
                                       continuous_update=False)
        self.redraw_on_change(self.surface, self.lr, self.steps)
        self.widget = widgets.VBox([self.surface, widgets.HBox([self.lr, self.steps]), self.status,
                                    self.image])
        self.render()

    def compute_state(self) -> DescentState:
        s = SURFACES[self.surface.value]
        lr = float(self.lr.value)
        path = descent_path(s.grad, np.array(s.start), lr, int(self.steps.value))
        with np.errstate(over="ignore", invalid="ignore"):
            losses = np.array([s.f(p) for p in path])
        diverged = bool(not np.isfinite(losses[-1]) or losses[-1] > losses[0])
        return DescentState(s.name, lr, path, losses, diverged)

    def status_text(self) -> str:
        s = self.state
        verdict = "DIVERGED: the learning rate is too large" if s.diverged else "the loss went down"
        loss = f"{s.final_loss:.4g}" if np.isfinite(s.final_loss) else "not finite"
        return (f"learning rate {s.lr:.3f}, {len(s.path) - 1} steps: loss {s.losses[0]:.4g} -> "
                f"{loss}; {verdict}")

    def figure(self) -> Figure:
        """Return the picture of the current run: the path on the surface and the loss per step."""
        st = self.state
        surface = SURFACES[st.surface]
        lo, hi = surface.bounds
        fig = Figure(figsize=(9.0, 3.6))
        ax, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
        inside = np.all(np.abs(st.path) <= 10 * max(abs(lo), abs(hi)), axis=1)
        shown = st.path[inside]
        if surface.dim == 1:
            x = np.linspace(lo, hi, 300)
            ax.plot(x, [surface.f(np.array([v])) for v in x], color=OKABE_ITO[7], lw=1.5, label="f(x)")
            ax.plot(shown[:, 0], [surface.f(p) for p in shown], "o-", color=OKABE_ITO[3], ms=4,
                    lw=1, label="gradient descent")
            ax.set(xlim=(lo, hi), xlabel="parameter x (unitless)", ylabel="loss f(x) (unitless)")
            fx = [surface.f(np.array([v])) for v in x]
            ax.set_ylim(min(fx) - 0.5, max(fx))
        else:
            g = np.linspace(lo, hi, 150)
            X1, X2 = np.meshgrid(g, g)
            Z = np.array([surface.f(np.array(pt)) for pt in zip(X1.ravel(), X2.ravel(), strict=True)])
            Z = Z.reshape(X1.shape)
            ax.contour(X1, X2, Z, levels=np.geomspace(0.05, Z.max(), 12), cmap="viridis")
            ax.plot(shown[:, 0], shown[:, 1], "o-", color=OKABE_ITO[3], ms=4, lw=1,
                    label="gradient descent")
            ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="parameter x (unitless)",
                   ylabel="parameter y (unitless)")
        ax.plot(*([st.path[0, 0], surface.f(st.path[0])] if surface.dim == 1 else st.path[0]),
                "*", color=OKABE_ITO[2], ms=14, label="start")
        ax.set_title(f"{surface.name}\nlearning rate {st.lr:.3f}")
        ax.legend(loc="best", fontsize=8)
        steps = np.arange(len(st.losses))
        finite = np.isfinite(st.losses)
        ax_loss.plot(steps[finite], st.losses[finite], "o-", ms=3, color=OKABE_ITO[0])
        if np.all(st.losses[finite] > 0):
            ax_loss.set_yscale("log")
        ax_loss.set(xlabel="step", ylabel="loss (unitless)",
                    title="diverged" if st.diverged else "loss per step")
        fig.tight_layout()
        return fig

    def describe(self) -> str:
        return (f"Learning-rate explorer (interactive in JupyterLab or Colab): {self.state.surface}; "
                f"{self.status_text()}")
