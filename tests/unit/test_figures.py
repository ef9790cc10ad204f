"""The recurring figures (dlcourse.plots.figures): their numbers, their layout, their errors."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import to_hex
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from dlcourse.plots.figures import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_per_seed,
    show_grid,
    tile_images,
)
from dlcourse.plots.style import OKABE_ITO, figure_problems


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Confusion matrix
# --------------------------------------------------------------------------------------------

def test_confusion_matrix_counts_like_sklearn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, size=500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 10, size=500))
    confusion = confusion_matrix(y_true, y_pred, 10)
    np.testing.assert_array_equal(confusion, sklearn_confusion_matrix(y_true, y_pred, labels=range(10)))
    assert confusion.sum() == 500
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(y_true, minlength=10))
    assert np.trace(confusion) == np.sum(y_true == y_pred)


def test_confusion_matrix_rows_are_true_classes_and_unseen_classes_are_zero():
    confusion = confusion_matrix([0, 0, 1], [1, 1, 1], n_classes=4)
    np.testing.assert_array_equal(confusion, [[0, 2, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert confusion.dtype == np.int64
    assert confusion_matrix([2], [0]).shape == (3, 3)  # default: largest index + 1
    labels = np.array([0, 1, 9], dtype=np.uint8)  # as the Fashion-MNIST loader returns them
    np.testing.assert_array_equal(confusion_matrix(labels, labels.astype(np.int64), 10),
                                  np.diag([1, 1] + [0] * 7 + [1]))


@pytest.mark.parametrize(("y_true", "y_pred", "n_classes", "match"), [
    ([0, 1], [0], 2, r"same length \(N,\)"),
    (np.zeros((3, 10), dtype=int), np.zeros((3, 10), dtype=int), 10, "argmax"),
    ([0.0, 1.0], [0.0, 1.0], 2, "must be integers"),
    ([0, 5], [0, 1], 3, r"\[0, n_classes=3\)"),
    ([0, -1], [0, 1], 3, r"\[0, n_classes=3\)"),
])
def test_confusion_matrix_refuses_wrong_input(y_true, y_pred, n_classes, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(y_true, y_pred, n_classes)


def test_plot_confusion_matrix_normalises_rows(ax):
    confusion = np.array([[3, 1], [0, 4]])
    image = plot_confusion_matrix(ax, confusion, ["cat", "dog"])
    np.testing.assert_allclose(image.get_array(), [[0.75, 0.25], [0.0, 1.0]])
    assert image.get_clim() == (0, 1)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert len(ax.figure.axes) == 2, "a normalised matrix gets a colour bar"
    assert ax.figure.axes[1].get_ylabel() == "fraction of the true class"


def test_plot_confusion_matrix_annotates_counts(ax):
    confusion = np.array([[30, 0], [2, 28]])
    image = plot_confusion_matrix(ax, confusion, normalize=False, annotate=True)
    np.testing.assert_array_equal(image.get_array(), confusion)
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert texts == {((0, 0), "30"), ((1, 1), "28"), ((0, 1), "2")}, "non-zero counts, at (column, row)"
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours["2"] == "white" and colours["30"] == "black", "readable on viridis"
    assert len(ax.figure.axes) == 1


@pytest.mark.parametrize(("confusion", "names", "match"), [
    (np.zeros((2, 3)), None, r"square \(C, C\)"),
    (np.zeros(4), None, r"square \(C, C\)"),
    (np.zeros((2, 2)), ["a", "b", "c"], "3 class names for a 2x2"),
])
def test_plot_confusion_matrix_refuses_wrong_shapes(ax, confusion, names, match):
    with pytest.raises(ValueError, match=match):
        plot_confusion_matrix(ax, confusion, names)


# --------------------------------------------------------------------------------------------
# Image grid
# --------------------------------------------------------------------------------------------

def test_tile_images_places_each_image_row_by_row():
    images = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3) + 1  # 5 images of 2x3, all > 0
    canvas = tile_images(images, ncols=3, gap=1, fill=-1)
    assert canvas.shape == (2 * 3 - 1, 3 * 4 - 1)  # 2 rows of 2+1, 3 columns of 3+1, no end gap
    for k in range(5):
        top, left = (k // 3) * 3, (k % 3) * 4
        np.testing.assert_array_equal(canvas[top:top + 2, left:left + 3], images[k])
    assert np.all(canvas[2, :] == -1) and np.all(canvas[:, 3] == -1), "gaps hold the fill value"
    assert np.all(canvas[3:, 8:] == -1), "the cell after the last image is empty"
    assert canvas.sum() == images.sum() - (canvas == -1).sum()


def test_tile_images_without_gap_is_a_plain_block_matrix():
    images = np.arange(4 * 2 * 2, dtype=float).reshape(4, 2, 2)
    np.testing.assert_array_equal(tile_images(images, ncols=2, gap=0),
                                  np.block([[images[0], images[1]], [images[2], images[3]]]))


@pytest.mark.parametrize(("images", "ncols", "match"), [
    (np.zeros((4, 64)), 2, r"\(n, H, W\).*reshape"),
    (np.zeros((0, 8, 8)), 2, "n >= 1"),
    (np.zeros((4, 8, 8)), 0, "ncols >= 1"),
])
def test_tile_images_refuses_wrong_shapes(images, ncols, match):
    with pytest.raises(ValueError, match=match):
        tile_images(images, ncols)


def test_show_grid_draws_the_tiled_canvas_on_the_background_value(ax):
    images = np.ones((3, 4, 4))
    image = show_grid(ax, images, ncols=2, title="three")
    np.testing.assert_array_equal(image.get_array(), tile_images(images, 2, gap=1, fill=-1.0))
    assert image.get_clim() == (-1.0, 1.0)
    assert ax.get_title() == "three" and list(ax.get_xticks()) == []


# --------------------------------------------------------------------------------------------
# Per-seed dot plot
# --------------------------------------------------------------------------------------------

def test_plot_per_seed_puts_one_row_per_setting_and_a_bar_at_the_mean(ax):
    values = {"a": [1.0, 3.0], "b": [5.0, 6.0, 10.0]}
    plot_per_seed(ax, values, title="t", xlabel="score (unitless)", xlim=(0, 11))
    dots = ax.collections
    np.testing.assert_array_equal(dots[0].get_offsets(), [[1, 0], [3, 0]])
    np.testing.assert_array_equal(dots[1].get_offsets(), [[5, 1], [6, 1], [10, 1]])
    assert [to_hex(d.get_facecolor()[0]) for d in dots] == [c.lower() for c in OKABE_ITO[:2]]
    bars = ax.lines
    assert [tuple(line.get_xdata()) for line in bars] == [(2.0, 2.0), (7.0, 7.0)]
    assert [tuple(line.get_ydata()) for line in bars] == [(-0.3, 0.3), (0.7, 1.3)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert ax.get_xlim() == (0, 11)


@pytest.mark.parametrize(("values", "match"), [
    ({}, "empty"),
    ({"a": []}, "setting 'a'.*1-D"),
    ({"a": [[1, 2]]}, "setting 'a'.*1-D"),
    ({str(k): [1.0] for k in range(8)}, "8 settings"),
])
def test_plot_per_seed_refuses_wrong_input(ax, values, match):
    with pytest.raises(ValueError, match=match):
        plot_per_seed(ax, values, title="t", xlabel="x (unitless)")


@pytest.mark.parametrize(("names", "kind"), [(None, "index"), (["a", "b"], "name")])
def test_plot_confusion_matrix_defaults_keep_the_figure_rules(ax, names, kind):
    plot_confusion_matrix(ax, np.array([[3, 1], [0, 4]]), names)
    assert (ax.get_xlabel(), ax.get_ylabel()) == (f"predicted class ({kind})", f"true class ({kind})")
    assert figure_problems(ax.figure) == []


def test_plot_per_seed_keeps_the_figure_rules_by_default(ax):
    plot_per_seed(ax, {"a": [0.5, 0.6], "b": [0.7]}, title="Accuracy by setting (2 seeds)",
                  xlabel="accuracy (fraction correct)")
    assert ax.get_ylabel() == "setting (one row each)" and figure_problems(ax.figure) == []
