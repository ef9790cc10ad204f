"""The small MLP on the overfitting task that lessons 08 and 12 train (dlcourse.pytorch.small_mlp)."""

import numpy as np
import pytest
import torch

from dlcourse.pytorch.small_mlp import (
    SweepResult,
    l2_param_groups,
    load_overfit_data,
    make_mlp,
    shrink,
    sweep,
    train_mlp,
)


@pytest.fixture(scope="module")
def data():
    return load_overfit_data()


def test_shrink_averages_two_by_two_blocks():
    images = np.zeros((1, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1], images[0, 1, 0], images[0, 1, 1] = 255, 255, 0, 0
    images[0, 27, 27] = 255
    x = shrink(images)
    assert x.shape == (1, 196)
    assert torch.isclose(x[0, 0], torch.tensor(0.5))
    assert torch.isclose(x[0, 195], torch.tensor(0.25))
    assert x[0, 1:195].abs().sum() == 0
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        shrink(np.zeros((2, 14, 14), dtype=np.uint8))


def test_data_split_is_disjoint_and_sized(data):
    assert data.x_val.shape == (1000, 196) and data.x_pool.shape == (5000, 196)
    assert set(data.y_val.tolist()) == set(range(10))
    # no validation image appears in the pool (compare exact rows)
    pool = {tuple(row) for row in data.x_pool[:2000].numpy().round(4)}
    assert not any(tuple(row) in pool for row in data.x_val[:200].numpy().round(4))


def test_l2_param_groups_equal_the_explicit_penalty_gradient():
    torch.manual_seed(0)
    model = make_mlp(5, depth=1, n_in=4, n_out=3)
    lam, n = 0.8, 40
    groups = l2_param_groups(model, lam, n)
    assert [p.ndim for p in groups[1]["params"]] == [1, 1]
    # SGD with lr 1 and zero data gradient: one step moves W by -weight_decay * W;
    # the explicit cost (lam/n) sum W^2 has gradient (2 lam / n) W (autograd computes it).
    weights = [p for p in model.parameters() if p.ndim == 2]
    penalty = lam / n * sum((w ** 2).sum() for w in weights)
    grads = torch.autograd.grad(penalty, weights)
    before = [w.detach().clone() for w in weights]
    opt = torch.optim.SGD(groups, lr=1.0)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for w, w0, g in zip(weights, before, grads, strict=True):
        assert torch.allclose(w0 - w.detach(), g, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="lam"):
        l2_param_groups(model, -1.0, 5)


def test_make_mlp_shapes_and_dropout():
    model = make_mlp(16, depth=3, dropout=0.5)
    assert model(torch.zeros(2, 196)).shape == (2, 10)
    assert sum(isinstance(m, torch.nn.Dropout) for m in model) == 3
    with pytest.raises(ValueError, match="dropout"):
        make_mlp(8, dropout=1.0)


def test_train_mlp_is_reproducible_and_a_big_net_overfits(data):
    _, h1 = train_mlp(data, 100, width=128, epochs=80)
    _, h2 = train_mlp(data, 100, width=128, epochs=80)
    assert h1["val_loss"] == h2["val_loss"]
    assert h1["train_acc"][-1] > 0.95  # memorises 100 images
    assert h1["val_acc"][-1] < h1["train_acc"][-1] - 0.2


def test_sweep_trains_every_grid_point_once(data):
    results = sweep(data, widths=[8, 32], lams=[0.0, 5.0], n_train=100, epochs=5)
    assert set(results) == {(8, 0.0), (8, 5.0), (32, 0.0), (32, 5.0)}
    assert all(isinstance(r, SweepResult) and 0 <= r.train_acc <= 1 and 0 <= r.val_acc <= 1
               and r.val_loss > 0 for r in results.values())


def test_train_mlp_decoupled_decay_shrinks_the_weights_and_excludes_l2(data):
    # AdamW's decoupled decay multiplies the weights by (1 - lr * decay) every step: a strong decay
    # leaves clearly smaller weight matrices than plain Adam from the same start and batches.
    plain, _ = train_mlp(data, 100, width=32, epochs=10)
    decayed, _ = train_mlp(data, 100, width=32, epochs=10, decay=20.0)
    norm = lambda m: sum(p.detach().norm() ** 2 for p in m.parameters() if p.ndim == 2) ** 0.5  # noqa: E731
    assert norm(decayed) < 0.9 * norm(plain)
    with pytest.raises(ValueError, match="cannot be combined"):
        train_mlp(data, 100, width=8, epochs=1, lam=0.5, decay=0.1)
