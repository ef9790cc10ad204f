"""The NumPy attention against independent computations: finite differences and PyTorch (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.numpy_nn.attention import (
    attention_backward,
    attention_forward,
    causal_mask,
    init_mha,
    merge_heads,
    mha_backward,
    mha_forward,
    split_heads,
    torch_mha_weights,
)
from dlcourse.numpy_nn.gradcheck import numerical_gradient, relative_error

B, H, T, DH = 2, 3, 5, 4


def _qkv(rng, tq=T, tk=T):
    return rng.normal(size=(B, H, tq, DH)), rng.normal(size=(B, H, tk, DH)), rng.normal(size=(B, H, tk, 6))


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def test_causal_mask_is_lower_triangular():
    m = causal_mask(4)
    assert m.dtype == bool and m[2, :3].all() and not m[2, 3:].any() and not m[0, 1:].any()


@pytest.mark.parametrize("masked", ["none", "causal", "random"])
def test_forward_and_backward_equal_torch_sdpa(masked):
    rng = np.random.default_rng(1)
    tq, tk = (T, T) if masked != "random" else (T, 7)
    q, k, v = _qkv(rng, tq, tk)
    mask = {"none": None, "causal": causal_mask(T), "random": rng.random((tq, tk)) < 0.6}[masked]
    if mask is not None:
        mask[:, 0] = True
    dout = rng.normal(size=(B, H, tq, 6))
    out, cache = attention_forward(q, k, v, mask)
    grads = attention_backward(dout, cache)
    tq_, tk_, tv_ = _t(q), _t(k), _t(v)
    attn_mask = None if mask is None else torch.tensor(mask)
    ref = F.scaled_dot_product_attention(tq_, tk_, tv_, attn_mask=attn_mask)
    (ref * torch.tensor(dout)).sum().backward()
    assert np.abs(out - ref.detach().numpy()).max() < 1e-10
    for mine, theirs in zip(grads, (tq_.grad, tk_.grad, tv_.grad), strict=True):
        assert np.abs(mine - theirs.numpy()).max() < 1e-10


def test_causal_forward_equals_sdpa_is_causal():
    q, k, v = _qkv(np.random.default_rng(2))
    out, _ = attention_forward(q, k, v, causal_mask(T))
    ref = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True)
    assert np.abs(out - ref.numpy()).max() < 1e-10


def test_attention_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    q, k, v = _qkv(rng)
    w = rng.normal(size=(B, H, T, 6))
    mask = causal_mask(T)

    def loss():
        return float((attention_forward(q, k, v, mask)[0] * w).sum())

    grads = attention_backward(w, attention_forward(q, k, v, mask)[1])
    for x, g in zip((q, k, v), grads, strict=True):
        assert relative_error(g, numerical_gradient(loss, x)) < 1e-7


def test_causal_output_ignores_future_keys():
    rng = np.random.default_rng(4)
    q, k, v = _qkv(rng)
    out, _ = attention_forward(q, k, v, causal_mask(T))
    k2, v2 = k.copy(), v.copy()
    k2[..., -1, :] += 5.0
    v2[..., -1, :] -= 3.0
    out2, _ = attention_forward(q, k2, v2, causal_mask(T))
    assert np.array_equal(out[..., :-1, :], out2[..., :-1, :])
    assert not np.allclose(out[..., -1, :], out2[..., -1, :])


def test_weights_are_a_distribution_with_zeros_where_masked():
    q, k, v = _qkv(np.random.default_rng(5))
    _, cache = attention_forward(q, k, v, causal_mask(T))
    assert np.allclose(cache["P"].sum(-1), 1.0)
    assert (cache["P"][..., ~causal_mask(T)] == 0).all()


def test_errors_say_what_is_wrong():
    q, k, v = _qkv(np.random.default_rng(6))
    with pytest.raises(ValueError, match="must agree on d and Tk"):
        attention_forward(q, k[..., :3], v)
    with pytest.raises(ValueError, match="no key to attend to"):
        attention_forward(q, k, v, np.zeros((T, T), dtype=bool))
    with pytest.raises(ValueError, match="multiple of it"):
        split_heads(np.zeros((1, 2, 10)), 3)


def test_split_and_merge_heads_are_inverse():
    x = np.arange(2 * 3 * 12.0).reshape(2, 3, 12)
    s = split_heads(x, 4)
    assert s.shape == (2, 4, 3, 3) and np.array_equal(s[1, 2, 0], x[1, 0, 6:9])
    assert np.array_equal(merge_heads(s), x)


@pytest.mark.parametrize("causal", [False, True])
def test_mha_equals_torch_multihead_attention(causal):
    rng = np.random.default_rng(7)
    d, heads = 12, 3
    p = init_mha(d, rng)
    x = rng.normal(size=(B, T, d))
    mask = causal_mask(T) if causal else None
    dout = rng.normal(size=(B, T, d))
    out, cache = mha_forward(x, x, p, heads, mask)
    g = mha_backward(dout, cache)
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64)
    mha.load_state_dict({name: torch.tensor(w) for name, w in torch_mha_weights(p).items()})
    xt = _t(x)
    ref, _ = mha(xt, xt, xt, attn_mask=None if mask is None else torch.tensor(~mask), need_weights=False)
    (ref * torch.tensor(dout)).sum().backward()
    assert np.abs(out - ref.detach().numpy()).max() < 1e-10
    assert np.abs(g["x_q"] + g["x_kv"] - xt.grad.numpy()).max() < 1e-10
    theirs = {n: w.grad.numpy() for n, w in mha.named_parameters()}
    mine = torch_mha_weights(type(p)(*(g[n] for n in ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo"))))
    for name, grad in mine.items():
        assert np.abs(grad - theirs[name]).max() < 1e-10, name


def test_mha_gradients_match_finite_differences():
    rng = np.random.default_rng(8)
    p = init_mha(6, rng)
    xq, xkv = rng.normal(size=(1, 3, 6)), rng.normal(size=(1, 4, 6))
    w = rng.normal(size=(1, 3, 6))

    def loss():
        return float((mha_forward(xq, xkv, p, 2)[0] * w).sum())

    g = mha_backward(w, mha_forward(xq, xkv, p, 2)[1])
    for name, x in {**p.as_dict(), "x_q": xq, "x_kv": xkv}.items():
        numeric = numerical_gradient(loss, x)
        if name == "bk":  # adding bk adds q . bk to a whole row of scores: the softmax ignores it
            assert np.abs(g[name]).max() < 1e-12 and np.abs(numeric).max() < 1e-8
        else:
            assert relative_error(g[name], numeric) < 1e-7, name
