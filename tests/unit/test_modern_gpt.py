"""RoPE, RMSNorm, SwiGLU, tying, the KV cache and attention memory, against independent computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dlcourse.env.gpu_memory import SavedTensorMemory
from dlcourse.pytorch.gpt import GPT, GPTConfig
from dlcourse.pytorch.modern_gpt import (
    PARTS,
    KVCache,
    ModernConfig,
    ModernGPT,
    RMSNorm,
    SwiGLU,
    parameter_count,
)
from dlcourse.pytorch.rotary import apply_rope, rope_angles

V = 13


def _model(*parts, block_size=24) -> ModernGPT:
    torch.manual_seed(0)
    cfg = ModernConfig(V, block_size=block_size, d_model=24, n_heads=3, n_layers=2).with_parts(*parts)
    return ModernGPT(cfg).eval()


def test_rope_is_a_complex_multiplication():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64, generator=g)
    pos = torch.arange(5, 12)
    theta = 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    z = torch.view_as_complex(x.reshape(2, 3, 7, 4, 2).contiguous())              # pairs as complex numbers
    rotated = z * torch.polar(torch.ones(7, 4, dtype=torch.float64), pos[:, None] * theta)
    assert torch.allclose(apply_rope(x, pos), torch.view_as_real(rotated).reshape(2, 3, 7, 8), atol=1e-12)
    assert torch.allclose(rope_angles(pos, 8), pos[:, None].double() * theta)


def test_rope_scores_depend_on_the_relative_position_only_and_keep_lengths():
    g = torch.Generator().manual_seed(1)
    q, k = (torch.randn(16, dtype=torch.float64, generator=g) for _ in range(2))

    def score(m, n):
        return float(apply_rope(q[None], torch.tensor([m])) @ apply_rope(k[None], torch.tensor([n]))[0])

    for shift in (1, 17, 300):
        assert score(3, 1) == pytest.approx(score(3 + shift, 1 + shift), abs=1e-9)
        assert score(1, 3) == pytest.approx(score(1 + shift, 3 + shift), abs=1e-9)
    assert score(3, 1) != pytest.approx(score(1, 3), abs=1e-6)
    assert float(apply_rope(q[None], torch.tensor([41])).norm()) == pytest.approx(float(q.norm()), rel=1e-12)
    assert torch.equal(apply_rope(q[None], torch.tensor([0])), q[None])
    with pytest.raises(ValueError, match="must be even"):
        rope_angles(torch.arange(3), 5)
    with pytest.raises(ValueError, match="one position per row"):
        apply_rope(torch.zeros(4, 8), torch.arange(3))


def test_rmsnorm_equals_torch_rmsnorm():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 5, 10, generator=g)
    mine, ref = RMSNorm(10, eps=1e-6), torch.nn.RMSNorm(10, eps=1e-6)
    with torch.no_grad():
        w = torch.randn(10, generator=g)
        mine.weight.copy_(w)
        ref.weight.copy_(w)
    assert torch.allclose(mine(x), ref(x), atol=1e-6)


def test_swiglu_is_its_formula():
    torch.manual_seed(3)
    m = SwiGLU(12)
    x = torch.randn(4, 12, dtype=torch.float64)
    w1, w2, w3 = (getattr(m, n).weight.double() for n in ("w1", "w2", "w3"))
    a = x @ w1.T
    expected = ((a / (1 + torch.exp(-a))) * (x @ w3.T)) @ w2.T                  # silu(a) = a * sigmoid(a)
    assert torch.allclose(m.double()(x), expected, atol=1e-12)
    assert m.w1.weight.shape == (32, 12)                                         # 8 * 12 / 3


def test_with_every_switch_off_it_is_lesson_13s_gpt():
    torch.manual_seed(4)
    old = GPT(GPTConfig(V, block_size=24, d_model=24, n_heads=3, n_layers=2)).eval()
    new = ModernGPT(ModernConfig(V, block_size=24, d_model=24, n_heads=3, n_layers=2)).eval()
    state = {k: v for k, v in old.state_dict().items() if k != "sinusoid"}
    new.load_state_dict(state)
    idx = torch.randint(V, (2, 20), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.allclose(new(idx), old(idx), atol=1e-6)


def test_each_part_swaps_what_it_says():
    base = _model()
    assert parameter_count(_model("weight tying")) == parameter_count(base) - V * 24
    tied = _model("weight tying")
    assert tied.head.weight is tied.tok.weight
    rope = _model("RoPE")
    assert rope.pos is None and parameter_count(rope) == parameter_count(base) - 24 * 24
    rms = _model("RMSNorm")
    assert isinstance(rms.ln_f, RMSNorm) and not any(isinstance(m, torch.nn.LayerNorm) for m in rms.modules())
    assert isinstance(_model("SwiGLU").blocks[0].mlp, SwiGLU)
    assert set(PARTS) == {"RMSNorm", "RoPE", "SwiGLU", "weight tying"}
    with pytest.raises(ValueError, match="choose from"):
        ModernConfig(V).with_parts("ALiBi")


@pytest.mark.parametrize("parts", [(), ("RoPE",), tuple(PARTS)])
def test_a_future_token_cannot_change_a_past_output(parts):
    model = _model(*parts)
    idx = torch.randint(V, (2, 12), generator=torch.Generator().manual_seed(1))
    changed = idx.clone()
    changed[:, 7] = (changed[:, 7] + 3) % V
    with torch.no_grad():
        a, b = model(idx), model(changed)
    assert torch.equal(a[:, :7], b[:, :7]) and not torch.equal(a[:, 7:], b[:, 7:])


@pytest.mark.parametrize("parts", [(), tuple(PARTS)])
def test_the_cache_gives_the_logits_of_the_full_forward_pass_and_the_same_samples(parts):
    model = _model(*parts)
    idx = torch.randint(V, (3, 20), generator=torch.Generator().manual_seed(6))
    cache = KVCache(2)
    with torch.no_grad():
        full = model(idx)
        steps = [model(idx[:, :5], cache)] + [model(idx[:, t:t + 1], cache) for t in range(5, 20)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    assert cache.length == 20 and cache.nbytes == 2 * 2 * 3 * 20 * 24 * 4
    prompt = idx[:, :4]
    a = model.generate(prompt, 18, generator=torch.Generator().manual_seed(7), use_cache=True)
    b = model.generate(prompt, 18, generator=torch.Generator().manual_seed(7), use_cache=False)
    assert torch.equal(a, b) and a.shape == (3, 22)
    with pytest.raises(ValueError, match="one token at a time"):
        _two_tokens_after_a_cache(model, idx)
    with pytest.raises(ValueError, match="exceed block_size"):
        model.generate(prompt, 30)


def _two_tokens_after_a_cache(model, idx):
    cache = KVCache(2)
    model(idx[:, :3], cache)
    model(idx[:, 3:5], cache)


def test_attention_memory_saved_for_backward_matches_the_hand_count():
    """The explicit T x T weights are saved for the backward pass (4 B h T^2 bytes, plus the T x T
    boolean mask); the fused kernel saves its output and one log-sum-exp per row (4 B h T (d + 1))."""
    b, h, d = 2, 3, 8
    for t in (16, 32, 64):
        q, k, v = (torch.randn(b, h, t, d, requires_grad=True) for _ in range(3))
        with SavedTensorMemory(exclude=(q, k, v)) as explicit:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            s = s.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
            s.softmax(-1) @ v
        with SavedTensorMemory(exclude=(q, k, v)) as fused:
            F.scaled_dot_product_attention(q, k, v, is_causal=True)
        assert explicit.nbytes == 4 * b * h * t * t + t * t
        assert fused.nbytes == 4 * b * h * t * (d + 1)


@pytest.mark.parametrize("parts", [(), tuple(PARTS)])
def test_a_step_s_flops_are_the_hand_count_with_and_without_the_cache(parts):
    """Per token: 2 FLOPs per weight of every matrix (attention's four D x D, the MLP's, the head's);
    per query and layer: 4 D FLOPs per key it is scored against (q.k and the weighted sum of values).
    The math kernel scores every query against all t keys (masking afterwards)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model, d, layers = _model(*parts, block_size=64), 24, 2
    mlp = 3 * d * (8 * d // 3) if "SwiGLU" in parts else 2 * d * 4 * d
    per_token = 2 * (layers * (4 * d * d + mlp) + d * V)
    for t in (1, 7, 40):
        ids = torch.randint(V, (1, t), generator=torch.Generator().manual_seed(t))
        cache = KVCache(layers)
        with torch.no_grad():
            if t > 1:
                model(ids[:, :-1], cache)                                          # the prefill
            with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as full:
                model(ids)
            with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as step:
                model(ids[:, -1:], cache if t > 1 else None)
        assert step.get_total_flops() == per_token + 4 * t * d * layers
        assert full.get_total_flops() == t * (per_token + 4 * t * d * layers)
