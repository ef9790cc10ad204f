"""NumPy dropout and L2 penalty, checked against finite differences and PyTorch autograd."""

import numpy as np
import pytest
import torch

from dlcourse.numpy_nn.gradcheck import gradient_check
from dlcourse.numpy_nn.layers import Linear, ReLU, Sequential, mlp
from dlcourse.numpy_nn.losses import softmax_cross_entropy
from dlcourse.numpy_nn.regularisation import Dropout, add_l2_gradient, l2_penalty, set_training


def test_dropout_zeroes_about_p_and_keeps_the_mean():
    layer = Dropout(0.3, rng=np.random.default_rng(1))
    x = np.ones((400, 500))
    y = layer.forward(x)
    dropped = np.mean(y == 0)
    assert abs(dropped - 0.3) < 0.01
    assert np.allclose(y[y != 0], 1 / 0.7)
    assert abs(y.mean() - 1.0) < 0.01


def test_dropout_eval_mode_is_identity_and_p0_is_identity():
    x = np.random.default_rng(0).normal(size=(5, 7))
    layer = Dropout(0.5)
    layer.training = False
    assert np.array_equal(layer.forward(x), x)
    assert np.array_equal(layer.backward(x), x)
    assert np.array_equal(Dropout(0.0).forward(x), x)


def test_dropout_backward_matches_torch_autograd_with_the_same_mask():
    rng = np.random.default_rng(2)
    x, g = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    layer = Dropout(0.4, rng=np.random.default_rng(3))
    layer.forward(x)
    xt = torch.tensor(x, requires_grad=True)
    mask = torch.tensor(layer.mask, dtype=torch.float64)
    (xt * mask / 0.6).backward(torch.tensor(g))
    assert np.allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-12)


def test_network_with_dropout_gradient_checks_with_a_fixed_mask():
    rng = np.random.default_rng(4)
    model = Sequential(Linear(5, 7, rng=rng), ReLU(), Dropout(0.5), Linear(7, 3, rng=rng))
    x, y = rng.normal(size=(4, 5)), np.array([0, 2, 1, 2])
    dropout = model.layers[2]

    def loss():
        dropout.rng = np.random.default_rng(9)  # the same mask on every call
        return softmax_cross_entropy(model.forward(x), y)[0]

    dropout.rng = np.random.default_rng(9)
    model.backward(softmax_cross_entropy(model.forward(x), y)[1])
    assert 0 < dropout.mask.sum() < dropout.mask.size  # some units dropped, some kept
    for param, grad in zip(model.params(), [g.copy() for g in model.grads()], strict=True):
        assert gradient_check(loss, param, grad) < 1e-7


def test_l2_penalty_value_and_gradient_match_torch():
    rng = np.random.default_rng(5)
    model = mlp([4, 6, 3], rng=rng)
    lam, n = 0.7, 50
    weights = [torch.tensor(layer.W, requires_grad=True) for layer in model.linears]
    penalty = lam / n * sum((w ** 2).sum() for w in weights)
    penalty.backward()
    assert np.isclose(l2_penalty(model, lam, n), penalty.item(), rtol=1e-12)
    for layer in model.linears:
        layer.dW = np.zeros_like(layer.W)
    add_l2_gradient(model, lam, n)
    for layer, w in zip(model.linears, weights, strict=True):
        assert np.allclose(layer.dW, w.grad.numpy(), rtol=1e-12)


def test_loss_plus_l2_gradient_checks_by_finite_differences():
    rng = np.random.default_rng(6)
    model = mlp([5, 8, 3], rng=rng)
    x, y = rng.normal(size=(10, 5)), rng.integers(0, 3, size=10)
    lam, n = 2.0, 10
    out_loss, grad = softmax_cross_entropy(model.forward(x), y)
    model.backward(grad)
    add_l2_gradient(model, lam, n)
    analytic = [g.copy() for g in model.grads()]

    def cost():
        return softmax_cross_entropy(model.forward(x), y)[0] + l2_penalty(model, lam, n)

    for param, g in zip(model.params(), analytic, strict=True):
        assert gradient_check(cost, param, g) < 1e-7
    # the biases are not penalised: their gradient does not change with lam
    model.forward(x)
    model.backward(grad)
    assert np.allclose(analytic[1], model.grads()[1])
    assert not np.allclose(analytic[0], model.grads()[0])


def test_set_training_switches_every_dropout():
    model = Sequential(Linear(3, 3), Dropout(0.5), ReLU(), Dropout(0.2))
    set_training(model, False)
    assert [layer.training for layer in model.layers if isinstance(layer, Dropout)] == [False, False]
    set_training(model, True)
    assert all(layer.training for layer in model.layers if isinstance(layer, Dropout))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="0 <= p < 1"):
        Dropout(p)


def test_l2_rejects_bad_arguments():
    model = mlp([2, 2])
    with pytest.raises(ValueError, match="lam"):
        l2_penalty(model, -1.0, 5)
    with pytest.raises(ValueError, match="training examples"):
        add_l2_gradient(model, 1.0, 0)
    with pytest.raises(TypeError, match="Linear"):
        l2_penalty(ReLU(), 1.0, 5)
