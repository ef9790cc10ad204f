"""The single-neuron explorer of lesson 02: sliders for two weights, a bias and the activation.

The picture shows the neuron's output over the plane, its decision boundary ``z = 0`` and two
clouds of toy points (see :mod:`dlcourse.demos.base` for how demos show and test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from dlcourse.demos.base import FigureDemo
from dlcourse.numpy_nn.activations import ACTIVATIONS
from dlcourse.plots.palette import CONTRAST, OKABE_ITO

#: Activation functions offered by the explorer: name -> elementwise function (lesson 02 builds
#: them; :mod:`dlcourse.numpy_nn.activations` keeps them).
NEURON_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    name: function for name, (function, _) in ACTIVATIONS.items()}


def neuron_points(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return the explorer's toy data: two Gaussian blobs in the plane.

    Returns:
        ``X`` of shape ``(n, 2)`` and labels ``y`` of shape ``(n,)`` with values 0 and 1
        (the first half 0, centred at (-1, -0.5); the second half 1, centred at (1, 1)).
    """
    rng = np.random.default_rng(seed)
    half = n // 2
    X = np.vstack([rng.normal((-1.0, -0.5), 0.6, size=(half, 2)),
                   rng.normal((1.0, 1.0), 0.6, size=(n - half, 2))])
    y = np.r_[np.zeros(half, dtype=int), np.ones(n - half, dtype=int)]
    return X, y


@dataclass(frozen=True)
class NeuronState:
    """What one neuron with weights ``w`` and bias ``b`` does on the plane.

    ``offset`` is the signed distance of the decision boundary ``w . x + b = 0`` from the origin
    (``-b / |w|``), None when ``w = 0`` (no boundary: the output is the same everywhere).
    ``accuracy`` is the fraction of the toy points that the rule "class 1 where ``z > 0``" gets right.
    """

    w: tuple[float, float]
    b: float
    activation: str
    offset: float | None
    accuracy: float


class NeuronExplorer(FigureDemo):
    """Sliders for one neuron's ``w1``, ``w2``, ``b`` and activation; draws its output and boundary.

    The neuron computes ``a = f(w1 * x1 + w2 * x2 + b)``. Its decision boundary is the line where
    ``z = w1 * x1 + w2 * x2 + b = 0``: for every activation here, the output is above its midpoint
    ``f(0)`` on the side that ``w`` points to.

    Attributes:
        w1, w2, b: ``FloatSlider`` controls; activation: a ``Dropdown`` of :data:`NEURON_ACTIVATIONS`.
        image: the ``Image`` widget holding the current picture (PNG bytes).
        status: an ``HTML`` line with the state; state: the :class:`NeuronState` of the last render.
        renders: how many times the picture was drawn.
    """

    def __init__(self, w1: float = 1.0, w2: float = 1.0, b: float = 0.0,
                 activation: str = "sigmoid", points: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        if activation not in NEURON_ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(NEURON_ACTIVATIONS)}, got {activation!r}")
        self.X, self.y = neuron_points() if points is None else points

        def slider(name: str, value: float) -> widgets.FloatSlider:
            return widgets.FloatSlider(value=value, min=-3.0, max=3.0, step=0.1, description=name,
                                       continuous_update=False)

        self.w1, self.w2, self.b = slider("w1", w1), slider("w2", w2), slider("b", b)
        self.activation = widgets.Dropdown(options=list(NEURON_ACTIVATIONS), value=activation,
                                           description="activation")
        self.redraw_on_change(self.w1, self.w2, self.b, self.activation)
        self.widget = widgets.HBox([
            widgets.VBox([self.w1, self.w2, self.b, self.activation, self.status]), self.image])
        self.render()

    def compute_state(self) -> NeuronState:
        w = np.array([self.w1.value, self.w2.value], dtype=float)
        b = float(self.b.value)
        norm = float(np.hypot(*w))
        offset = None if norm == 0 else 0.0 - b / norm  # 0.0 - : never "-0.00"
        accuracy = float(np.mean(((self.X @ w + b) > 0).astype(int) == self.y))
        return NeuronState((float(w[0]), float(w[1])), b, self.activation.value, offset, accuracy)

    def status_text(self) -> str:
        s = self.state
        where = ("no boundary (w = 0: the output is the same everywhere)" if s.offset is None
                 else f"boundary at distance {s.offset:+.2f} from the origin")
        return f"{where}; accuracy on the points {s.accuracy:.2f}"

    def figure(self) -> Figure:
        """Return the picture of the current state: the neuron's output over the plane."""
        s = self.state
        f = NEURON_ACTIVATIONS[s.activation]
        grid = np.linspace(-3, 3, 121)
        x1, x2 = np.meshgrid(grid, grid)
        a = f(s.w[0] * x1 + s.w[1] * x2 + s.b)
        fig = Figure(figsize=(5.2, 4.2))
        ax = fig.subplots()
        mesh = ax.pcolormesh(x1, x2, a, shading="auto", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=f"output a = {s.activation}(z)")
        if s.offset is not None:
            ax.contour(x1, x2, s.w[0] * x1 + s.w[1] * x2 + s.b, levels=[0.0], colors=CONTRAST[0],
                       linewidths=2)
            foot = -s.b * np.array(s.w) / (s.w[0] ** 2 + s.w[1] ** 2)
            ax.annotate("", xy=foot + 0.8 * np.array(s.w) / np.hypot(*s.w), xytext=foot,
                        arrowprops={"arrowstyle": "->", "color": CONTRAST[0], "lw": 2})
        for label, marker, color in ((0, "o", OKABE_ITO[1]), (1, "s", OKABE_ITO[5])):
            pts = self.X[self.y == label]
            ax.scatter(pts[:, 0], pts[:, 1], marker=marker, c=color, edgecolors=OKABE_ITO[7],
                       linewidths=0.5, s=25, label=f"class {label}")
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="input x1 (unitless)", ylabel="input x2 (unitless)",
               title=f"w = ({s.w[0]:.1f}, {s.w[1]:.1f}), b = {s.b:.1f}: boundary where z = 0")
        ax.legend(loc="lower right", frameon=True)
        fig.tight_layout()
        return fig

    def describe(self) -> str:
        s = self.state
        return (f"Neuron explorer (interactive in JupyterLab or Colab): w1={s.w[0]:.1f}, "
                f"w2={s.w[1]:.1f}, b={s.b:.1f}, activation={s.activation}; {self.status_text()}")
