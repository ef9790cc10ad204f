"""The NumPy RNN against independent computations: finite differences and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.numpy_nn.gradcheck import numerical_gradient, relative_error
from dlcourse.numpy_nn.rnn import RNNParams, clip_by_global_norm, init_rnn, rnn_backward, rnn_forward

T, B, D, H = 5, 3, 4, 6


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    p = init_rnn(D, H, rng, recurrent_scale=1.2)
    p.b[:] = rng.normal(size=H) * 0.1
    x = rng.normal(size=(T, B, D))
    h0 = rng.normal(size=(B, H)) * 0.5
    weights = rng.normal(size=(T, B, H))  # loss = sum(weights * h): every step is read
    return p, x, h0, weights


def test_forward_matches_torch_rnn(setup):
    p, x, h0, _ = setup
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(p.Wx.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(p.Wh.T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(p.b))
        rnn.bias_hh_l0.zero_()
        expected, _ = rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
    np.testing.assert_allclose(rnn_forward(x, h0, p), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_backward_matches_finite_differences(setup):
    p, x, h0, weights = setup
    h = rnn_forward(x, h0, p)
    grads = rnn_backward(weights, x, h0, h, p)

    def loss() -> float:
        return float(np.sum(weights * rnn_forward(x, h0, p)))

    for name, value in [*p.as_dict().items(), ("x", x), ("h0", h0)]:
        err = relative_error(grads[name], numerical_gradient(loss, value))
        assert err < 1e-7, f"d loss / d {name}: relative error {err:.2e}"


def test_backward_matches_torch_autograd_for_a_last_step_loss(setup):
    p, x, h0, weights = setup
    dh = np.zeros_like(weights)
    dh[-1] = weights[-1]  # many-to-one: the loss reads only h_T
    grads = rnn_backward(dh, x, h0, rnn_forward(x, h0, p), p)
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.as_dict().items()}
    hs, h_t = [], th0
    for t in range(T):
        h_t = torch.tanh(tx[t] @ tp["Wx"] + h_t @ tp["Wh"] + tp["b"])
        h_t.retain_grad()
        hs.append(h_t)
    (torch.from_numpy(weights[-1]) * hs[-1]).sum().backward()
    for name, tensor in [*tp.items(), ("x", tx), ("h0", th0)]:
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    for t in range(T):  # the total gradient reaching each hidden state
        np.testing.assert_allclose(grads["dh_total"][t], hs[t].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradients_vanish_with_a_small_recurrent_gain():
    rng = np.random.default_rng(1)
    p = init_rnn(D, 32, rng, recurrent_scale=0.5)
    x = rng.normal(size=(40, 2, D))
    h0 = np.zeros((2, 32))
    dh = np.zeros((40, 2, 32))
    dh[-1] = 1.0
    norms = np.linalg.norm(rnn_backward(dh, x, h0, rnn_forward(x, h0, p), p)["dh_total"], axis=(1, 2))
    assert norms[0] < 1e-6 * norms[-1]


def test_clip_by_global_norm_agrees_with_torch():
    rng = np.random.default_rng(2)
    grads = {"a": rng.normal(size=(3, 4)) * 10, "b": rng.normal(size=5) * 10}
    tensors = [torch.tensor(g, requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.tensor(g.copy())
    expected_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.0)
    norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(float(expected_norm))
    for t, g in zip(tensors, grads.values(), strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6)
    small = {"a": np.full(3, 0.1)}
    assert clip_by_global_norm(small, 1.0) == pytest.approx(np.sqrt(0.03))
    np.testing.assert_array_equal(small["a"], 0.1)  # below the cap: unchanged


def test_wrong_shapes_say_what_is_expected(setup):
    p, x, h0, _ = setup
    with pytest.raises(ValueError, match=r"\(T, B, D=4\)"):
        rnn_forward(x[0], h0, p)
    with pytest.raises(ValueError, match="h0 must be"):
        rnn_forward(x, h0[:, :2], p)
    with pytest.raises(ValueError, match="Wh must be"):
        rnn_forward(x, h0, RNNParams(p.Wx, p.Wh[:2], p.b))
