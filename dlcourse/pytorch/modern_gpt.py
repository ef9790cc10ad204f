"""Lesson 13's GPT with the parts of a modern language model as switches, and a KV cache (lesson 13b).

With every switch at its default, :class:`ModernGPT` computes what :class:`dlcourse.pytorch.gpt.GPT`
computes (learned positions, LayerNorm, a GELU MLP, an untied head; its parameters have the same
names, so one loads the other's ``state_dict``). Each switch swaps in one part of a 2025 open model:

- ``norm="rms"``: :class:`RMSNorm`, ``x / sqrt(mean(x^2) + eps) * g``: no mean subtracted, no bias;
- ``positions="rope"``: no position embedding; queries and keys are rotated by their position
  (:mod:`dlcourse.pytorch.rotary`), so attention scores depend on relative positions;
- ``mlp="swiglu"``: :class:`SwiGLU`, ``W2 (silu(W1 x) * W3 x)`` with a hidden width of ``8D/3``, so
  that its three matrices hold about as many weights as GELU's two of width ``4D``;
- ``tie_weights=True``: the head reuses the token embedding, ``V x D`` parameters fewer.

**Generation with a KV cache.** A causal model's keys and values at positions ``< t`` do not change
when token ``t`` arrives, so :meth:`ModernGPT.forward` can keep them in a :class:`KVCache` and, for
each new token, compute only that token's query, key and value, and its attention over the cache:
the cost of a new token no longer grows with the length of the whole context's recomputation.
:meth:`ModernGPT.generate` samples with or without it; both give the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.pytorch.gpt import GPT
from dlcourse.pytorch.rotary import apply_rope

__all__ = ["ModernConfig", "PARTS", "RMSNorm", "SwiGLU", "KVCache", "ModernAttention", "ModernBlock",
           "ModernGPT", "parameter_count"]


@dataclass(frozen=True)
class ModernConfig:
    """Sizes and switches of a :class:`ModernGPT`; the defaults are lesson 13's GPT.

    Attributes:
        vocab_size, block_size, d_model, n_heads, n_layers: as in :class:`dlcourse.pytorch.gpt.GPTConfig`
            (``block_size`` is the longest context, prompt and generated tokens together).
        norm: ``"layer"`` (LayerNorm) or ``"rms"`` (RMSNorm), in the blocks and before the head.
        positions: ``"learned"`` (an embedding per position, added to the token's) or ``"rope"``.
        mlp: ``"gelu"`` (``D -> 4D -> D``) or ``"swiglu"`` (hidden width ``8D/3``, no biases).
        tie_weights: the head's weight is the token embedding; the head keeps its bias.
    """

    vocab_size: int
    block_size: int = 64
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    norm: str = "layer"
    positions: str = "learned"
    mlp: str = "gelu"
    tie_weights: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be a multiple of n_heads={self.n_heads}.")
        if self.norm not in ("layer", "rms"):
            raise ValueError(f"norm must be 'layer' or 'rms', got {self.norm!r}.")
        if self.positions not in ("learned", "rope"):
            raise ValueError(f"positions must be 'learned' or 'rope', got {self.positions!r}.")
        if self.mlp not in ("gelu", "swiglu"):
            raise ValueError(f"mlp must be 'gelu' or 'swiglu', got {self.mlp!r}.")

    def with_parts(self, *parts: str) -> ModernConfig:
        """This configuration with the named parts of :data:`PARTS` switched on."""
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            raise ValueError(f"unknown parts {unknown}: choose from {list(PARTS)}.")
        switches = {k: v for p in parts for k, v in PARTS[p].items()}
        return replace(self, **switches)


PARTS: dict[str, dict] = {"RMSNorm": {"norm": "rms"}, "RoPE": {"positions": "rope"},
                          "SwiGLU": {"mlp": "swiglu"}, "weight tying": {"tie_weights": True}}


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2 over the last axis) + eps) * weight``: ``(..., D)`` -> ``(..., D)``."""

    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    """The gated MLP ``W2 (silu(W1 x) * W3 x)``, hidden width ``8D/3``: ``(..., D)`` -> ``(..., D)``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        hidden = 8 * d // 3
        self.w1, self.w3 = nn.Linear(d, hidden, bias=False), nn.Linear(d, hidden, bias=False)
        self.w2 = nn.Linear(hidden, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class KVCache:
    """The keys and values of every layer for the tokens seen so far.

    ``k[layer]`` and ``v[layer]`` are ``(B, h, t, D/h)``, ``None`` before the first forward pass.
    """

    def __init__(self, n_layers: int) -> None:
        self.k: list[torch.Tensor | None] = [None] * n_layers
        self.v: list[torch.Tensor | None] = [None] * n_layers

    @property
    def length(self) -> int:
        """How many positions are cached (0 before the first forward pass)."""
        return 0 if self.k[0] is None else self.k[0].shape[2]

    @property
    def nbytes(self) -> int:
        """The cache's memory: ``2 * layers * B * t * D`` numbers."""
        return sum(t.nelement() * t.element_size() for t in self.k + self.v if t is not None)


class ModernAttention(nn.Module):
    """Causal multi-head self-attention, with or without RoPE and a cache: ``(B, T, D)`` -> ``(B, T, D)``."""

    def __init__(self, cfg: ModernConfig) -> None:
        super().__init__()
        self.n_heads, self.rope = cfg.n_heads, cfg.positions == "rope"
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor, start: int = 0, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)   # (B, h, T, D/h)
                   for z in self.qkv(x).split(d, dim=2))
        if self.rope:
            positions = torch.arange(start, start + t, device=x.device)
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if cache is not None:
            if cache.k[layer] is not None:
                k, v = torch.cat([cache.k[layer], k], dim=2), torch.cat([cache.v[layer], v], dim=2)
            cache.k[layer], cache.v[layer] = k, v                                   # (B, h, start + T, D/h)
        # a block of new tokens sees the cache and itself causally; one new token sees every key
        if t > 1 and k.shape[2] != t:
            raise ValueError("with a non-empty cache, feed one token at a time.")
        y = F.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))                        # (B, T, D)


class ModernBlock(nn.Module):
    """A pre-norm block, ``x + attn(ln1(x))`` then ``x + mlp(ln2(x))``: ``(B, T, D)`` -> ``(B, T, D)``."""

    def __init__(self, cfg: ModernConfig) -> None:
        super().__init__()
        norm = (lambda: RMSNorm(cfg.d_model)) if cfg.norm == "rms" else (lambda: nn.LayerNorm(cfg.d_model))
        self.ln1, self.ln2 = norm(), norm()
        self.attn = ModernAttention(cfg)
        self.mlp = SwiGLU(cfg.d_model) if cfg.mlp == "swiglu" else nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(), nn.Linear(4 * cfg.d_model, cfg.d_model))

    def forward(self, x: torch.Tensor, start: int = 0, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), start, cache, layer)
        return x + self.mlp(self.ln2(x))


class ModernGPT(nn.Module):
    """Ids ``(B, T)`` -> next-token logits ``(B, T, V)``.

    With a :class:`KVCache`, ``idx`` holds the ``T`` tokens after the cached ones (the prompt on an
    empty cache, then one token at a time), and the cache is extended by them.
    """

    def __init__(self, cfg: ModernConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.block_size, cfg.d_model) if cfg.positions == "learned" else None
        self.blocks = nn.ModuleList(ModernBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_f = RMSNorm(cfg.d_model) if cfg.norm == "rms" else nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.apply(GPT._init)  # lesson 13's (GPT-2's) initialisation
        if cfg.tie_weights:
            self.head.weight = self.tok.weight                                   # (V, D), one matrix

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        b, t = idx.shape
        start = cache.length if cache is not None else 0
        if start + t > self.cfg.block_size:
            raise ValueError(f"the context would hold {start + t} tokens, more than block_size="
                             f"{self.cfg.block_size}: crop it, or build the model with a larger block_size.")
        x = self.tok(idx)                                                        # (B, T, D)
        if self.pos is not None:
            x = x + self.pos(torch.arange(start, start + t, device=idx.device))
        for layer, block in enumerate(self.blocks):
            x = block(x, start, cache, layer)
        return self.head(self.ln_f(x))                                           # (B, T, V)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, n_new: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
        """Sample ``n_new`` tokens after ``idx`` ``(B, T0)``, with or without a cache: ``(B, T0 + n_new)``.

        Without the cache, every step runs the whole sequence so far through the model and keeps
        the last position's logits; with it, the prompt runs once and then each step runs only the
        newest token. ``T0 + n_new`` must fit in ``block_size``.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        if idx.shape[1] + n_new > self.cfg.block_size:
            raise ValueError(f"{idx.shape[1]} prompt tokens and {n_new} new ones exceed block_size="
                             f"{self.cfg.block_size}.")
        cache = KVCache(self.cfg.n_layers) if use_cache else None
        step_input = idx
        for _ in range(n_new):
            logits = self(step_input if use_cache else idx, cache)[:, -1] / temperature   # (B, V)
            probs = logits.float().softmax(-1).cpu()
            nxt = torch.multinomial(probs, 1, generator=generator).to(idx.device)
            idx = torch.cat([idx, nxt], dim=1)
            step_input = nxt
        return idx


def parameter_count(model: nn.Module) -> int:
    """Distinct parameters (a tied matrix counts once)."""
    return sum(p.numel() for p in model.parameters())
