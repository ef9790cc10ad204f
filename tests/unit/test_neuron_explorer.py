"""Lesson 02's neuron explorer: move a slider as a learner would, check the callback's result."""

import numpy as np
import pytest

from dlcourse.demos.neuron_explorer import NeuronExplorer


def test_neuron_boundary_moves_when_the_bias_changes():
    explorer = NeuronExplorer(w1=1.0, w2=0.0, b=0.0)
    assert explorer.state.offset == pytest.approx(0.0)
    before_image, before_renders = explorer.image.value, explorer.renders
    explorer.b.value = 1.5
    # w = (1, 0): the boundary is the vertical line x1 = -b / w1 = -1.5.
    assert explorer.state.offset == pytest.approx(-1.5)
    assert explorer.renders == before_renders + 1
    assert explorer.image.value != before_image
    assert "b=1.5" in repr(explorer)


def test_neuron_accuracy_matches_a_direct_count():
    explorer = NeuronExplorer(w1=0.5, w2=-2.0, b=0.3)
    X, y = explorer.X, explorer.y
    expected = np.mean([(0.5 * a - 2.0 * c + 0.3 > 0) == label for (a, c), label in zip(X, y, strict=True)])
    assert explorer.state.accuracy == pytest.approx(expected)
    explorer.w1.value, explorer.w2.value = 1.0, 1.0
    assert explorer.state.accuracy > 0.9  # the blobs lie on either side of x1 + x2 = 0


def test_neuron_without_weights_has_no_boundary_and_activation_changes_the_picture():
    explorer = NeuronExplorer(w1=0.0, w2=0.0, b=0.5)
    assert explorer.state.offset is None and "no boundary" in repr(explorer)
    explorer.w1.value = 1.0
    before = explorer.image.value
    explorer.activation.value = "relu"
    assert explorer.state.activation == "relu" and explorer.image.value != before
    with pytest.raises(ValueError, match="activation must be one of"):
        NeuronExplorer(activation="softmax")
