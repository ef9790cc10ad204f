"""Lesson 03's learning-rate explorer and its gradient-descent loop, checked against closed forms."""

import numpy as np
import pytest

from dlcourse.demos.learning_rate_explorer import SURFACES, LearningRateExplorer, descent_path


def test_descent_path_matches_the_closed_form_on_a_bowl():
    # On f(x) = x^2 each step multiplies x by (1 - 2 lr).
    path = descent_path(lambda p: 2 * p, np.array([2.0]), lr=0.1, steps=5)
    assert path.shape == (6, 1)
    np.testing.assert_allclose(path[:, 0], 2.0 * 0.8 ** np.arange(6))
    with pytest.raises(ValueError, match="positive"):
        descent_path(lambda p: 2 * p, np.array([2.0]), lr=0.0, steps=5)


def test_lr_explorer_converges_for_a_small_rate_and_diverges_for_a_large_one():
    explorer = LearningRateExplorer(lr=0.1, steps=30)
    assert not explorer.state.diverged
    assert explorer.state.final_loss < 1e-3
    image, renders = explorer.image.value, explorer.renders
    explorer.lr.value = 1.2  # above 2 / curvature = 1 for f(x) = x^2
    assert explorer.state.diverged and "DIVERGED" in explorer.status.value
    assert explorer.renders == renders + 1 and explorer.image.value != image  # one redraw
    assert explorer.state.final_loss > explorer.state.losses[0]


def test_lr_explorer_valley_threshold_and_steps():
    name = "2-D valley: f(x, y) = (x² + 10 y²) / 2"
    assert name in SURFACES
    explorer = LearningRateExplorer(surface=name, lr=0.19, steps=60)
    assert not explorer.state.diverged  # below 2 / 10
    explorer.lr.value = 0.21  # above 2 / 10: the steep direction blows up
    assert explorer.state.diverged
    explorer.lr.value = 0.1
    explorer.steps.value = 7
    assert len(explorer.state.path) == 8 and explorer.state.path.shape[1] == 2


def test_lr_explorer_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    for surface in SURFACES.values():
        p = rng.normal(size=surface.dim)
        h = 1e-6
        numeric = [(surface.f(p + h * e) - surface.f(p - h * e)) / (2 * h) for e in np.eye(surface.dim)]
        np.testing.assert_allclose(surface.grad(p), numeric, rtol=1e-5, atol=1e-7)
