"""One plotting style for the whole course: readable, consistent, colour-blind safe.

:func:`dlcourse.lesson.start` applies :func:`use_course_style` at the top of every notebook. The
palette is Okabe & Ito's (2008) eight colours, distinguishable with the common forms of colour
blindness; it and the colour maps the course uses are defined in :mod:`dlcourse.plots.palette`.
Every figure should also carry a title, axis labels with units, and a one-line text summary
printed next to it (:func:`summary_line`), so a screen reader or a text log gets the point;
:func:`figure_problems` (or :func:`check_figure`) says what a figure still lacks, and
:func:`show` does all three at the end of a figure's cell: check, show, summarise.
"""

from __future__ import annotations

import re

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.figure import Figure

from dlcourse.plots.palette import COLORMAPS, OKABE_ITO

__all__ = ["OKABE_ITO", "COLORMAPS", "COURSE_STYLE", "use_course_style", "summary_line",
           "figure_problems", "check_figure", "figure_title", "show"]

#: The rcParams :func:`use_course_style` applies.
COURSE_STYLE: dict[str, object] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.frameon": False,
    "image.cmap": "viridis",  # perceptually uniform and colour-blind safe
    "svg.hashsalt": "dlcourse",  # deterministic SVG ids
}


#: An axis label ends with its unit in parentheses or brackets: "time (s)", "loss (unitless)".
_UNIT = re.compile(r"[(\[][^()\[\]]+[)\]]\s*$")
#: Counters need no unit: "epoch", "training step", "time steps".
_COUNTER = re.compile(r"^(training |time |optimizer )?(epoch|step|iteration|batch|update)s?$", re.I)


def use_course_style() -> None:
    """Apply the course's matplotlib style (palette, grid, sizes) to all later figures."""
    mpl.rcParams.update(COURSE_STYLE)


def summary_line(title: str, **values: float | int | str) -> str:
    """Return a one-line text summary of a figure, e.g. for a screen reader or a CI log.

    >>> summary_line("Training loss", start=2.3, end=0.41)
    'Figure: Training loss -- start=2.3, end=0.41'
    """
    parts = ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                      for key, value in values.items())
    return f"Figure: {title}" + (f" -- {parts}" if parts else "")


def _titles(ax) -> list[str]:
    """The axes' non-empty titles: centre, left, right."""
    return [title for loc in ("center", "left", "right") if (title := ax.get_title(loc=loc).strip())]


def _label(ax, axis: str) -> str:
    """The axes' own label, else that of an axes it shares this axis with (``sharey=True`` panels
    show one label for the row)."""
    own = ax.get_xlabel() if axis == "x" else ax.get_ylabel()
    if own.strip():
        return own
    shared = ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()
    labels = [other.get_xlabel() if axis == "x" else other.get_ylabel()
              for other in shared.get_siblings(ax)]
    return next((label for label in labels if label.strip()), "")


def figure_problems(fig: Figure) -> list[str]:
    """Return what keeps ``fig`` from being understood without seeing it well (empty when fine).

    The course's rules, checked on the figure object (not on pixels):

    - the figure has a title: its ``suptitle``, or a title on every axes that shows data;
    - every axes that shows data on visible axes (not image grids with ``axis("off")``) has an
      x label and a y label (its own, or that of a panel it shares the axis with), each ending
      with its unit in parentheses, e.g. ``"time (s)"``,
      ``"loss (unitless)"``; a counter (``"epoch"``, ``"step"``, ``"iteration"``) needs none;
    - every colour bar has a label (what the colours mean, with its unit).

    Args:
        fig: a matplotlib ``Figure`` (from ``plt.subplots()`` or ``matplotlib.figure.Figure``).

    Returns:
        One sentence per problem, naming the axes by its position (``axes 1`` is the first).
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"figure_problems() takes a matplotlib Figure, got {type(fig).__name__}; "
                        "pass the `fig` of `fig, ax = plt.subplots()`")
    problems = []
    has_suptitle = bool(fig.get_suptitle().strip())
    for number, ax in enumerate(fig.axes, start=1):
        name = f"axes {number}"
        if getattr(ax, "_colorbar", None) is not None:
            if not (ax.get_ylabel().strip() or ax.get_xlabel().strip()):
                problems.append(f"{name} is a colour bar without a label: "
                                "fig.colorbar(..., label='what the colours mean (unit)')")
            continue
        if not ax.has_data():
            continue
        if not (_titles(ax) or has_suptitle):
            problems.append(f"{name} has no title (and the figure has no suptitle): ax.set_title(...)")
        if not ax.axison:
            continue  # an image shown without axes: the title carries it
        for axis, label in (("x", _label(ax, "x")), ("y", _label(ax, "y"))):
            if not label.strip():
                problems.append(f"{name} has no {axis} label: ax.set_{axis}label('quantity (unit)')")
            elif not (_UNIT.search(label) or _COUNTER.match(label.strip())):
                problems.append(f"{name}'s {axis} label {label!r} gives no unit: end it with one in "
                                "parentheses, e.g. '(s)', '(nats)' or '(unitless)'")
    return problems


def check_figure(fig: Figure) -> Figure:
    """Raise ``ValueError`` listing :func:`figure_problems` when there are any; return ``fig``."""
    problems = figure_problems(fig)
    if problems:
        raise ValueError("this figure is not accessible yet:\n- " + "\n- ".join(problems))
    return fig


def figure_title(fig: Figure) -> str:
    """Return the title a reader sees: the ``suptitle``, else the axes' titles joined by ``"; "``."""
    if fig.get_suptitle().strip():
        return fig.get_suptitle().strip()
    return "; ".join(title for ax in fig.axes for title in _titles(ax))


def show(fig: Figure, **numbers: float | int | str) -> None:
    """Check that ``fig`` keeps the course's rules, show it, and print its one-line summary.

    The summary is :func:`summary_line` of the figure's own title (:func:`figure_title`) and the
    ``numbers`` the figure is about, e.g. ``show(fig, start=2.3, end=0.41)`` prints
    ``Figure: Training loss -- start=2.3, end=0.41``.

    Raises:
        ValueError: when the figure lacks a title, a label or a unit (:func:`check_figure`);
            nothing is shown then.
    """
    check_figure(fig)
    plt.show()
    print(summary_line(figure_title(fig), **numbers))
