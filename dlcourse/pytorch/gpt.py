"""A small GPT (lesson 13): a decoder-only transformer that predicts the next token.

Tokens ``idx`` ``(B, T)`` become vectors (a token embedding plus position information), pass
through ``n_layers`` blocks, and a linear head gives next-token logits ``(B, T, V)``. Each block::

    pre-norm (GPT-2, the default):   x = x + attn(ln1(x));   x = x + mlp(ln2(x))
    post-norm (the 2017 paper):      x = ln1(x + attn(x));   x = ln2(x + mlp(x))

``attn`` is causal multi-head self-attention (position ``t`` sees positions ``<= t`` only) and
``mlp`` is ``Linear(D, 4D) -> GELU -> Linear(4D, D)``. A final LayerNorm (pre-norm and no-norm
models; a post-norm block already ends with one) precedes the head. The configuration can also
drop the residual connections, the blocks' LayerNorms or the position information, so that the
lesson can measure what each does. Attention runs through ``F.scaled_dot_product_attention``;
asking for the weights (:meth:`GPT.attention_maps`) computes them explicitly instead.

Two details of GPT-2 are switches, off by default: ``tie_weights`` (the head reuses the token
embedding matrix, ``V x D`` parameters fewer) and ``scale_residual_init`` (the two projections
that write into the residual stream, ``attn.proj`` and the MLP's second layer, start with standard
deviation ``0.02 / sqrt(2 * n_layers)``, so that the sum of ``2 * n_layers`` branches keeps the
stream's size at initialisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GPTConfig", "sinusoidal_positions", "CausalSelfAttention", "Block", "GPT"]


@dataclass(frozen=True)
class GPTConfig:
    """Sizes and switches of a :class:`GPT`.

    Attributes:
        vocab_size: ``V``, the number of token ids.
        block_size: the longest context ``T`` the model reads.
        d_model: ``D``, the width of every token's vector; a multiple of ``n_heads``.
        n_heads, n_layers: attention heads per block, and blocks.
        dropout: on the attention weights, after each block's two branches and after the embeddings.
        positions: ``"learned"`` (an embedding per position), ``"sinusoidal"`` (fixed) or ``"none"``.
        norm: ``"pre"``, ``"post"`` or ``"none"`` (no LayerNorm in the blocks; the final one stays).
        residual: ``False`` drops the residual connections (``x = branch(x)``).
        tie_weights: the head's weight is the token embedding (GPT-2); the head keeps its bias.
        scale_residual_init: GPT-2's smaller initial weights for the projections into the residual
            stream, standard deviation ``0.02 / sqrt(2 * n_layers)`` instead of ``0.02``.
    """

    vocab_size: int
    block_size: int = 64
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.0
    positions: str = "learned"
    norm: str = "pre"
    residual: bool = True
    tie_weights: bool = False
    scale_residual_init: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be a multiple of n_heads={self.n_heads}.")
        if self.positions not in ("learned", "sinusoidal", "none"):
            raise ValueError(f"positions must be 'learned', 'sinusoidal' or 'none', got {self.positions!r}.")
        if self.norm not in ("pre", "post", "none"):
            raise ValueError(f"norm must be 'pre', 'post' or 'none', got {self.norm!r}.")


def sinusoidal_positions(t: int, d: int) -> torch.Tensor:
    """``(T, D)`` fixed codes: ``sin``, ``cos`` of ``pos / 10000^(2i/D)`` in columns ``2i``, ``2i+1``."""
    pos = torch.arange(t, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    pe = torch.zeros(t, d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d // 2])
    return pe


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: ``(B, T, D)`` -> ``(B, T, D)``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_heads, self.dropout = cfg.n_heads, cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.weights: torch.Tensor | None = None   # (B, h, T, T), kept when keep_weights is set
        self.keep_weights = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)   # (B, h, T, D/h)
                   for z in self.qkv(x).split(d, dim=2))
        if self.keep_weights:
            scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.n_heads)        # (B, h, T, T)
            causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            self.weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
            y = self.weights @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))                        # (B, T, D)


class Block(nn.Module):
    """One transformer block (attention, then MLP), pre-norm or post-norm: ``(B, T, D)`` -> ``(B, T, D)``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        norm = (lambda: nn.LayerNorm(cfg.d_model)) if cfg.norm != "none" else nn.Identity
        self.ln1, self.ln2 = norm(), norm()
        self.attn = CausalSelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = 1.0 if self.cfg.residual else 0.0
        if self.cfg.norm == "post":
            x = self.ln1(keep * x + self.drop(self.attn(x)))
            return self.ln2(keep * x + self.drop(self.mlp(x)))
        x = keep * x + self.drop(self.attn(self.ln1(x)))
        return keep * x + self.drop(self.mlp(self.ln2(x)))


class GPT(nn.Module):
    """A decoder-only transformer: ids ``(B, T)`` -> next-token logits ``(B, T, V)``, ``T <= block_size``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.block_size, cfg.d_model) if cfg.positions == "learned" else None
        self.register_buffer("sinusoid", sinusoidal_positions(cfg.block_size, cfg.d_model)
                             if cfg.positions == "sinusoidal" else torch.zeros(cfg.block_size, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model) if cfg.norm != "post" else nn.Identity()
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.apply(self._init)
        if cfg.scale_residual_init:
            for block in self.blocks:
                for proj in (block.attn.proj, block.mlp[2]):
                    nn.init.normal_(proj.weight, 0.0, 0.02 / math.sqrt(2 * cfg.n_layers))
        if cfg.tie_weights:
            self.head.weight = self.tok.weight                                   # (V, D), one matrix

    @staticmethod
    def _init(m: nn.Module) -> None:
        # GPT-2's initialisation: small normal weights, zero biases
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        b, t = idx.shape
        if t > self.cfg.block_size:
            raise ValueError(f"the context has {t} tokens, more than block_size={self.cfg.block_size}: "
                             "crop it to the last block_size tokens.")
        x = self.tok(idx) + self.sinusoid[:t]                                    # (B, T, D)
        if self.pos is not None:
            x = x + self.pos(torch.arange(t, device=idx.device))
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))                                           # (B, T, V)

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats per token: ``idx``, ``targets`` ``(B, T)`` int64 -> scalar."""
        logits = self(idx)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """The attention weights of every layer for ``idx`` ``(B, T)``: a list of ``(B, h, T, T)``."""
        attns = [block.attn for block in self.blocks]
        for a in attns:
            a.keep_weights = True
        try:
            self(idx)
            return [a.weights for a in attns]
        finally:
            for a in attns:
                a.keep_weights, a.weights = False, None

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, n_new: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample ``n_new`` tokens after ``idx`` ``(B, T0)`` from ``softmax(logits / temperature)``.

        Returns ``(B, T0 + n_new)`` ids.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        for _ in range(n_new):
            logits = self(idx[:, -self.cfg.block_size:])[:, -1] / temperature    # (B, V)
            probs = logits.float().softmax(-1).cpu()
            nxt = torch.multinomial(probs, 1, generator=generator).to(idx.device)
            idx = torch.cat([idx, nxt], dim=1)
        return idx
