"""The from-scratch NumPy network (dlcourse.numpy_nn.activations, losses, layers, init, optimizers,
gradcheck, training), checked against independent computations: central finite
differences and PyTorch autograd / torch.optim, all in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.numpy_nn import activations as act
from dlcourse.numpy_nn.gradcheck import (
    check_layer_gradients,
    gradient_check,
    numerical_gradient,
    relative_error,
)
from dlcourse.numpy_nn.init import he_normal, he_uniform, xavier_normal, xavier_uniform
from dlcourse.numpy_nn.layers import LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh, mlp
from dlcourse.numpy_nn.losses import log_softmax, mse, quadratic_cost, softmax, softmax_cross_entropy
from dlcourse.numpy_nn.optimizers import SGD, Adam, Momentum
from dlcourse.numpy_nn.training import accuracy, minibatches, train

TOL = 1e-6  # the course's bar for gradient checks (relative error)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def t64(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)


# ---------------------------------------------------------------- activations

TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
}


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_activation_and_derivative_match_torch(name, rng):
    f, f_prime = act.ACTIVATIONS[name]
    z = rng.normal(scale=3, size=(5, 7))
    z[z == 0] = 0.1
    zt = t64(z)
    out = TORCH_ACTIVATIONS[name](zt)
    out.sum().backward()
    np.testing.assert_allclose(f(z), out.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f_prime(z), zt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_activation_derivative_matches_finite_differences(name, rng):
    f, f_prime = act.ACTIVATIONS[name]
    z = rng.normal(size=(4, 3))
    z[np.abs(z) < 1e-3] = 0.5  # away from the ReLU kink
    w = rng.normal(size=z.shape)  # a random linear functional makes every entry count
    err = gradient_check(lambda: float(np.sum(w * f(z))), z, w * f_prime(z))
    assert err < TOL


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = act.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


def test_activations_keep_float32():
    z = np.ones((2, 2), dtype=np.float32)
    for f, f_prime in act.ACTIVATIONS.values():
        assert f(z).dtype == np.float32 and f_prime(z).dtype == np.float32


# ---------------------------------------------------------------- losses

def test_softmax_and_log_softmax_match_torch(rng):
    z = rng.normal(scale=5, size=(6, 4))
    np.testing.assert_allclose(softmax(z), torch.softmax(torch.tensor(z), 1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(log_softmax(z), torch.log_softmax(torch.tensor(z), 1).numpy(), rtol=1e-12)


def test_softmax_is_stable_for_huge_logits():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = softmax(np.array([[1000.0, 0.0, -1000.0]]))
        loss, _ = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0]])
    assert loss == pytest.approx(1000.0)


def test_softmax_cross_entropy_matches_torch(rng):
    logits, labels = rng.normal(size=(8, 5)), rng.integers(0, 5, size=8)
    lt = t64(logits)
    expected = F.cross_entropy(lt, torch.tensor(labels))
    expected.backward()
    loss, grad = softmax_cross_entropy(logits, labels)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, lt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss_fn, torch_fn", [
    (mse, lambda a, t: F.mse_loss(a, t)),
    (quadratic_cost, lambda a, t: 0.5 * ((a - t) ** 2).sum() / a.shape[0]),
])
def test_regression_losses_match_torch(loss_fn, torch_fn, rng):
    out, target = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    ot = t64(out)
    expected = torch_fn(ot, torch.tensor(target))
    expected.backward()
    loss, grad = loss_fn(out, target)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, ot.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("loss_fn, target", [
    (softmax_cross_entropy, np.array([0, 2, 1])),
    (mse, np.arange(9.0).reshape(3, 3) / 9),
    (quadratic_cost, np.arange(9.0).reshape(3, 3) / 9),
])
def test_loss_gradients_match_finite_differences(loss_fn, target, rng):
    out = rng.normal(size=(3, 3))
    _, grad = loss_fn(out, target)
    assert gradient_check(lambda: loss_fn(out, target)[0], out, grad) < TOL


def test_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="must be integers"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"must lie in 0..2"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="2-D array"):
        softmax_cross_entropy(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match=r"target has shape \(2, 2\) but output has shape \(2, 3\)"):
        mse(np.zeros((2, 3)), np.zeros((2, 2)))


# ---------------------------------------------------------------- layers

LAYERS = {
    "linear": lambda rng: Linear(4, 3, rng=rng),
    "sigmoid": lambda rng: Sigmoid(),
    "tanh": lambda rng: Tanh(),
    "relu": lambda rng: ReLU(),
    "leaky_relu": lambda rng: LeakyReLU(0.1),
}


def torch_forward(layer, x):
    """The same layer written with torch operations (independent of dlcourse's formulas)."""
    if isinstance(layer, Linear):
        return F.linear(x, torch.tensor(layer.W).T, torch.tensor(layer.b))
    return {Sigmoid: torch.sigmoid, Tanh: torch.tanh, ReLU: torch.relu,
            LeakyReLU: lambda v: F.leaky_relu(v, layer.slope)}[type(layer)](x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_forward_backward_match_torch(name, rng):
    layer = LAYERS[name](rng)
    n_in = 4 if name == "linear" else 3
    x = rng.normal(size=(5, n_in))
    upstream = rng.normal(size=(5, 3))
    out = layer.forward(x)
    dx = layer.backward(upstream)
    xt = t64(x)
    ref = torch_forward(layer, xt)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_linear_parameter_gradients_match_torch(rng):
    layer = Linear(4, 3, rng=rng)
    layer.b[:] = rng.normal(size=3)
    x, upstream = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    layer.forward(x)
    layer.backward(upstream)
    Wt, bt = t64(layer.W), t64(layer.b)
    (torch.tensor(x) @ Wt + bt).backward(torch.tensor(upstream))
    np.testing.assert_allclose(layer.dW, Wt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.db, bt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_backward_matches_finite_differences(name, rng):
    layer = LAYERS[name](rng)
    n_in = 4 if name == "linear" else 3
    x = rng.normal(size=(5, n_in))
    x[np.abs(x) < 1e-3] = 0.5
    w = rng.normal(size=(5, 3))
    layer.forward(x)
    dx = layer.backward(w)  # the gradient of sum(w * layer(x))
    assert gradient_check(lambda: float(np.sum(w * layer.forward(x))), x, dx) < TOL


def test_mlp_gradients_match_finite_differences(rng):
    for activation in ("relu", "tanh", "sigmoid", "leaky_relu"):
        model = mlp([4, 6, 5, 3], activation, rng=rng)
        for layer in model.linears:
            layer.b[:] = rng.normal(scale=0.1, size=layer.b.shape)
        x, labels = rng.normal(size=(7, 4)), rng.integers(0, 3, size=7)
        errors = check_layer_gradients(model, softmax_cross_entropy, x, labels)
        assert len(errors) == 6
        assert max(errors.values()) < TOL, (activation, errors)


def test_mlp_equals_torch_model_with_the_same_weights(rng):
    model = mlp([5, 8, 6, 4], "tanh", rng=rng)
    torch_model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 6),
                                      torch.nn.Tanh(), torch.nn.Linear(6, 4)).double()
    with torch.no_grad():
        for ours, theirs in zip(model.linears, [m for m in torch_model if isinstance(m, torch.nn.Linear)],
                                strict=True):
            ours.b[:] = rng.normal(size=ours.b.shape)
            theirs.weight.copy_(torch.tensor(ours.W.T))
            theirs.bias.copy_(torch.tensor(ours.b))
    x, labels = rng.normal(size=(9, 5)), rng.integers(0, 4, size=9)
    loss, grad = softmax_cross_entropy(model.forward(x), labels)
    dx = model.backward(grad, input_grad=True)
    xt = t64(x)
    ref = F.cross_entropy(torch_model(xt), torch.tensor(labels))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert model.backward(grad) is None  # by default the input gradient is skipped
    torch_linears = [m for m in torch_model if isinstance(m, torch.nn.Linear)]
    for ours, theirs in zip(model.linears, torch_linears, strict=True):
        np.testing.assert_allclose(ours.dW, theirs.weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ours.db, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_params_and_grads_are_listed_in_order(rng):
    model = mlp([3, 4, 2], rng=rng)
    first, second = model.linears
    expected = [first.W, first.b, second.W, second.b]
    assert all(p is q for p, q in zip(model.params(), expected, strict=True))
    model.backward(softmax_cross_entropy(model.forward(np.ones((2, 3))), np.array([0, 1]))[1])
    assert [g.shape for g in model.grads()] == [(3, 4), (4,), (4, 2), (2,)]


def test_float32_stays_float32(rng):
    model = mlp([3, 4, 2], rng=rng, dtype=np.float32)
    out = model.forward(np.ones((2, 3), dtype=np.float32))
    _, grad = softmax_cross_entropy(out, np.array([0, 1]))
    model.backward(grad)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in model.grads())


def test_from_weights_copies_and_validates():
    W, b = np.arange(6.0).reshape(2, 3), np.ones(3)
    layer = Linear.from_weights(W, b)
    W[0, 0] = 99
    assert layer.W[0, 0] == 0
    np.testing.assert_allclose(layer.forward(np.array([[1.0, 1.0]])), [[4.0, 6.0, 8.0]])
    with pytest.raises(ValueError, match=r"b of shape \(n_out,\)"):
        Linear.from_weights(np.zeros((2, 3)), np.zeros(2))


def test_layer_errors_name_the_problem(rng):
    layer = Linear(4, 3, rng=rng)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 4\), got \(2, 5\)"):
        layer.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        layer.forward(np.zeros(4))
    layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"gradient of shape \(2, 4\).*\(2, 3\)"):
        layer.backward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="unknown init"):
        Linear(2, 2, init="glorious")
    with pytest.raises(ValueError, match="unknown activation"):
        mlp([2, 2], "swish")
    with pytest.raises(ValueError, match="at least an input and an output"):
        mlp([3])



@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_layer_used_alone_says_what_its_backward_needs(name, rng):
    layer = LAYERS[name](rng)
    who = type(layer).__name__
    with pytest.raises(RuntimeError, match=rf"{who}\.backward was called before forward: run forward"):
        layer.backward(np.zeros((2, 3)))
    layer.forward(np.zeros((2, 4)) if name == "linear" else np.zeros((2, 3)))
    with pytest.raises(ValueError, match=rf"{who}\.backward got a gradient of shape \(2, 4\), but its "
                                         r"forward output had shape \(2, 3\); they must be equal"):
        layer.backward(np.zeros((2, 4)))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_keeps_float32(name, rng):
    layer = LAYERS[name](rng)
    if name == "linear":
        layer = Linear(4, 3, rng=rng, dtype=np.float32)
    x = rng.normal(size=(5, 4 if name == "linear" else 3)).astype(np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == np.float32 and dx.dtype == np.float32

# ---------------------------------------------------------------- init

@pytest.mark.parametrize("init, variance", [
    (xavier_normal, lambda i, o: 2 / (i + o)), (xavier_uniform, lambda i, o: 2 / (i + o)),
    (he_normal, lambda i, o: 2 / i), (he_uniform, lambda i, o: 2 / i),
])
def test_initialisers_have_the_stated_variance(init, variance, rng):
    W = init(400, 300, rng)
    assert W.shape == (400, 300) and W.dtype == np.float64
    assert W.var() == pytest.approx(variance(400, 300), rel=0.02)
    assert abs(W.mean()) < 0.01 * np.sqrt(variance(400, 300))


def test_he_init_keeps_relu_signal_scale(rng):
    """He's argument, measured: the mean square of ReLU activations stays put over 10 layers."""
    x = rng.normal(size=(2000, 256))
    ratios = {}
    for init in ("he", "xavier"):
        model = mlp([256] * 12, "relu", init=init, rng=rng)
        hidden = Sequential(*model.layers[:-1]).forward(x)  # after the tenth ReLU
        ratios[init] = np.mean(hidden**2) / np.mean(x**2)
    assert 0.5 < ratios["he"] < 2.0
    assert ratios["xavier"] < 0.01  # Xavier halves the signal at every ReLU layer: 2**-10


# ---------------------------------------------------------------- optimizers

def _torch_run(optimizer_cls, kwargs, params, grads_per_step):
    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    opt = optimizer_cls(ts, **kwargs)
    for grads in grads_per_step:
        for t, g in zip(ts, grads, strict=True):
            t.grad = torch.tensor(g)
        opt.step()
    return [t.detach().numpy() for t in ts]


@pytest.mark.parametrize("ours, theirs, kwargs", [
    (SGD, torch.optim.SGD, {"lr": 0.1}),
    (Momentum, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-8}),
])
def test_optimizers_match_torch_step_for_step(ours, theirs, kwargs, rng):
    params = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    grads_per_step = [[rng.normal(size=p.shape) for p in params] for _ in range(5)]
    mine = [p.copy() for p in params]
    opt = ours(mine, **kwargs)
    for grads in grads_per_step:
        opt.step(grads)
    expected = _torch_run(theirs, kwargs, params, grads_per_step)
    for got, want in zip(mine, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert opt.t == 5


def test_optimizers_train_a_model_like_torch(rng):
    """Adam on a real model: five full steps (forward, backward, update) equal torch's."""
    model = mlp([4, 5, 3], rng=rng)
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    with torch.no_grad():
        for ours, theirs in zip(model.linears, [torch_model[0], torch_model[2]], strict=True):
            theirs.weight.copy_(torch.tensor(ours.W.T))
            theirs.bias.copy_(torch.tensor(ours.b))
    x, y = rng.normal(size=(10, 4)), rng.integers(0, 3, size=10)
    opt, topt = Adam(model.params(), lr=0.05), torch.optim.Adam(torch_model.parameters(), lr=0.05)
    for _ in range(5):
        model.backward(softmax_cross_entropy(model.forward(x), y)[1])
        opt.step(model.grads())
        topt.zero_grad()
        F.cross_entropy(torch_model(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    np.testing.assert_allclose(model.linears[1].W, torch_model[2].weight.detach().numpy().T, rtol=1e-10)


def test_optimizer_errors_name_the_problem(rng):
    params = [np.zeros((2, 2)), np.zeros(2)]
    with pytest.raises(ValueError, match="2 parameters"):
        SGD(params, lr=0.1).step([np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"gradient 1 has shape \(3,\) but parameter 1 has shape \(2,\)"):
        Adam(params).step([np.zeros((2, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="positive"):
        SGD(params, lr=0)
    with pytest.raises(ValueError, match="momentum"):
        Momentum(params, lr=0.1, momentum=1.5)


# ---------------------------------------------------------------- gradcheck

def test_gradient_check_tells_right_from_wrong(rng):
    A = rng.normal(size=(3, 3))
    x = rng.normal(size=3)

    def f():
        return float(x @ A @ x)

    right = (A + A.T) @ x
    assert gradient_check(f, x, right) < 1e-8
    assert gradient_check(f, x, A @ x) > 1e-2  # a classic mistake: forgetting A.T
    np.testing.assert_allclose(numerical_gradient(f, x), right, rtol=1e-6)


def test_relative_error_definition():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.zeros(3)) == 1.0
    assert relative_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes"):
        relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda: 0.0, np.ones(2, dtype=np.float32))


# ---------------------------------------------------------------- training loop

def test_minibatches_cover_every_row_once(rng):
    batches = list(minibatches(10, 3, rng))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))


def test_train_learns_a_separable_problem(rng):
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = mlp([2, 16, 2], rng=rng)
    assert accuracy(model, X, y) < 0.9
    history = train(model, Adam(model.params(), lr=0.01), X, y, epochs=30, batch_size=20, rng=rng,
                    X_val=X[:50], y_val=y[:50], show_progress=False)
    assert len(history) == len(history.val_acc) == len(history.val_loss) == len(history.seconds) == 30
    assert len(history.batch_loss) == 300
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.train_acc[-1] > 0.95
    assert history.val_acc[-1] == accuracy(model, X[:50], y[:50])
    assert history.val_loss[-1] == pytest.approx(softmax_cross_entropy(model.forward(X[:50]), y[:50])[0])
    with pytest.raises(ValueError, match="rows"):
        train(model, SGD(model.params(), lr=0.1), X, y[:10], show_progress=False)


def test_train_history_speaks_the_pytorch_loops_vocabulary(rng):
    from dlcourse.pytorch.training import History as TorchHistory

    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    model = mlp([2, 4, 2], rng=rng)
    history = train(model, SGD(model.params(), lr=0.1), X, y, epochs=3, batch_size=10, rng=rng,
                    X_val=X, y_val=y, show_progress=False)
    torch_keys = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert torch_keys <= set(TorchHistory([{k: 0.0 for k in torch_keys}]).records[0])
    for key in torch_keys:
        assert len(history[key]) == 3, key
    assert history["epoch"] == [1, 2, 3]
    assert history["val_acc"] is history.val_acc
    with pytest.raises(KeyError, match="'epoch' and 'train_loss'"):
        history["loss"]
    regression = train(model, SGD(model.params(), lr=0.1), X, y, epochs=2, rng=rng, X_val=X, y_val=y,
                       show_progress=False, measure_accuracy=False)
    assert len(regression.val_loss) == 2 and regression.val_acc == regression.train_acc == []


def test_train_without_rng_shuffles_the_same_way_every_time():
    X = np.random.default_rng(1).normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    runs = []
    for _ in range(2):
        model = mlp([2, 3, 2])  # weights from the same default generator, too
        runs.append(train(model, SGD(model.params(), lr=0.1), X, y, epochs=2, batch_size=7,
                          show_progress=False).batch_loss)
    assert runs[0] == runs[1]
