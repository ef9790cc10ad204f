"""Interactive demos of Part I: the triage quiz, the single-neuron explorer, the learning-rate explorer.

Each demo is a small class that builds its ``ipywidgets`` controls, exposes them as attributes
(``quiz.controls[0]``, ``explorer.b``, ``explorer.lr``), and keeps the result of its last update
in plain Python (``quiz.results``, ``explorer.state``). The callbacks are ordinary methods, so a
test can build a demo, set ``explorer.b.value = 1.0`` and assert that the state changed, without a
browser. In a notebook, leave the object as a cell's last expression: JupyterLab and Colab show
the live widget; the cell's plain-text output (what GitHub and the notebook tests see) is a short,
deterministic description of the demo's current state. Pictures are drawn with a matplotlib
``Figure`` into an ``ipywidgets.Image``, so no output is captured anywhere else; ``figure()``
returns the same picture as a static figure for readers of the committed notebook.

The quiz's answers and reasoning below are course content (lesson 01), not a graded exercise.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from dlcourse.numpy_nn.activations import ACTIVATIONS

# ---------------------------------------------------------------------------------------------
# The triage quiz (lesson 01)
# ---------------------------------------------------------------------------------------------

#: The approaches a learner can choose from, in the order the quiz shows them.
APPROACHES: tuple[str, ...] = (
    "Natural language processing (deep learning)",
    "Supervised machine learning",
    "Collaborative filtering (machine learning)",
    "Convolutional neural networks (deep learning)",
    "Regression analysis (machine learning)",
)

#: What each approach is for, shown when a learner picks it for a problem it does not fit best.
APPROACH_NOTES: dict[str, str] = {
    APPROACHES[0]: "deep NLP models learn features from raw text: worth it when the input is "
                   "free text in large volumes.",
    APPROACHES[1]: "classical supervised learning (logistic regression, gradient-boosted trees) "
                   "works on a table of hand-made features with a labelled outcome.",
    APPROACHES[2]: "collaborative filtering fills in a users x items matrix of ratings or "
                   "purchases from the behaviour of similar users.",
    APPROACHES[3]: "convolutional networks learn features from raw pixels: worth it when the "
                   "input is images or video.",
    APPROACHES[4]: "regression predicts a continuous quantity from a modest number of "
                   "measured input variables.",
}


@dataclass(frozen=True)
class TriageQuestion:
    """One problem statement of the triage quiz, its best-fitting approach and why.

    ``why_not`` holds specific feedback for tempting wrong choices; other wrong choices get
    the general note from :data:`APPROACH_NOTES`.
    """

    statement: str
    answer: str
    reasoning: str
    hint: str
    why_not: dict[str, str] = field(default_factory=dict)


TRIAGE_QUESTIONS: tuple[TriageQuestion, ...] = (
    TriageQuestion(
        statement="Sort large volumes of customer reviews and feedback to find areas of improvement.",
        answer=APPROACHES[0],
        reasoning="The input is raw, unstructured text in large volumes. Hand-made text "
                  "features (keyword counts) miss negation, sarcasm and context; deep NLP "
                  "models learn those features from the text itself, and the volume of data "
                  "is what they need.",
        hint="What kind of data is the input: a table of numbers, pixels, or free text?",
        why_not={APPROACHES[1]: "a classical classifier would first need someone to turn every "
                                "review into a table of hand-made features; the hard part here "
                                "is reading the text."},
    ),
    TriageQuestion(
        statement="Predict credit-default risk from historical transactions and customer profiles.",
        answer=APPROACHES[1],
        reasoning="The data is structured and tabular (amounts, balances, payment history, "
                  "income) with a labelled yes/no outcome: the classical setting of supervised "
                  "learning. Models such as logistic regression or gradient-boosted trees are "
                  "accurate here, cheap to train, and, importantly in lending, explainable to "
                  "customers and regulators.",
        hint="The input is a table, and a lender must be able to explain each decision.",
        why_not={APPROACHES[4]: "regression is also supervised learning, but the outcome here is "
                                "a class (default or not), not a continuous quantity.",
                 APPROACHES[0]: "there is no free text to read: the data is a structured table."},
    ),
    TriageQuestion(
        statement="Give personalised product recommendations on an e-commerce platform.",
        answer=APPROACHES[2],
        reasoning="The signal is the users x products matrix of purchases, clicks and ratings. "
                  "Collaborative filtering recommends what similar users liked, a well-proven "
                  "machine-learning method that needs no hand-labelled data. (Very large "
                  "platforms add deep models on top, but the core idea is this one.)",
        hint="What data does a shop have about every customer, whoever they are?",
        why_not={APPROACHES[1]: "there is no single labelled outcome to predict per row; the "
                                "information is in which users bought which items."},
    ),
    TriageQuestion(
        statement="Detect defects and anomalies on a production line.",
        answer=APPROACHES[3],
        reasoning="The input is camera images of products. Defects (scratches, cracks, "
                  "misalignments) are spatial patterns in raw pixels that are hard to describe "
                  "with hand-made features; convolutional networks learn them from examples.",
        hint="What does the inspection system look at?",
        why_not={APPROACHES[1]: "a classical classifier would need hand-made image features; "
                                "defects vary too much for that to work well."},
    ),
    TriageQuestion(
        statement="Predict urban air quality from atmospheric and weather parameters.",
        answer=APPROACHES[4],
        reasoning="The inputs are a handful of measured numbers (temperature, wind, humidity, "
                  "pressure, emissions) and the target is a continuous quantity (a pollutant "
                  "concentration or an air-quality index). Regression on these variables is "
                  "accurate, fast and interpretable; a deep network brings little on a small, "
                  "structured table.",
        hint="Is the target a category or a number on a scale?",
        why_not={APPROACHES[1]: "close: regression is supervised learning too, but the most "
                                "specific answer names the kind of target, a continuous "
                                "quantity."},
    ),
)


@dataclass(frozen=True)
class Feedback:
    """The quiz's answer to one choice: ``status`` is "unanswered", "correct" or "incorrect"."""

    status: str
    text: str


def triage_feedback(question: int, choice: str | None) -> Feedback:
    """Return the feedback for ``choice`` (one of :data:`APPROACHES`, or None) on question ``question``.

    Args:
        question: index into :data:`TRIAGE_QUESTIONS` (0 to 4).
        choice: the approach picked, or None when nothing is picked yet.

    Raises:
        IndexError: if ``question`` is out of range.
        ValueError: if ``choice`` is not one of :data:`APPROACHES`.
    """
    if not 0 <= question < len(TRIAGE_QUESTIONS):
        raise IndexError(f"question must be between 0 and {len(TRIAGE_QUESTIONS) - 1}, got {question}")
    q = TRIAGE_QUESTIONS[question]
    if choice is None:
        return Feedback("unanswered", "Not answered yet: pick the approach that fits best.")
    if choice not in APPROACHES:
        raise ValueError(f"choice must be one of {list(APPROACHES)}, got {choice!r}")
    if choice == q.answer:
        return Feedback("correct", f"Correct: {q.answer}. {q.reasoning}")
    why = q.why_not.get(choice, APPROACH_NOTES[choice])
    return Feedback("incorrect", f"Not the best fit: {why[0].upper()}{why[1:]} Hint: {q.hint}")


def triage_answers() -> str:
    """Return every question with its answer and reasoning, as plain text."""
    lines = []
    for i, q in enumerate(TRIAGE_QUESTIONS, start=1):
        lines += [f"{i}. {q.statement}", f"   -> {q.answer}", f"   {q.reasoning}", ""]
    return "\n".join(lines).rstrip()


_STATUS_STYLE = {"unanswered": ("#555555", ""), "correct": ("#009E73", "✔ "),
                 "incorrect": ("#D55E00", "✘ ")}


class InteractiveDemo:
    """Base of the course's demos: the live widget in Jupyter, a deterministic text everywhere else.

    A subclass sets ``self.widget`` and implements ``describe()``; other modules' demos (such as
    lesson 08's :class:`dlcourse.demos.overfit_explorer.OverfitExplorer`) build on it too.
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


class TriageQuiz(InteractiveDemo):
    """The lesson-01 quiz: one radio-button question per problem statement, with instant feedback.

    Attributes:
        controls: one ``RadioButtons`` per question (``value`` is the chosen approach or None).
        feedback: one ``HTML`` per question, rewritten whenever its answer changes.
        results: the :class:`Feedback` of each question, updated by the same callback.
    """

    def __init__(self, questions: tuple[TriageQuestion, ...] = TRIAGE_QUESTIONS) -> None:
        self.questions = questions
        self.controls = [widgets.RadioButtons(options=APPROACHES, value=None,
                                              layout=widgets.Layout(width="auto"))
                         for _ in questions]
        self.feedback = [widgets.HTML() for _ in questions]
        self.results = [triage_feedback(i, None) for i in range(len(questions))]
        self.score = widgets.HTML()
        boxes = []
        for i, (q, control) in enumerate(zip(questions, self.controls, strict=True)):
            control.observe(lambda change, i=i: self.update(i), names="value")
            title = widgets.HTML(f"<b>{i + 1}. {escape(q.statement)}</b>")
            boxes.append(widgets.VBox([title, control, self.feedback[i]]))
            self.update(i)
        self.widget = widgets.VBox([*boxes, self.score])

    def update(self, question: int) -> Feedback:
        """Recompute the feedback of one question from its control (the widget's callback)."""
        result = triage_feedback(question, self.controls[question].value)
        self.results[question] = result
        color, mark = _STATUS_STYLE[result.status]
        self.feedback[question].value = f'<span style="color:{color}">{mark}{escape(result.text)}</span>'
        self.score.value = f"<b>Score: {self.n_correct} of {len(self.questions)} correct.</b>"
        return result

    @property
    def n_correct(self) -> int:
        return sum(r.status == "correct" for r in self.results)

    @property
    def n_answered(self) -> int:
        return sum(r.status != "unanswered" for r in self.results)

    def describe(self) -> str:
        lines = [f"Triage quiz: {len(self.questions)} problem statements, {self.n_answered} answered, "
                 f"{self.n_correct} correct. Pick an approach for each in JupyterLab or Colab."]
        lines += [f"  {i}. {q.statement}" for i, q in enumerate(self.questions, start=1)]
        lines += ["Approaches:"] + [f"  - {a}" for a in APPROACHES]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The single-neuron explorer (lesson 02)
# ---------------------------------------------------------------------------------------------

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


class NeuronExplorer(InteractiveDemo):
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
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML()
        self.renders = 0
        for control in (self.w1, self.w2, self.b, self.activation):
            control.observe(lambda change: self.render(), names="value")
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

    def render(self) -> NeuronState:
        """Recompute the state and redraw the picture (the callback of every control)."""
        self.state = self.compute_state()
        fig = self.figure()
        self.image.value = _png(fig)
        self.status.value = escape(self._status_text())
        self.renders += 1
        return self.state

    def _status_text(self) -> str:
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
            ax.contour(x1, x2, s.w[0] * x1 + s.w[1] * x2 + s.b, levels=[0.0], colors="white",
                       linewidths=2)
            foot = -s.b * np.array(s.w) / (s.w[0] ** 2 + s.w[1] ** 2)
            ax.annotate("", xy=foot + 0.8 * np.array(s.w) / np.hypot(*s.w), xytext=foot,
                        arrowprops={"arrowstyle": "->", "color": "white", "lw": 2})
        for label, marker, color in ((0, "o", "#E69F00"), (1, "s", "#56B4E9")):
            pts = self.X[self.y == label]
            ax.scatter(pts[:, 0], pts[:, 1], marker=marker, c=color, edgecolors="black",
                       linewidths=0.5, s=25, label=f"class {label}")
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="input x1 (unitless)", ylabel="input x2 (unitless)",
               title=f"w = ({s.w[0]:.1f}, {s.w[1]:.1f}), b = {s.b:.1f}: boundary where z = 0")
        ax.legend(loc="lower right", frameon=True)
        fig.tight_layout()
        return fig

    def describe(self) -> str:
        s = self.state
        return (f"Neuron explorer (interactive in JupyterLab or Colab): w1={s.w[0]:.1f}, "
                f"w2={s.w[1]:.1f}, b={s.b:.1f}, activation={s.activation}; {self._status_text()}")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# The learning-rate explorer (lesson 03)
# ---------------------------------------------------------------------------------------------

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


class LearningRateExplorer(InteractiveDemo):
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
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML()
        self.renders = 0
        for control in (self.surface, self.lr, self.steps):
            control.observe(lambda change: self.render(), names="value")
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

    def render(self) -> DescentState:
        """Rerun gradient descent and redraw (the callback of every control)."""
        self.state = self.compute_state()
        self.image.value = _png(self.figure())
        self.status.value = escape(self._status_text())
        self.renders += 1
        return self.state

    def _status_text(self) -> str:
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
            ax.plot(x, [surface.f(np.array([v])) for v in x], color="#000000", lw=1.5, label="f(x)")
            ax.plot(shown[:, 0], [surface.f(p) for p in shown], "o-", color="#D55E00", ms=4,
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
            ax.plot(shown[:, 0], shown[:, 1], "o-", color="#D55E00", ms=4, lw=1,
                    label="gradient descent")
            ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="parameter x (unitless)",
                   ylabel="parameter y (unitless)")
        ax.plot(*([st.path[0, 0], surface.f(st.path[0])] if surface.dim == 1 else st.path[0]),
                "*", color="#009E73", ms=14, label="start")
        ax.set_title(f"{surface.name}\nlearning rate {st.lr:.3f}")
        ax.legend(loc="best", fontsize=8)
        steps = np.arange(len(st.losses))
        finite = np.isfinite(st.losses)
        ax_loss.plot(steps[finite], st.losses[finite], "o-", ms=3, color="#0072B2")
        if np.all(st.losses[finite] > 0):
            ax_loss.set_yscale("log")
        ax_loss.set(xlabel="step", ylabel="loss (unitless)",
                    title="diverged" if st.diverged else "loss per step")
        fig.tight_layout()
        return fig

    def describe(self) -> str:
        return (f"Learning-rate explorer (interactive in JupyterLab or Colab): {self.state.surface}; "
                f"{self._status_text()}")
