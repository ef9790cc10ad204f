"""The course's colours: one palette for categories, a few named colour maps for values.

Every colour a figure or widget of the course uses comes from here (:mod:`dlcourse.plots.style`
re-exports :data:`OKABE_ITO` and applies it as matplotlib's colour cycle). This module imports
nothing, so a widget that only needs a colour does not load matplotlib.
"""

from __future__ import annotations

#: Okabe & Ito's (2008) colour-blind-safe palette: categories (lines, dots, bars) take these in
#: order; black, last, is for text, axes, reference lines and marks such as a mean or a centre.
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

#: The colour maps the course uses for values, each perceptually uniform (or, for signed
#: values, a colour-blind-safe diverging map), and what each is for.
COLORMAPS: dict[str, str] = {
    "viridis": "the default (matplotlib's image.cmap in the course style): matrices, surfaces, maps",
    "magma": "magnitudes where the largest values should glow (saliency)",
    "PuOr": "signed values centred on zero (weights, filters), with symmetric limits",
    "gray": "grey images shown as they are (light on dark: Fashion-MNIST)",
    "gray_r": "grey images as ink on paper (dark on light: the digits)",
}

#: Drawn on top of a colour map for contrast only (text, outlines), never to encode a category.
CONTRAST = ("white", "black")
