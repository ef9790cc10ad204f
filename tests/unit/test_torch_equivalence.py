"""The NumPy network of Part I and a PyTorch nn.Module holding the same weights compute the same
function: outputs, loss, every gradient, and the weights after training steps with SGD, momentum
and Adam, in float64 to 1e-6 (lesson 06's claim). PyTorch's autograd is the independent
computation: nothing here is derived from the NumPy code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from dlcourse.numpy_nn.layers import mlp
from dlcourse.numpy_nn.losses import softmax_cross_entropy
from dlcourse.numpy_nn.optimizers import SGD, Adam, Momentum

TOL = 1e-6
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def torch_copy(numpy_net, activation: str) -> nn.Sequential:
    """An nn.Sequential in float64 holding the NumPy network's weights (weight = W.T)."""
    layers: list[nn.Module] = []
    linears = numpy_net.linears
    for i, lin in enumerate(linears):
        layer = nn.Linear(lin.n_in, lin.n_out, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(lin.W.T))
            layer.bias.copy_(torch.from_numpy(lin.b))
        layers.append(layer)
        if i < len(linears) - 1:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:256] / 16.0, y[:256].astype(np.int64)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_outputs_loss_and_gradients_agree(digits, activation):
    x, y = digits
    net = mlp([64, 32, 16, 10], activation, rng=np.random.default_rng(1))
    model = torch_copy(net, activation)

    logits = net.forward(x)
    loss, grad = softmax_cross_entropy(logits, y)
    net.backward(grad)

    t_logits = model(torch.from_numpy(x))
    t_loss = nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    t_loss.backward()

    assert logits.dtype == np.float64 and t_logits.dtype == torch.float64
    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=0, atol=TOL)
    assert loss == pytest.approx(t_loss.item(), abs=TOL)
    torch_linears = [m for m in model if isinstance(m, nn.Linear)]
    for i, (lin, t_lin) in enumerate(zip(net.linears, torch_linears, strict=True)):
        np.testing.assert_allclose(lin.dW, t_lin.weight.grad.numpy().T, rtol=0, atol=TOL, err_msg=f"dW{i}")
        np.testing.assert_allclose(lin.db, t_lin.bias.grad.numpy(), rtol=0, atol=TOL, err_msg=f"db{i}")
        assert np.abs(lin.dW).max() > 1e-4  # the comparison is not between zeros


@pytest.mark.parametrize("make_opts", [
    lambda p, tp: (SGD(p, lr=0.1), torch.optim.SGD(tp, lr=0.1)),
    lambda p, tp: (Momentum(p, lr=0.05, momentum=0.9), torch.optim.SGD(tp, lr=0.05, momentum=0.9)),
    lambda p, tp: (Adam(p, lr=1e-2), torch.optim.Adam(tp, lr=1e-2)),
], ids=["sgd", "momentum", "adam"])
def test_training_steps_agree(digits, make_opts):
    x, y = digits
    net = mlp([64, 32, 10], "relu", rng=np.random.default_rng(2))
    model = torch_copy(net, "relu")
    torch_linears = [m for m in model if isinstance(m, nn.Linear)]
    t_params = [p for lin in torch_linears for p in (lin.weight, lin.bias)]
    opt, t_opt = make_opts(net.params(), t_params)
    batches = np.random.default_rng(3).permutation(len(y)).reshape(-1, 32)
    for _ in range(3):  # three epochs of eight mini-batches
        for idx in batches:
            _, grad = softmax_cross_entropy(net.forward(x[idx]), y[idx])
            net.backward(grad)
            opt.step(net.grads())
            t_opt.zero_grad()
            nn.functional.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx])).backward()
            t_opt.step()
    start = mlp([64, 32, 10], "relu", rng=np.random.default_rng(2))
    assert np.abs(net.linears[0].W - start.linears[0].W).max() > 1e-3  # training moved the weights
    for lin, t_lin in zip(net.linears, torch_linears, strict=True):
        np.testing.assert_allclose(lin.W, t_lin.weight.detach().numpy().T, rtol=0, atol=TOL)
        np.testing.assert_allclose(lin.b, t_lin.bias.detach().numpy(), rtol=0, atol=TOL)
