"""Exercise 09b's fine-tuned model: a pretrained body and a new head for five new classes.

The exercise fixes the network, ``nn.Sequential(body, nn.Linear(1568, 5))`` with ``body`` lesson
09c's residual CNN without its classifier (:func:`dlcourse.pytorch.transfer.make_body`), images
``(B, 1, 28, 28)`` to logits ``(B, 5)`` over the new classes sandal, shirt, sneaker, bag and ankle
boot (:data:`~dlcourse.pytorch.transfer.NEW_CLASSES`, renumbered 0 to 4). The trained model is
measured here, in eval mode, on the 500 validation images the exercise draws from the training
split (``split_for_transfer(train, val_per_class=100, rng=0)``) and on the new classes' images of
the committed subset's test split, which a graded kernel cannot read.

The exercise's budget of 40 batches is counted in the learner's kernel, where the grader cannot
see it; what the grader observes is the test cell's time, :data:`SECONDS`.
"""

from __future__ import annotations

from functools import lru_cache

from torch import nn

from dlcourse.data.fashion_mnist import load_fashion_mnist, test_split_files
from dlcourse.model_tasks.task import ModelTask, Requirement
from dlcourse.pytorch.training import TensorBatches, evaluate
from dlcourse.pytorch.transfer import NEW_CLASSES, class_images, make_body, split_for_transfer

#: The exercise's requirements: on its validation images, and on the new classes' test images.
VAL_ACCURACY, TEST_ACCURACY = 0.835, 0.82
#: The test cell's time budget: the solution's 40 batches take about 1 s on a 2-core machine, a
#: few seconds when it is loaded (a grader runs two kernels at a time).
SECONDS = 15.0


def build() -> nn.Sequential:
    """The network the exercise trains: the body ``(B, 1, 28, 28) -> (B, 1568)``, a linear head."""
    return nn.Sequential(make_body(), nn.Linear(1568, len(NEW_CLASSES)))


@lru_cache(maxsize=1)
def _batches() -> tuple[TensorBatches, TensorBatches]:
    data = split_for_transfer(load_fashion_mnist("train", size="subset"), val_per_class=100, rng=0)
    test = class_images(load_fashion_mnist("test", size="subset"), NEW_CLASSES)
    return TensorBatches(data.val_x, data.val_y, 500), TensorBatches(*test, 1000)


def measure(model: nn.Module) -> dict[str, float]:
    """Accuracy on the validation images and on the new classes' test images, in eval mode."""
    val, test = _batches()
    return {"validation accuracy": evaluate(model, val)["acc"],
            "test accuracy": evaluate(model, test)["acc"]}


TASK = ModelTask(
    name="fine_tune",
    architecture="nn.Sequential(body, nn.Linear(1568, 5)), body = transfer.make_body()",
    build=build, measure=measure,
    requirements=(Requirement("validation accuracy", at_least=VAL_ACCURACY),
                  Requirement("test accuracy", at_least=TEST_ACCURACY)),
    seconds=SECONDS, held_out=test_split_files)
