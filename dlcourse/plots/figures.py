"""The figures several lessons draw: a confusion matrix, an image grid, a per-seed dot plot.

Each was a cell copied between notebooks (lessons 05, 07 and 09 drew the confusion matrix,
lessons 11a and 11b the dot plot); here each is one function, so the lessons draw them alike.
The numbers behind a figure come from a plain function that the tests check
(:func:`confusion_matrix`, :func:`tile_images`); the ``plot_``/``show_`` function draws them on
a matplotlib ``Axes`` you pass in, and leaves titles you did not ask for to you.

Colours come from :mod:`dlcourse.plots.palette`: the Okabe-Ito palette for categories, the course's
``image.cmap`` (viridis, perceptually uniform and colour-blind safe) for matrices, and grey levels
(``"gray"`` / ``"gray_r"``, perceptually uniform too) for images that are themselves grey.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlcourse.plots.palette import CONTRAST, OKABE_ITO

__all__ = ["confusion_matrix", "plot_confusion_matrix", "tile_images", "show_grid", "plot_per_seed"]


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     n_classes: int | None = None) -> np.ndarray:
    """Count, for each true class (row), how often each class was predicted (column).

    Args:
        y_true: ``(N,)`` true class indices in ``[0, n_classes)``.
        y_pred: ``(N,)`` predicted class indices, the same length.
        n_classes: the number of classes C (default: the largest index seen, plus one).

    Returns:
        int64 array ``(C, C)``; ``confusion[i, j]`` counts the examples of class ``i`` predicted
        as ``j``, so the diagonal holds the correct answers and each row sums to the class size.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"y_true and y_pred must be 1-D class indices of the same length (N,); "
                         f"got shapes {y_true.shape} and {y_pred.shape}. Take argmax(axis=1) of "
                         "scores (N, C) first.")
    if y_true.size and not (np.issubdtype(y_true.dtype, np.integer)
                            and np.issubdtype(y_pred.dtype, np.integer)):
        raise ValueError(f"class indices must be integers, got {y_true.dtype} and {y_pred.dtype}.")
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)  # uint8 labels too
    seen = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    lowest = int(min(y_true.min(initial=0), y_pred.min(initial=0)))
    n_classes = seen if n_classes is None else int(n_classes)
    if n_classes < 1 or seen > n_classes or lowest < 0:
        raise ValueError(f"class indices must lie in [0, n_classes={n_classes}); got values from "
                         f"{lowest} to {seen - 1}.")
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    return confusion


def plot_confusion_matrix(ax: Any, confusion: np.ndarray, class_names: Sequence[str] | None = None,
                          *, normalize: bool = True, annotate: bool = False,
                          title: str = "Confusion matrix (rows: true class)",
                          xlabel: str | None = None, ylabel: str | None = None) -> Any:
    """Draw a confusion matrix on ``ax``: rows are true classes, columns predicted ones.

    Args:
        ax: a matplotlib ``Axes``.
        confusion: ``(C, C)`` counts, e.g. from :func:`confusion_matrix`.
        class_names: C tick labels (default: the class indices ``0 .. C-1``); long names are
            rotated.
        normalize: colour each row by its fraction of the true class (in [0, 1], with a colour
            bar); ``False``: colour by the counts themselves, without a colour bar.
        annotate: write each non-zero count in its cell.
        title, xlabel, ylabel: the axes' texts (default: ``"predicted class (name)"`` and
            ``"true class (name)"``, or ``(index)`` without class names: labels that
            :func:`dlcourse.plots.style.show` accepts).

    Returns:
        The ``AxesImage``.
    """
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or confusion.shape[0] == 0:
        raise ValueError(f"confusion must be a square (C, C) matrix of counts, got shape {confusion.shape}.")
    n = confusion.shape[0]
    if class_names is not None and len(class_names) != n:
        raise ValueError(f"{len(class_names)} class names for a {n}x{n} confusion matrix.")
    if normalize:
        totals = confusion.sum(axis=1, keepdims=True)
        shown = confusion / np.where(totals == 0, 1, totals)
        image = ax.imshow(shown, vmin=0, vmax=1)
        ax.figure.colorbar(image, ax=ax, label="fraction of the true class")
    else:
        shown = confusion
        image = ax.imshow(shown)
    if annotate:
        high = shown.max() / 2  # viridis is dark at the bottom: white text there, black on top
        for i, j in zip(*np.nonzero(confusion), strict=True):
            ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=8,
                    color=CONTRAST[0] if shown[i, j] < high else CONTRAST[1])
    if class_names is None:
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
    else:
        ax.set_xticks(range(n), class_names, rotation=60, ha="right")
        ax.set_yticks(range(n), class_names)
    kind = "index" if class_names is None else "name"
    ax.set(title=title, xlabel=xlabel or f"predicted class ({kind})", ylabel=ylabel or f"true class ({kind})")
    ax.grid(False)
    return image


def tile_images(images: np.ndarray, ncols: int = 8, gap: int = 1, fill: float = 0.0) -> np.ndarray:
    """Tile images into one picture, ``ncols`` per row, row by row, with ``gap`` pixels between.

    Image ``k`` goes to row ``k // ncols`` and column ``k % ncols``; its top-left pixel lands at
    ``(row * (H + gap), column * (W + gap))``. Cells past the last image, and the gaps, hold ``fill``.

    Args:
        images: ``(n, H, W)`` grey images (reshape flat ones first: ``x.reshape(-1, H, W)``).
        ncols: images per row.
        gap: pixels between neighbours.
        fill: the value of the gaps (the background colour's value).

    Returns:
        float array ``(nrows * (H + gap) - gap, ncols * (W + gap) - gap)`` with
        ``nrows = ceil(n / ncols)``.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must be (n, H, W) with n >= 1, got shape {images.shape}; "
                         "reshape flat images first: x.reshape(-1, H, W).")
    if ncols < 1 or gap < 0:
        raise ValueError(f"need ncols >= 1 and gap >= 0, got ncols={ncols}, gap={gap}.")
    n, height, width = images.shape
    nrows = -(-n // ncols)
    canvas = np.full((nrows * (height + gap) - gap, ncols * (width + gap) - gap), float(fill))
    for k, image in enumerate(images):
        top, left = (k // ncols) * (height + gap), (k % ncols) * (width + gap)
        canvas[top:top + height, left:left + width] = image
    return canvas


def show_grid(ax: Any, images: np.ndarray, ncols: int = 8, title: str = "", *,
              vmin: float = -1.0, vmax: float = 1.0, cmap: str = "gray_r") -> Any:
    """Show ``(n, H, W)`` images as one grid on ``ax`` (see :func:`tile_images`), without ticks.

    The gaps take the value ``vmin`` (the background). ``cmap``: ``"gray_r"`` draws high values
    dark (ink on paper, the digits), ``"gray"`` draws them light (Fashion-MNIST's garments).
    Returns the ``AxesImage``.
    """
    image = ax.imshow(tile_images(images, ncols, gap=1, fill=vmin), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)
    return image


def plot_per_seed(ax: Any, values: Mapping[str, Sequence[float]], *, title: str, xlabel: str,
                  xlim: tuple[float, float] | None = None, ylabel: str = "setting (one row each)") -> None:
    """One row per setting: a dot per seed's result, a black bar at their mean.

    The honest picture of a few seeds: the spread is visible, not only the mean. Row ``i`` (from
    the bottom) is the ``i``-th setting, in colour ``OKABE_ITO[i]``.

    Args:
        ax: a matplotlib ``Axes``.
        values: ``{setting name: [result of seed 0, seed 1, ...]}``, at least one result each.
        title, xlabel: the axes' texts (say how many seeds, and the unit).
        xlim: the x range (default: matplotlib's).
        ylabel: what the rows are (the default keeps the course's figure rules).
    """
    if not values:
        raise ValueError("values is empty: pass {setting name: [one result per seed]}.")
    if len(values) > len(OKABE_ITO) - 1:  # black is kept for the mean bars
        raise ValueError(f"{len(values)} settings, but the palette has {len(OKABE_ITO) - 1} colours "
                         "for dots; split the plot.")
    for i, (name, results) in enumerate(values.items()):
        results = np.asarray(results, dtype=np.float64)
        if results.ndim != 1 or len(results) == 0:
            raise ValueError(f"setting {name!r}: need a 1-D list of per-seed results, "
                             f"got shape {results.shape}.")
        ax.scatter(results, np.full(len(results), i), s=60, alpha=0.7, color=OKABE_ITO[i], zorder=3)
        ax.plot([results.mean()] * 2, [i - 0.3, i + 0.3], color=OKABE_ITO[-1], lw=2)
    ax.set_yticks(range(len(values)), list(values))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if xlim is not None:
        ax.set_xlim(xlim)
