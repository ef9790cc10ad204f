"""dlcourse.pytorch.lr_range on least squares, where gradient descent's divergence rate is 2 / curvature."""

import math

import numpy as np
import pytest
import torch

from dlcourse.pytorch.lr_range import lr_range_test, smooth


def least_squares(seed=0, n=64, d=5):
    """Data, a zero-initialised linear model, and the critical rate 2 / (the Hessian's largest eigenvalue)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=d) + 0.3 * rng.normal(size=n)
    hessian = 2 * x.T @ x / n  # of mean((x w - y)^2)
    model = torch.nn.Linear(d, 1, bias=False).double()
    torch.nn.init.zeros_(model.weight)
    return x, y, model, 2 / np.linalg.eigvalsh(hessian).max()


def test_losses_are_gradient_descent_with_the_growing_rates():
    x, y, model, critical = least_squares()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = (torch.tensor(x), torch.tensor(y)[:, None])
    result = lr_range_test(model, optimizer, [batch], torch.nn.functional.mse_loss,
                           start_lr=1e-3, end_lr=1.0, steps=50, stop_factor=math.inf)
    w = np.zeros(x.shape[1])  # the same steps, written out in NumPy
    expected = []
    for k in range(50):
        lr = 1e-3 * 1000 ** (k / 49)
        assert result.lrs[k] == pytest.approx(lr, rel=1e-12)
        residual = x @ w - y
        expected.append(np.mean(residual ** 2))
        w = w - lr * 2 * x.T @ residual / len(y)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-10)
    assert result.diverged == (not np.isfinite(expected).all())


def test_divergence_comes_just_after_two_over_the_curvature():
    for seed in range(3):
        x, y, model, critical = least_squares(seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        batch = (torch.tensor(x), torch.tensor(y)[:, None])
        result = lr_range_test(model, optimizer, [batch], torch.nn.functional.mse_loss,
                               start_lr=critical / 1000, end_lr=critical * 10, steps=400)
        assert result.diverged
        assert critical < result.divergence_lr < 3.5 * critical
        assert result.suggested_lr < critical  # the rule lands on the stable side
        # below the critical rate gradient descent never diverges, however long the test
        below = lr_range_test(model, optimizer, [batch], torch.nn.functional.mse_loss,
                              start_lr=critical / 1000, end_lr=0.95 * critical, steps=400)
        assert not below.diverged and len(below.lrs) == 400


def test_restore_puts_the_weights_back():
    x, y, model, _ = least_squares()
    model.weight.data.fill_(0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    batches = [(torch.tensor(x[:32]), torch.tensor(y[:32])[:, None]),
               (torch.tensor(x[32:]), torch.tensor(y[32:])[:, None])]
    lr_range_test(model, optimizer, batches, torch.nn.functional.mse_loss, steps=20)
    assert torch.equal(model.weight, torch.full_like(model.weight, 0.5))
    assert optimizer.state_dict()["state"] == {} and optimizer.param_groups[0]["lr"] == 0.1
    lr_range_test(model, optimizer, batches, torch.nn.functional.mse_loss, steps=20, restore=False)
    assert not torch.equal(model.weight, torch.full_like(model.weight, 0.5))


def test_readings_of_a_known_curve():
    from dlcourse.pytorch.lr_range import LRRangeResult

    lrs = np.logspace(-4, 0, 9)
    losses = np.array([2.0, 2.0, 1.9, 1.5, 0.8, 0.5, 0.4, 0.6, 3.0])
    result = LRRangeResult(lrs, losses, losses, diverged=True)
    assert result.min_loss_lr == lrs[6] and result.suggested_lr == pytest.approx(lrs[6] / 10)
    # central differences of the loss per log(lr) step: (1.5 - 2) / 2, (0.8 - 1.9) / 2, (0.5 - 1.5) / 2, ...
    assert result.steepest_lr == lrs[3]  # the largest, -0.55, centred on lr = 10^-2.5
    assert result.divergence_lr == lrs[-1]


def test_smooth_is_a_bias_corrected_moving_average():
    values = [3.0, 1.0, 2.0]
    m1 = 0.1 * 3.0
    m2 = 0.9 * m1 + 0.1 * 1.0
    m3 = 0.9 * m2 + 0.1 * 2.0
    np.testing.assert_allclose(smooth(values, 0.9), [m1 / 0.1, m2 / (1 - 0.81), m3 / (1 - 0.729)])
    np.testing.assert_allclose(smooth(values, 0.0), values)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        smooth(values, 1.0)


def test_bad_arguments_say_what_to_do():
    _, _, model, _ = least_squares()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="need 0 < start_lr < end_lr"):
        lr_range_test(model, optimizer, [], start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="steps must be at least 2"):
        lr_range_test(model, optimizer, [], steps=1)
    with pytest.raises(ValueError, match="stop_factor must be > 1"):
        lr_range_test(model, optimizer, [], stop_factor=0.5)
    with pytest.raises(ValueError, match="batches is empty"):
        lr_range_test(model, optimizer, [])
