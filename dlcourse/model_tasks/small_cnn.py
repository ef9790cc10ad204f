"""Exercise 09's small CNN, trained on the committed Fashion-MNIST subset.

The exercise fixes the network, lesson 09's CNN with a hidden dense layer of 64 units,
``small_cnn((16, 32), hidden=64)`` (:mod:`dlcourse.pytorch.models`): ``Conv2d(1, 16, 3, padding=1),
ReLU, MaxPool2d(2), Conv2d(16, 32, 3, padding=1), ReLU, MaxPool2d(2), Flatten, Linear(1568, 64),
ReLU, Linear(64, 10)``, images ``(B, 1, 28, 28)`` to logits ``(B, 10)``. The trained model is
measured here on the committed subset's 2,000 test images, which a graded kernel cannot read.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from dlcourse.data.fashion_mnist import load_fashion_mnist, test_split_files
from dlcourse.model_tasks.task import ModelTask, Requirement
from dlcourse.pytorch.models import small_cnn
from dlcourse.pytorch.training import TensorBatches, evaluate, images_to_tensor

#: What the exercise asks for (lesson 07's MLP reached 0.855).
TEST_ACCURACY = 0.86
#: The test cell's time budget, training included: the exercise asks for under a minute of
#: training; the solution's takes about 15 s on a 2-core machine, and 70 s when the machine's
#: load average is 8 (several graders and test suites at once).
SECONDS = 120.0


def build() -> nn.Sequential:
    """The network the exercise trains: ``(B, 1, 28, 28)`` to logits ``(B, 10)``."""
    return small_cnn((16, 32), hidden=64)


@lru_cache(maxsize=1)
def _test_batches() -> TensorBatches:
    test = load_fashion_mnist("test", size="subset")
    return TensorBatches(images_to_tensor(test.images), torch.as_tensor(test.labels, dtype=torch.int64),
                         1000)


def measure(model: nn.Module) -> dict[str, float]:
    """Accuracy on the 2,000 test images, in eval mode."""
    return {"test accuracy": evaluate(model, _test_batches())["acc"]}


TASK = ModelTask(
    name="small_cnn",
    architecture="small_cnn((16, 32), hidden=64): Conv2d(1, 16, 3, padding=1), ReLU, MaxPool2d(2), "
                 "Conv2d(16, 32, 3, padding=1), ReLU, MaxPool2d(2), Flatten, Linear(1568, 64), ReLU, "
                 "Linear(64, 10)",
    build=build, measure=measure, requirements=(Requirement("test accuracy", at_least=TEST_ACCURACY),),
    seconds=SECONDS, held_out=test_split_files)
