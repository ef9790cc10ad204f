"""One plotting style for the whole course: readable, consistent, colour-blind safe.

Call :func:`use_course_style` once at the top of a notebook. The palette is Okabe & Ito's
(2008) eight colours, distinguishable with the common forms of colour blindness.
Every figure should also carry a title, axis labels with units, and a one-line text summary
printed next to it (:func:`summary_line`), so a screen reader or a text log gets the point.
"""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

#: Okabe-Ito colour-blind-safe palette (black first is omitted: it is kept for text and axes).
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

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
