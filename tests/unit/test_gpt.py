"""The small GPT, its training helpers and the n-gram baselines, checked against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlcourse.pytorch.char_lm import CharGRU, CharText, eval_nats, random_blocks, train_lm, warmup_cosine
from dlcourse.pytorch.gpt import GPT, GPTConfig, sinusoidal_positions
from dlcourse.pytorch.ngram import fit_ngram, uniform_nats

V = 11


def _gpt(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=V, block_size=16, d_model=24, n_heads=3, n_layers=2, **kw)).eval()


@pytest.mark.parametrize("variant", [{}, {"norm": "post"}, {"norm": "none", "residual": False},
                                     {"positions": "sinusoidal"}, {"positions": "none"}])
def test_a_future_token_cannot_change_a_past_output(variant):
    model = _gpt(**variant)
    idx = torch.randint(V, (2, 12), generator=torch.Generator().manual_seed(1))
    changed = idx.clone()
    changed[:, 7] = (changed[:, 7] + 3) % V
    with torch.no_grad():
        a, b = model(idx), model(changed)
    assert a.shape == (2, 12, V)
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.equal(a[:, 7:], b[:, 7:])


def test_attention_maps_are_causal_distributions_and_match_the_fast_path():
    model = _gpt()
    idx = torch.randint(V, (2, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        fast = model(idx)
    maps = model.attention_maps(idx)
    with torch.no_grad():
        for a in (blk.attn for blk in model.blocks):
            a.keep_weights = True
        slow = model(idx)
        for a in (blk.attn for blk in model.blocks):
            a.keep_weights = False
    assert torch.allclose(fast, slow, atol=1e-5)
    assert len(maps) == 2 and maps[0].shape == (2, 3, 10, 10)
    assert torch.allclose(maps[1].sum(-1), torch.ones(2, 3, 10))
    assert (maps[0].triu(1) == 0).all()


def test_gpt2_switches_tie_the_head_and_scale_the_residual_projections():
    plain, tied = _gpt(), _gpt(tie_weights=True)
    assert tied.head.weight is tied.tok.weight
    n = sum(p.numel() for p in plain.parameters())
    assert sum(p.numel() for p in tied.parameters()) == n - V * 24
    torch.manual_seed(0)
    wide = GPT(GPTConfig(vocab_size=V, d_model=128, n_heads=4, n_layers=8, scale_residual_init=True))
    for block in wide.blocks:
        assert block.attn.proj.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
        assert block.mlp[2].weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
        assert block.mlp[0].weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_norm_none_removes_the_blocks_layernorms_but_keeps_the_final_one():
    model = _gpt(norm="none")
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in model.blocks.modules())
    assert isinstance(model.ln_f, torch.nn.LayerNorm)
    assert isinstance(_gpt(norm="post").ln_f, torch.nn.Identity)


def test_sinusoidal_positions_follow_the_formula():
    pe = sinusoidal_positions(7, 8)
    assert pe.shape == (7, 8)
    assert math.isclose(pe[3, 2].item(), math.sin(3 / 10000 ** (2 / 8)), rel_tol=1e-6)
    assert math.isclose(pe[5, 5].item(), math.cos(5 / 10000 ** (4 / 8)), rel_tol=1e-6)


def test_config_and_context_errors_say_what_to_do():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        GPTConfig(vocab_size=V, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="norm must be"):
        GPTConfig(vocab_size=V, norm="middle")
    with pytest.raises(ValueError, match="more than block_size"):
        _gpt()(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature must be positive"):
        _gpt().generate(torch.zeros(1, 1, dtype=torch.long), 3, temperature=0.0)


def test_generate_appends_tokens_reproducibly():
    model = _gpt()
    start = torch.zeros(2, 3, dtype=torch.long)
    a = model.generate(start, 20, 0.8, torch.Generator().manual_seed(0))
    b = model.generate(start, 20, 0.8, torch.Generator().manual_seed(0))
    assert a.shape == (2, 23) and torch.equal(a, b) and torch.equal(a[:, :3], start)


def test_warmup_cosine_rises_then_decays_to_the_floor():
    assert warmup_cosine(0, 10, 100) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100) == pytest.approx(1.0)
    assert warmup_cosine(10, 10, 100) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100) == pytest.approx(0.55)
    assert warmup_cosine(100, 10, 100) == pytest.approx(0.1)


def test_random_blocks_targets_are_inputs_shifted_by_one():
    ids = torch.arange(100)
    x, y = random_blocks(ids, 4, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, 0], x[:, 0] + 1)


def test_char_text_holds_out_every_tenth_sentence():
    text = CharText.from_sentences([f"s{i}" for i in range(20)])
    assert text.decode(text.val) == "s9\ns19\n"
    assert text.decode(text.train).startswith("s0\ns1\n") and "s9" not in text.decode(text.train)
    assert np.array_equal(text.encode("s1"), text.train[3:5])


def test_ngram_probabilities_are_smoothed_counts():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 4, size=2000)
    model = fit_ngram(ids, 2, 4, ks=(0.5,))
    counts = np.zeros((4, 4))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    expected = (counts + 0.5) / (counts.sum(1, keepdims=True) + 2.0)
    assert np.allclose(np.exp(model.log_p), expected)
    test = rng.integers(0, 4, size=50)
    assert model.nats(test) == pytest.approx(-np.mean(np.log(expected[test[:-1], test[1:]])))
    assert fit_ngram(ids, 1, 4).nats(test) == pytest.approx(uniform_nats(4), abs=0.05)


def test_ngram_table_limit_is_explained():
    with pytest.raises(ValueError, match="at most 50 million"):
        fit_ngram(np.zeros(10, dtype=np.int64), 5, 100)


def test_eval_nats_equals_the_direct_cross_entropy():
    torch.manual_seed(0)
    model = CharGRU(V, 4, 8)
    ids = np.random.default_rng(0).integers(0, V, size=41)
    with torch.no_grad():
        logits = model(torch.from_numpy(ids[:40]).view(5, 8))
        direct = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(ids[1:41])).item()
    assert eval_nats(model, ids, 8, torch.device("cpu"), batch_size=2) == pytest.approx(direct, rel=1e-6)


def _brute_force_nats(model, ids, context_start) -> float:
    # every character i >= 1 predicted on its own from ids[context_start(i):i], one forward pass each
    nats = []
    with torch.no_grad():
        for i in range(1, len(ids)):
            context = torch.from_numpy(ids[context_start(i):i]).view(1, -1)
            nats.append(-model(context)[0, -1].log_softmax(-1)[ids[i]].item())
    return float(np.mean(nats))


def test_sliding_eval_gives_every_character_its_full_context():
    model, ids, t = _gpt(), np.random.default_rng(3).integers(0, V, size=45), 8
    full = _brute_force_nats(model, ids, lambda i: max(0, i - t))
    sliding = eval_nats(model, ids, t, torch.device("cpu"), batch_size=5, stride=1)
    assert sliding == pytest.approx(full, rel=1e-5)
    # stride = T is the same as consecutive blocks, each restarting its context (on whole blocks)
    blocks = _brute_force_nats(model, ids[:41], lambda i: (i - 1) // t * t)
    assert eval_nats(model, ids[:41], t, torch.device("cpu"), stride=t) == pytest.approx(blocks, rel=1e-5)
    assert eval_nats(model, ids[:41], t, torch.device("cpu")) == pytest.approx(blocks, rel=1e-5)
    between = eval_nats(model, ids, t, torch.device("cpu"), stride=3)
    assert np.isfinite(between)
    with pytest.raises(ValueError, match="must be between 1 and block_size"):
        eval_nats(model, ids, t, torch.device("cpu"), stride=9)


def test_one_block_carries_a_recurrent_state_over_the_whole_text():
    torch.manual_seed(0)
    model = CharGRU(V, 4, 8).eval()
    ids = np.random.default_rng(4).integers(0, V, size=30)
    carried = _brute_force_nats(model, ids, lambda i: 0)
    assert eval_nats(model, ids, len(ids) - 1, torch.device("cpu")) == pytest.approx(carried, rel=1e-5)


def test_train_lm_learns_a_repeating_text():
    ids = np.tile(np.arange(V), 60)
    model = GPT(GPTConfig(vocab_size=V, block_size=8, d_model=16, n_heads=2, n_layers=1))
    log = train_lm(model, ids, ids[:200], steps=60, batch_size=8, block_size=8, lr=1e-2,
                   device=torch.device("cpu"), warmup=5, eval_every=30)
    assert log.step == [30, 60]
    assert log.val_loss[-1] < 0.5 * uniform_nats(V)
    assert log.time_to(10.0) == log.seconds[0] and math.isnan(log.time_to(-1.0))
    early = train_lm(model, ids, ids[:200], steps=60, batch_size=8, block_size=8, lr=1e-2,
                     device=torch.device("cpu"), warmup=5, eval_every=10, stop_below=10.0)
    assert early.step == [10]
