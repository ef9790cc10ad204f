"""Accessible figures: a colour-blind learner and a screen-reader user get the point of a picture.

- The course style's colours are the Okabe-Ito palette (checked against the published hex values,
  typed in here) and its colour map is perceptually uniform.
- ``dlcourse.plots.style.figure_problems`` finds figures without a title, axis labels or units, and
  every figure that dlcourse itself draws (the interactive demos' pictures) passes it.

Lessons can call ``check_figure(fig)`` on a figure. That every picture in a committed notebook
comes with a text summary is checked in tests/notebooks/test_notebook_accessibility.py.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from dlcourse.plots.style import COURSE_STYLE, check_figure, figure_problems, use_course_style

#: Okabe & Ito (2008), "Color Universal Design": the eight colours, as published (sRGB hex).
OKABE_ITO_PUBLISHED = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
                       "#CC79A7"}
#: matplotlib's perceptually uniform colour maps, readable with colour-vision deficiencies.
UNIFORM_CMAPS = {"viridis", "cividis", "magma", "inferno", "plasma"}


def test_course_style_cycles_through_the_okabe_ito_palette():
    colors = [c.upper() for c in COURSE_STYLE["axes.prop_cycle"].by_key()["color"]]
    assert set(colors) <= OKABE_ITO_PUBLISHED, f"not Okabe-Ito: {set(colors) - OKABE_ITO_PUBLISHED}"
    assert len(set(colors)) == len(colors) >= 7, "use (nearly) all of the palette, each colour once"
    assert COURSE_STYLE["image.cmap"] in UNIFORM_CMAPS
    use_course_style()
    fig, ax = plt.subplots()
    drawn = [ax.plot([0, 1], [0, k])[0].get_color().upper() for k in range(len(colors))]
    plt.close(fig)
    assert drawn == colors, "use_course_style() did not apply the palette"


def _good_figure() -> Figure:
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1, 2], [3.0, 1.0, 0.5])
    ax.set(title="Training loss", xlabel="epoch", ylabel="loss (nats)")
    return fig


def test_a_labelled_figure_passes():
    fig = _good_figure()
    assert figure_problems(fig) == []
    assert check_figure(fig) is fig


@pytest.mark.parametrize(("change", "expected"), [
    ({"title": ""}, "axes 1 has no title"),
    ({"xlabel": ""}, "axes 1 has no x label"),
    ({"ylabel": "loss"}, "axes 1's y label 'loss' gives no unit"),
    ({"xlabel": "time (s) of day"}, "axes 1's x label 'time (s) of day' gives no unit"),
    ({"xlabel": "epochal change"}, "axes 1's x label 'epochal change' gives no unit"),
])
def test_a_missing_title_label_or_unit_is_named(change, expected):
    fig = _good_figure()
    fig.axes[0].set(**change)
    problems = figure_problems(fig)
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    with pytest.raises(ValueError, match="not accessible yet"):
        check_figure(fig)


def test_suptitle_image_grids_and_colour_bars():
    fig = Figure()
    axes = fig.subplots(1, 3)
    for ax in axes[:2]:
        ax.imshow(np.eye(3))
        ax.axis("off")  # image panels need no axis labels
    mesh = axes[2].pcolormesh(np.eye(3))
    axes[2].set(xlabel="column (index)", ylabel="row (index)")
    colorbar = fig.colorbar(mesh, ax=axes[2])
    problems = figure_problems(fig)
    assert problems[:3] == [f"axes {i} has no title (and the figure has no suptitle): ax.set_title(...)"
                            for i in (1, 2, 3)]
    assert len(problems) == 4 and problems[3].startswith("axes 4 is a colour bar without a label")
    fig.suptitle("Identity matrices")
    colorbar.set_label("value (unitless)")
    assert figure_problems(fig) == []


def test_figure_problems_rejects_what_is_not_a_figure():
    with pytest.raises(TypeError, match="takes a matplotlib Figure"):
        figure_problems(plt.subplots()[1])
    plt.close("all")


def _neuron_figures():
    from dlcourse.demos.neuron_explorer import NeuronExplorer

    return [NeuronExplorer(w1=w, w2=w, activation=a).figure()
            for a in ("sigmoid", "relu") for w in (1.0, 0.0)]


def _lr_explorer_figures():
    from dlcourse.demos.learning_rate_explorer import SURFACES, LearningRateExplorer

    return [LearningRateExplorer(surface=s, lr=lr).figure() for s in SURFACES for lr in (0.1, 1.2)]


def _history_figures():
    from dlcourse.pytorch.training import History, plot_history

    records = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 10, "val_loss": 1.2 / e,
                "val_acc": 0.4 + e / 10} for e in (1, 2, 3)]
    return [plot_history(History(records))]


def _gan_figures():
    from dlcourse.pytorch.gan import GanRun, plot_ring_snapshots

    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    centres = 2 * np.c_[np.cos(angles), np.sin(angles)]
    points = np.repeat(centres, 10, axis=0) + 0.05
    fig = Figure()
    plot_ring_snapshots(GanRun(snapshots={0: points, 100: points}), centres, 0.05, axes=fig.subplots(1, 2))
    return [fig]


#: Every function of dlcourse that draws a figure for the learner, with a few typical inputs.
DLCOURSE_FIGURES = {"NeuronExplorer.figure": _neuron_figures,
                    "LearningRateExplorer.figure": _lr_explorer_figures,
                    "training.plot_history": _history_figures,
                    "gan.plot_ring_snapshots": _gan_figures}


@pytest.mark.parametrize("name", DLCOURSE_FIGURES)
def test_figures_drawn_by_dlcourse_are_accessible(name):
    found = {problem for fig in DLCOURSE_FIGURES[name]() for problem in figure_problems(fig)}
    plt.close("all")
    assert not found, f"{name}: " + "; ".join(sorted(found))
