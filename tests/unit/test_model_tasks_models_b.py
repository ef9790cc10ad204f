"""The Fashion-MNIST model tasks of exercises 08, 09 and 09b, judged as the grader judges them.

Each task is tested on real networks of its architecture: as built (untrained: it falls short),
with the wrong layers (the names or shapes differ: a failed check that says which), and, where a
network that meets the requirement trains in a couple of seconds, trained (it passes). Exercise 09's
CNN needs about 15 s of training to reach its 0.86: that it passes is shown where that training
happens anyway, in the solution notebook (its check measures with the same judge) and in the
grading run of tests/system/test_grading_heldout.py (the grader measures the solution's model).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlcourse.checks import from_plain, to_plain
from dlcourse.data import fashion_mnist
from dlcourse.data.fashion_mnist import load_fashion_mnist
from dlcourse.model_tasks.task import get_task, held_out_files, judge
from dlcourse.pytorch import transfer
from dlcourse.pytorch.models import small_cnn
from dlcourse.pytorch.small_mlp import load_overfit_data, load_overfit_test, make_mlp
from dlcourse.pytorch.training import EarlyStopping, TensorBatches, fit

MLP, CNN, FINE = get_task("regularised_mlp"), get_task("small_cnn"), get_task("fine_tune")


def sent(task, model) -> object:
    """What a kernel sends for ``model``, as the grader reads it."""
    return from_plain(to_plain(task.state(model)))


def test_the_tasks_measure_on_the_test_split_and_hide_it():
    for task in (MLP, CNN, FINE):
        assert task.held_out() == fashion_mnist.test_split_files() and task.seconds
    assert set(fashion_mnist.test_split_files()) <= set(held_out_files())
    assert any(path.name == "t10k-labels-idx1-ubyte.gz" for path in fashion_mnist.test_split_files())


def test_exercise_08_a_regularised_network_passes_and_the_patient_falls_short():
    data = load_overfit_data()
    torch.manual_seed(0)
    model = MLP.build()  # the solution's recipe: dropout 0.5 and early stopping
    fit(model, torch.optim.Adam(model.parameters(), lr=1e-3),
        TensorBatches(data.x_pool[:300], data.y_pool[:300], 50, shuffle=True), data.val_batches(),
        epochs=100, early_stopping=EarlyStopping(patience=10), verbose=False, progress_bar=False)
    verdict = judge(MLP, sent(MLP, model), seconds=5.0)
    assert verdict.passed, verdict.message
    assert verdict.metrics["validation accuracy"] >= 0.77 and verdict.metrics["test accuracy"] >= 0.73
    untrained = judge(MLP, sent(MLP, MLP.build()))
    assert untrained.kind == "score" and "validation accuracy is" in untrained.message
    late = judge(MLP, sent(MLP, model), seconds=31.0)
    assert late.kind == "time" and "more than its 30 s budget" in late.message


def test_exercise_08_other_layers_fail_by_name():
    verdict = judge(MLP, sent(MLP, make_mlp(256)))  # no dropout: the layers are numbered 0, 2, 4
    assert verdict.kind == "shape" and "missing 3.bias, 3.weight, 6.bias, 6.weight" in verdict.message
    verdict = judge(MLP, sent(MLP, make_mlp(128, dropout=0.5)))
    assert verdict.kind == "shape" and "'0.weight' has shape (128, 196)" in verdict.message


def test_exercise_08_test_images_are_shrunk_like_the_training_images():
    x, y = load_overfit_test()
    assert x.shape == (2000, 196) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    images = load_fashion_mnist("test").images[:1].astype(np.float64) / 255
    np.testing.assert_allclose(x[0, 0].item(), images[0, :2, :2].mean(), rtol=1e-6)


def test_exercise_09_the_cnn_is_judged_by_its_layers_and_an_untrained_one_falls_short():
    verdict = judge(CNN, sent(CNN, CNN.build()))
    assert verdict.kind == "score" and "test accuracy is" in verdict.message
    assert "it must be at least 0.86" in verdict.message
    verdict = judge(CNN, sent(CNN, small_cnn((16, 32))))  # no hidden layer
    assert verdict.kind == "shape" and "missing 9.bias, 9.weight" in verdict.message
    verdict = judge(CNN, sent(CNN, small_cnn((8, 32), hidden=64)))
    assert verdict.kind == "shape" and "'0.weight' has shape (8, 1, 3, 3)" in verdict.message
    learner = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
    assert judge(CNN, sent(CNN, learner)).kind == "score"  # the exercise's layers load


def test_exercise_09b_a_model_of_the_new_classes_passes_other_shapes_fail():
    train = load_fashion_mnist("train")
    data = transfer.split_for_transfer(train, val_per_class=100, rng=0)
    torch.manual_seed(0)
    model = FINE.build()  # one epoch on the new classes' pool: more labels than the exercise's 50
    fit(model, torch.optim.Adam(model.parameters(), lr=3e-3),
        TensorBatches(data.pool_x, data.pool_y, 64, shuffle=True), epochs=1, verbose=False,
        progress_bar=False)
    verdict = judge(FINE, sent(FINE, model), seconds=2.0)
    assert verdict.passed, verdict.message
    assert set(verdict.metrics) == {"validation accuracy", "test accuracy"}
    untrained = judge(FINE, sent(FINE, FINE.build()))
    assert untrained.kind == "score" and "it must be at least 0.835" in untrained.message
    verdict = judge(FINE, sent(FINE, transfer.TransferNet(transfer.make_body(), 5)))
    assert verdict.kind == "shape" and "missing 0.0.weight" in verdict.message
    verdict = judge(FINE, sent(FINE, nn.Sequential(transfer.make_body(), nn.Linear(1568, 10))))
    assert verdict.kind == "shape" and "'1.weight' has shape (10, 1568)" in verdict.message


def test_split_for_transfer_needs_no_test_split():
    train = load_fashion_mnist("train")
    alone = transfer.split_for_transfer(train, val_per_class=100, rng=0)
    both = transfer.split_for_transfer(train, load_fashion_mnist("test"), val_per_class=100, rng=0)
    assert alone.test_x is None and alone.old_test_y is None
    for name in ("pretrain_x", "pretrain_y", "pool_x", "pool_y", "val_x", "val_y"):
        assert torch.equal(getattr(alone, name), getattr(both, name)), name
    x, y = transfer.class_images(load_fashion_mnist("test"), transfer.NEW_CLASSES)
    assert torch.equal(x, both.test_x) and torch.equal(y, both.test_y)
