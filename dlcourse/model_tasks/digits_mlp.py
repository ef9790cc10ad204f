"""Exercise 05's digit classifier: a NumPy MLP that reads handwritten digits.

The exercise fixes the network, ``mlp([64, 128, 64, 10])`` of :mod:`dlcourse.numpy_nn.layers`
(ReLU between the layers, logits out), and its data, :func:`dlcourse.data.digits.digits_split`.
The trained network is measured on that split's 450 test images. They come with scikit-learn, so
a graded kernel can read them too (the exercise's own cell loads them): nothing is held out, and
what the grade rests on is that the grader's process, not the kernel, runs the network on them.
The test cell trains the network, so its time budget is the training's: two minutes, as the
exercise says.
"""

from __future__ import annotations

import numpy as np

from dlcourse.data.digits import digits_split
from dlcourse.model_tasks.task import ModelTask, Requirement
from dlcourse.numpy_nn.layers import Sequential, mlp

SIZES = (64, 128, 64, 10)
#: The test accuracy the exercise asks for.
ACCURACY = 0.97


def build() -> Sequential:
    """The network the exercise trains: ``(N, 64)`` pixels to ``(N, 10)`` logits."""
    return mlp(list(SIZES))


def state(model: Sequential) -> dict[str, np.ndarray]:
    """The network's parameters by name (``"0.W"``, ``"0.b"``, ``"2.W"``, ...)."""
    return model.state_dict()


def load(model: Sequential, arrays: dict[str, np.ndarray]) -> None:
    model.load_state_dict(arrays)


def measure(model: Sequential) -> dict[str, float]:
    """Accuracy on the test split (450 images)."""
    split = digits_split()
    return {"test accuracy": float(np.mean(model.forward(split.X_test).argmax(axis=1)
                                           == split.y_test))}


TASK = ModelTask(
    name="digits_mlp", architecture="mlp([64, 128, 64, 10])", build=build, measure=measure,
    requirements=(Requirement("test accuracy", at_least=ACCURACY),), seconds=120.0,
    state=state, load=load)
