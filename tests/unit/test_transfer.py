"""dlcourse.pytorch.transfer: class splits, few-label sampling, freezing, the three strategies.

Each property is checked against a direct computation: counts with np.unique, label maps with a
dict, parameters compared bit for bit before and after training.
"""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcourse.data.fashion_mnist import FashionMNIST
from dlcourse.pytorch import transfer
from dlcourse.pytorch.training import TensorBatches, fit


def fake_split(n_per_class: int, split: str, seed: int) -> FashionMNIST:
    """A Fashion-MNIST-shaped split: ``n_per_class`` random images of each of the ten classes."""
    gen = np.random.default_rng(seed)
    labels = gen.permutation(np.repeat(np.arange(10, dtype=np.uint8), n_per_class))
    images = gen.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
    return FashionMNIST(images, labels, tuple(str(c) for c in range(10)), split, Path("."))


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_class_indices_and_remapping_agree_with_a_dictionary():
    labels = np.array([5, 0, 9, 7, 5, 3, 8, 6, 9])
    idx = transfer.class_indices(labels, (5, 6, 7, 8, 9))
    np.testing.assert_array_equal(idx, [i for i, c in enumerate(labels) if c >= 5])
    mapping = {c: j for j, c in enumerate((9, 5, 7, 6, 8))}  # any order of classes
    np.testing.assert_array_equal(transfer.remap_labels(labels[idx], (9, 5, 7, 6, 8)),
                                  [mapping[c] for c in labels[idx]])
    assert transfer.remap_labels(labels[idx], (5, 6, 7, 8, 9)).dtype == np.int64


def test_remapping_refuses_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"labels \[0, 3\] are not among classes"):
        transfer.remap_labels(np.array([5, 0, 3]), (5, 6))
    with pytest.raises(ValueError, match="must not repeat"):
        transfer.remap_labels(np.array([5]), (5, 5))
    with pytest.raises(ValueError, match="classes is empty"):
        transfer.class_indices(np.array([5]), ())


def test_sample_per_class_draws_exactly_k_of_each_class_and_avoids_the_excluded():
    labels = np.random.default_rng(0).integers(0, 10, size=2000)
    exclude = transfer.sample_per_class(labels, range(5, 10), 30, rng=1)
    picked = transfer.sample_per_class(labels, range(5, 10), 12, rng=2, exclude=exclude)
    classes, counts = np.unique(labels[picked], return_counts=True)
    np.testing.assert_array_equal(classes, [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(counts, [12] * 5)
    assert len(np.unique(picked)) == len(picked)  # without replacement
    assert not set(picked) & set(exclude)
    np.testing.assert_array_equal(picked, transfer.sample_per_class(labels, range(5, 10), 12, rng=2,
                                                                    exclude=exclude))  # seeded
    assert not np.array_equal(picked, transfer.sample_per_class(labels, range(5, 10), 12, rng=3,
                                                                exclude=exclude))


def test_sample_per_class_says_when_a_class_is_too_small():
    labels = np.array([0, 0, 1])
    with pytest.raises(ValueError, match="class 1 has 1 examples to draw from, fewer than per_class=2"):
        transfer.sample_per_class(labels, (0, 1), 2)
    with pytest.raises(ValueError, match="per_class must be a whole number"):
        transfer.sample_per_class(labels, (0, 1), 0)


def test_split_for_transfer_keeps_tasks_apart_and_validation_out_of_the_pool():
    train, test = fake_split(40, "train", 0), fake_split(10, "test", 1)
    data = transfer.split_for_transfer(train, test, val_per_class=8, rng=0)
    assert len(data.pretrain_y) == 5 * 40 and len(data.old_test_y) == 5 * 10 and len(data.test_y) == 5 * 10
    assert len(data.val_y) == 5 * 8 and len(data.pool_y) == 5 * 32
    np.testing.assert_array_equal(np.bincount(data.val_y.numpy()), [8] * 5)
    assert data.pretrain_x.shape[1:] == (1, 28, 28) and data.pretrain_x.dtype == torch.float32
    assert int(data.pretrain_y.max()) == 4 and int(data.pool_y.max()) == 4  # renumbered 0 .. 4
    # no validation image is in the pool: compare the images themselves
    pool = {bytes(x.numpy()) for x in data.pool_x}
    assert not any(bytes(x.numpy()) in pool for x in data.val_x)
    x, y = data.few_labels(3, np.random.default_rng(0))
    np.testing.assert_array_equal(np.bincount(y.numpy()), [3] * 5)
    assert all(bytes(xi.numpy()) in pool for xi in x)
    with pytest.raises(ValueError, match="overlap"):
        transfer.split_for_transfer(train, test, (0, 1, 2), (2, 3))


def test_body_shapes_and_head():
    body = transfer.make_body((4, 8))
    assert body(torch.zeros(3, 1, 28, 28)).shape == (3, 8 * 49)
    assert transfer.body_features(body) == 8 * 49
    net = transfer.TransferNet(body, 5)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 5)
    with pytest.raises(ValueError, match="two positive filter counts"):
        transfer.make_body((4,))
    with pytest.raises(ValueError, match="at least 2 classes"):
        transfer.TransferNet(body, 1)


def test_a_frozen_body_is_bit_identical_after_training_batch_norm_included():
    torch.manual_seed(0)
    pretrained = transfer.make_body((4, 8))
    with torch.no_grad():  # batch-norm statistics that a training batch would move
        for m in pretrained.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    before = state(pretrained)
    model = transfer.new_task_model("features", pretrained, 5)
    body_before, head_before = state(model.body), state(model.head)
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 5
    optimizer = transfer.new_task_optimizer(model, "features")
    fit(model, optimizer, TensorBatches(x, y, 10, shuffle=True), epochs=3, verbose=False, progress_bar=False)
    assert all(torch.equal(body_before[k], v) for k, v in model.body.state_dict().items())
    assert not all(torch.equal(head_before[k], v) for k, v in model.head.state_dict().items())
    assert model.training and not model.body.training  # fit's model.train() left the body in eval mode
    assert all(torch.equal(before[k], v) for k, v in pretrained.state_dict().items())  # a copy was trained
    # requires_grad=False alone is not enough: in train mode batch norm still moves its statistics
    naive = copy.deepcopy(pretrained)
    for p in naive.parameters():
        p.requires_grad_(False)
    naive.train()(x)
    assert not torch.equal(naive[1].running_mean, before["1.running_mean"])


def test_the_strategies_train_what_they_say():
    torch.manual_seed(1)
    pretrained = transfer.make_body((4, 8))
    head = 8 * 49 * 5 + 5
    body = sum(p.numel() for p in pretrained.parameters())
    counts = {s: transfer.trainable_parameters(transfer.new_task_model(s, pretrained, 5))
              for s in transfer.STRATEGIES}
    assert counts == {"scratch": body + head, "features": head, "finetune": body + head}
    scratch = transfer.new_task_model("scratch", pretrained, 5)
    assert not torch.equal(scratch.body[0].weight, pretrained[0].weight)  # fresh random weights
    finetune = transfer.new_task_model("finetune", pretrained, 5)
    assert torch.equal(finetune.body[0].weight, pretrained[0].weight)
    groups = transfer.new_task_optimizer(finetune, "finetune", lr=1e-2, body_lr_factor=0.1).param_groups
    assert [g["lr"] for g in groups] == [1e-2, pytest.approx(1e-3)]
    assert sum(p.numel() for p in groups[1]["params"]) == body
    with pytest.raises(ValueError, match="strategy must be one of"):
        transfer.new_task_model("linear-probe", pretrained, 5)
    with pytest.raises(ValueError, match=r"body_lr_factor must be in \(0, 1\]"):
        transfer.new_task_optimizer(finetune, "finetune", body_lr_factor=0)


def test_training_on_cached_features_equals_training_through_the_frozen_body():
    torch.manual_seed(2)
    pretrained = transfer.make_body((4, 8))
    x, y = torch.rand(30, 1, 28, 28), torch.arange(30) % 3
    cached = transfer.train_new_task("features", pretrained, x, y, steps=6, batch_size=10, seed=5)
    torch.manual_seed(5)
    through = transfer.new_task_model("features", pretrained, 3)
    fit(through, transfer.new_task_optimizer(through, "features"), TensorBatches(x, y, 10, shuffle=True),
        epochs=2, verbose=False, progress_bar=False)
    torch.testing.assert_close(cached.head.weight, through.head.weight, rtol=1e-5, atol=1e-6)


def test_compare_strategies_uses_the_same_labels_for_every_strategy_and_reports_per_seed():
    train, test = fake_split(30, "train", 3), fake_split(6, "test", 4)
    data = transfer.split_for_transfer(train, test, val_per_class=5, rng=0)
    model, history = transfer.pretrain(data.pretrain_x, data.pretrain_y, channels=(2, 4), epochs=1)
    assert len(history) == 1
    result = transfer.compare_strategies(data, model.body, 2, seeds=[0, 1], steps=2, batch_size=10)
    assert set(result.val) == set(transfer.STRATEGIES) and all(len(v) == 2 for v in result.test.values())
    summary = result.summary("test")
    for name, (mean, sd) in summary.items():
        assert mean == pytest.approx(np.mean(result.test[name]))
        assert sd == pytest.approx(np.std(result.test[name]))
    with pytest.raises(ValueError, match="seeds is empty"):
        transfer.compare_strategies(data, model.body, 2, seeds=[])
    with pytest.raises(ValueError, match="split must be"):
        result.summary("train")


def test_the_pixel_baseline_is_logistic_regression_on_the_same_labels_as_the_others():
    # Oracle: the multinomial logistic-regression objective written out in NumPy (mean cross-entropy times
    # N, plus ||W||^2 / (2C)) is at its minimum at the fitted weights (its gradient there is ~0), and the
    # accuracy, computed as argmax(x W^T + b) == y, is the one compare_strategies reports for the seed.
    train, test = fake_split(30, "train", 5), fake_split(6, "test", 6)
    data = transfer.split_for_transfer(train, test, val_per_class=5, rng=0)
    model, _ = transfer.pretrain(data.pretrain_x, data.pretrain_y, channels=(2, 4), epochs=1)
    result = transfer.compare_strategies(data, model.body, 3, seeds=[0, 1], strategies=("pixels", "features"),
                                         steps=2, batch_size=10)
    assert set(result.val) == {"pixels", "features"} and len(result.test["pixels"]) == 2
    for i, seed in enumerate([0, 1]):
        x, y = data.few_labels(3, np.random.default_rng(seed))
        baseline = transfer.fit_pixel_baseline(x, y)
        w, b = baseline.coef_, baseline.intercept_  # (5, 784), (5,)
        pixels = x.flatten(1).double().numpy()
        logits = pixels @ w.T + b
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad_w = (p - np.eye(5)[y.numpy()]).T @ pixels + w  # d/dW of N * mean CE + ||W||^2 / 2 (C = 1)
        assert np.abs(grad_w).max() < 1e-3 * np.abs(w).max() * len(y)
        for split in ("val", "test"):
            xs, ys = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
            by_hand = np.mean((xs.flatten(1).double().numpy() @ w.T + b).argmax(1) == ys.numpy())
            assert getattr(result, split)["pixels"][i] == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="as many labels as images"):
        transfer.fit_pixel_baseline(torch.zeros(2, 1, 28, 28), torch.zeros(3, dtype=torch.int64))
