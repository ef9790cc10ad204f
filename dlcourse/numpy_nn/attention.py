"""Scaled dot-product attention and multi-head attention in NumPy (lesson 13): forward and backward.

For queries ``q`` ``(..., Tq, d)``, keys ``k`` ``(..., Tk, d)`` and values ``v`` ``(..., Tk, dv)``
(any leading batch and head axes), with an optional boolean ``mask`` ``(Tq, Tk)`` (broadcast over
the leading axes; ``True`` = may attend)::

    S = q @ k.T * scale                          (..., Tq, Tk)   scores (scale = 1 / sqrt(d) by default)
    S[~mask] = -inf
    P = softmax(S, axis=-1)                      (..., Tq, Tk)   attention weights, rows sum to 1
    out = P @ v                                  (..., Tq, dv)

and backward, given ``dout = dL/dout``::

    dv = P.T @ dout                              (..., Tk, dv)
    dP = dout @ v.T                              (..., Tq, Tk)
    dS = P * (dP - sum(dP * P, axis=-1))         (softmax's Jacobian, row by row)
    dq = dS @ k * scale,  dk = dS.T @ q * scale

Multi-head attention projects a ``(B, T, D)`` input to queries, keys and values with ``(D, D)``
matrices (row vectors, as everywhere in the course's NumPy code: ``x @ W + b``), splits ``D`` into
``h`` heads of ``D / h`` features, attends in each head separately, joins the heads and projects
with ``Wo``. :func:`torch_mha_weights` says how these parameters map onto ``nn.MultiheadAttention``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["causal_mask", "softmax_backward", "attention_forward", "attention_backward", "split_heads",
           "merge_heads", "MHAParams", "init_mha", "mha_forward", "mha_backward", "torch_mha_weights"]


def causal_mask(t: int) -> np.ndarray:
    """``(T, T)`` bool, ``True`` on and below the diagonal: position ``i`` may attend to ``j <= i``."""
    return np.tril(np.ones((t, t), dtype=bool))


def softmax_backward(weights: np.ndarray, dweights: np.ndarray) -> np.ndarray:
    """The gradient ``dS`` ``(..., Tk)`` at the scores, given ``P = softmax(S)`` and ``dP = dL/dP``.

    ``dS = P * (dP - sum(dP * P))`` along the last axis: the softmax's Jacobian
    ``diag(P) - P P.T``, applied row by row. When ``P`` saturates (all its weight on one entry),
    the Jacobian, and with it ``dS``, goes to zero.
    """
    return weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None,
                      scale: float | None = None) -> tuple[np.ndarray, dict]:
    """Scaled dot-product attention: q, k, v ``(..., Tq, d)``, ``(..., Tk, d)``, ``(..., Tk, dv)`` -> out.

    ``out`` has shape ``(..., Tq, dv)``.

    ``mask`` is ``None`` (attend everywhere) or bool, broadcastable to ``(..., Tq, Tk)``, ``True``
    where a query may attend to a key. ``scale`` multiplies the scores: ``1 / sqrt(d)`` when ``None``;
    ``scale=1.0`` is unscaled dot-product attention. Returns ``(out, cache)``; ``cache["P"]`` holds
    the weights.

    Raises:
        ValueError: if the shapes disagree, or the mask leaves a query with nothing to attend to.
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q (..., Tq, d), k (..., Tk, d) and v (..., Tk, dv) must agree on d and Tk; "
                         f"got q {q.shape}, k {k.shape}, v {v.shape}.")
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ np.swapaxes(k, -1, -2)) * scale                        # (..., Tq, Tk)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if not np.broadcast_to(mask, scores.shape).any(axis=-1).all():
            raise ValueError("the mask leaves some query with no key to attend to (a row of False): "
                             "every query needs at least one True in its row.")
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)                 # stable softmax
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)                       # (..., Tq, Tk)
    out = weights @ v                                                     # (..., Tq, dv)
    return out, {"q": q, "k": k, "v": v, "P": weights, "scale": scale}


def attention_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dq, dk, dv)`` of the loss, given ``dout`` ``(..., Tq, dv)`` and the forward's cache.

    Masked positions have weight 0, so they receive no gradient: the mask needs no special case.
    """
    q, k, v, weights, scale = cache["q"], cache["k"], cache["v"], cache["P"], cache["scale"]
    dv = np.swapaxes(weights, -1, -2) @ dout                              # (..., Tk, dv)
    dweights = dout @ np.swapaxes(v, -1, -2)                              # (..., Tq, Tk)
    dscores = softmax_backward(weights, dweights)                         # (..., Tq, Tk)
    dq = dscores @ k * scale                                              # (..., Tq, d)
    dk = np.swapaxes(dscores, -1, -2) @ q * scale                         # (..., Tk, d)
    return dq, dk, dv


def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """``(B, T, D)`` -> ``(B, h, T, D / h)``: head ``i`` gets features ``i*D/h`` to ``(i+1)*D/h``."""
    b, t, d = x.shape
    if d % n_heads:
        raise ValueError(f"D={d} features cannot be split into {n_heads} heads: D must be a multiple of it.")
    return x.reshape(b, t, n_heads, d // n_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """``(B, h, T, D / h)`` -> ``(B, T, D)``, the inverse of :func:`split_heads`."""
    b, h, t, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * dh)


@dataclass
class MHAParams:
    """Multi-head attention: weights ``Wq, Wk, Wv, Wo`` ``(D, D)``, biases ``bq, bk, bv, bo`` ``(D,)``."""

    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray
    Wo: np.ndarray
    bq: np.ndarray
    bk: np.ndarray
    bv: np.ndarray
    bo: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return dict(vars(self))


def init_mha(d_model: int, rng: np.random.Generator) -> MHAParams:
    """float64 parameters: weights ~ N(0, 1/D), biases small and random (so that tests see them)."""
    w = [rng.normal(0.0, 1.0 / np.sqrt(d_model), size=(d_model, d_model)) for _ in range(4)]
    b = [rng.normal(0.0, 0.1, size=d_model) for _ in range(4)]
    return MHAParams(*w, *b)


def mha_forward(x_q: np.ndarray, x_kv: np.ndarray, p: MHAParams, n_heads: int,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Multi-head attention: queries from ``x_q`` ``(B, Tq, D)``, keys, values from ``x_kv`` ``(B, Tk, D)``

    Self-attention passes the same array twice. ``mask`` as in :func:`attention_forward` ``(Tq, Tk)``.
    Returns ``(out (B, Tq, D), cache)``; ``cache["attn"]["P"]`` is ``(B, h, Tq, Tk)``.
    """
    q = split_heads(x_q @ p.Wq + p.bq, n_heads)                           # (B, h, Tq, D/h)
    k = split_heads(x_kv @ p.Wk + p.bk, n_heads)                          # (B, h, Tk, D/h)
    v = split_heads(x_kv @ p.Wv + p.bv, n_heads)                          # (B, h, Tk, D/h)
    heads, attn = attention_forward(q, k, v, mask)                        # (B, h, Tq, D/h)
    joined = merge_heads(heads)                                           # (B, Tq, D)
    out = joined @ p.Wo + p.bo                                            # (B, Tq, D)
    return out, {"x_q": x_q, "x_kv": x_kv, "p": p, "n_heads": n_heads, "attn": attn, "joined": joined}


def mha_backward(dout: np.ndarray, cache: dict) -> dict[str, np.ndarray]:
    """Gradients of every parameter (``"Wq"``, ..., ``"bo"``) and of both inputs (``"x_q"``, ``"x_kv"``).

    For self-attention the input's gradient is ``grads["x_q"] + grads["x_kv"]``.
    """
    p, x_q, x_kv, h = cache["p"], cache["x_q"], cache["x_kv"], cache["n_heads"]
    g = {"Wo": np.einsum("btd,bte->de", cache["joined"], dout), "bo": dout.sum(axis=(0, 1))}
    dheads = split_heads(dout @ p.Wo.T, h)                                # (B, h, Tq, D/h)
    dq, dk, dv = (merge_heads(d) for d in attention_backward(dheads, cache["attn"]))
    for name, d, x in (("q", dq, x_q), ("k", dk, x_kv), ("v", dv, x_kv)):
        g["W" + name] = np.einsum("btd,bte->de", x, d)
        g["b" + name] = d.sum(axis=(0, 1))
    g["x_q"] = dq @ p.Wq.T
    g["x_kv"] = dk @ p.Wk.T + dv @ p.Wv.T
    return g


def torch_mha_weights(p: MHAParams) -> dict[str, np.ndarray]:
    """The same parameters as ``nn.MultiheadAttention``'s state dict (it computes ``x @ W.T + b``).

    ``in_proj_weight`` ``(3D, D)`` stacks ``Wq.T, Wk.T, Wv.T``; ``out_proj.weight`` is ``Wo.T``.
    """
    return {"in_proj_weight": np.concatenate([p.Wq.T, p.Wk.T, p.Wv.T]),
            "in_proj_bias": np.concatenate([p.bq, p.bk, p.bv]),
            "out_proj.weight": p.Wo.T, "out_proj.bias": p.bo}
