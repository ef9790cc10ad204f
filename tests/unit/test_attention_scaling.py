"""Lesson 13's sqrt(d_k) table, recomputed by PyTorch's autograd: unscaled and scaled attention.

The lesson measures, for random unit-variance queries and keys, the mean largest attention weight,
the mean |dL/dS| at the scores (what passes through the softmax) and the mean |dL/dq| at the
queries, with the loss ``sum(out)``. Here the same quantities come from autograd on
``softmax(q @ k.T * scale) @ v``, written directly in torch, and must equal the package's
hand-derived backward (``softmax_backward``, ``attention_backward`` with ``scale``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.numpy_nn.attention import attention_backward, attention_forward, softmax_backward


def _autograd_table_row(q, k, v, scale):
    tq = torch.tensor(q, requires_grad=True)
    scores = tq @ torch.tensor(k).transpose(-1, -2) * scale              # (N, Tq, Tk)
    scores.retain_grad()
    weights = scores.softmax(-1)
    (weights @ torch.tensor(v)).sum().backward()
    return (weights.max(-1).values.mean().item(), scores.grad.abs().mean().item(),
            tq.grad.abs().mean().item())


def _package_table_row(q, k, v, scale):
    out, cache = attention_forward(q, k, v, scale=scale)
    dout = np.ones_like(out)
    dscores = softmax_backward(cache["P"], dout @ np.swapaxes(v, -1, -2))
    dq = attention_backward(dout, cache)[0]
    return cache["P"].max(-1).mean(), np.abs(dscores).mean(), np.abs(dq).mean()


@pytest.mark.parametrize("d", [4, 64, 1024])
@pytest.mark.parametrize("scaled", [False, True])
def test_saturation_table_equals_autograd(d, scaled):
    rng = np.random.default_rng(d)
    q, k, v = rng.normal(size=(20, 64, d)), rng.normal(size=(20, 64, d)), rng.normal(size=(20, 64, 1))
    scale = 1.0 / np.sqrt(d) if scaled else 1.0
    assert np.allclose(_package_table_row(q, k, v, None if scaled else 1.0),
                       _autograd_table_row(q, k, v, scale), rtol=1e-10, atol=0)


def test_unscaled_attention_equals_sdpa_with_scale_one():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 5, 3))
    out, cache = attention_forward(q, k, v, scale=1.0)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ref = F.scaled_dot_product_attention(tq, tk, tv, scale=1.0)
    ref.sum().backward()
    assert np.allclose(out, ref.detach().numpy(), atol=1e-12)
    for mine, t in zip(attention_backward(np.ones_like(out), cache), (tq, tk, tv), strict=True):
        assert np.allclose(mine, t.grad.numpy(), atol=1e-12)


def test_softmax_backward_is_the_softmax_jacobian():
    rng = np.random.default_rng(1)
    s, dp = rng.normal(size=7), rng.normal(size=7)
    jacobian = torch.autograd.functional.jacobian(lambda z: z.softmax(-1), torch.tensor(s))   # (7, 7)
    p = torch.tensor(s).softmax(-1).numpy()
    assert np.allclose(softmax_backward(p, dp), jacobian.numpy().T @ dp, atol=1e-14)


def test_the_gradient_at_the_scores_collapses_when_the_softmax_saturates():
    # the lesson's finding, at a size a unit test affords: unscaled wide heads pass ten times less
    # gradient through the softmax, while the gradient at the queries does not vanish
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(20, 64, 1024)), rng.normal(size=(20, 64, 1024)), rng.normal(size=(20, 64, 1))
    weight_u, scores_u, queries_u = _autograd_table_row(q, k, v, 1.0)
    weight_s, scores_s, queries_s = _autograd_table_row(q, k, v, 1 / 32)
    assert weight_u > 0.9 and weight_s < 0.2
    assert scores_u < 0.2 * scores_s
    assert queries_u > queries_s
