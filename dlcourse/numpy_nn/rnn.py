"""A vanilla recurrent layer in NumPy (lesson 10): forward pass and backpropagation through time.

The recurrence, for a mini-batch of ``B`` sequences of ``T`` steps, ``D`` input features and
``H`` hidden units (row vectors, as everywhere in the course's NumPy code)::

    a_t = x_t @ Wx + h_{t-1} @ Wh + b          (B, H)
    h_t = tanh(a_t)                              (B, H)

with ``x_t`` ``(B, D)``, ``Wx`` ``(D, H)``, ``Wh`` ``(H, H)``, ``b`` ``(H,)`` and a given start
state ``h_0`` ``(B, H)``. The same three parameters are used at every step.

Backpropagation through time walks the steps backwards. With ``g_t = dL/dh_t`` the *total*
gradient reaching ``h_t`` (from the loss directly, ``dh[t]``, plus from the next step)::

    g_T = dh[T]
    da_t = g_t * (1 - h_t**2)                    (B, H)
    dWx += x_t.T @ da_t,  dWh += h_{t-1}.T @ da_t,  db += da_t.sum(0)
    dx_t = da_t @ Wx.T                           (B, D)
    g_{t-1} = dh[t-1] + da_t @ Wh.T              (B, H)

so the gradient from a loss at step ``T`` reaches step ``t`` multiplied by ``T - t`` Jacobians
``diag(1 - h**2) Wh.T``: it shrinks or grows geometrically (vanishing / exploding gradients),
which :func:`rnn_backward` exposes as ``grads["dh_total"]`` and :func:`clip_by_global_norm` tames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RNNParams", "init_rnn", "rnn_step", "rnn_forward", "rnn_backward", "clip_by_global_norm"]


@dataclass
class RNNParams:
    """The parameters of a vanilla RNN layer: ``Wx`` ``(D, H)``, ``Wh`` ``(H, H)``, ``b`` ``(H,)``."""

    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray

    @property
    def sizes(self) -> tuple[int, int]:
        """``(D, H)``: input features and hidden units."""
        return self.Wx.shape[0], self.Wx.shape[1]

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"Wx": self.Wx, "Wh": self.Wh, "b": self.b}


def init_rnn(input_size: int, hidden_size: int, rng: np.random.Generator,
             recurrent_scale: float = 1.0) -> RNNParams:
    """Return float64 parameters: ``Wx`` ~ N(0, 1/D), ``Wh`` ~ N(0, scale²/H), ``b`` = 0.

    ``recurrent_scale`` sets the typical gain of ``Wh`` (its spectral radius is about that for a
    large ``H``): below 1 gradients through time vanish, well above 1 they can explode.
    """
    if input_size < 1 or hidden_size < 1:
        raise ValueError(f"sizes must be positive, got input_size={input_size}, hidden_size={hidden_size}")
    Wx = rng.normal(0.0, 1.0 / np.sqrt(input_size), size=(input_size, hidden_size))
    Wh = rng.normal(0.0, recurrent_scale / np.sqrt(hidden_size), size=(hidden_size, hidden_size))
    return RNNParams(Wx, Wh, np.zeros(hidden_size))


def _check(x: np.ndarray, h0: np.ndarray, p: RNNParams) -> None:
    D, H = p.sizes
    if p.Wh.shape != (H, H) or p.b.shape != (H,):
        raise ValueError(f"Wx {p.Wx.shape} says D={D}, H={H}: Wh must be {(H, H)} and b {(H,)}, "
                         f"got {p.Wh.shape} and {p.b.shape}.")
    if x.ndim != 3 or x.shape[2] != D:
        raise ValueError(f"x must be (T, B, D={D}) -- time first, then batch, then features -- "
                         f"got shape {x.shape}.")
    if h0.shape != (x.shape[1], H):
        raise ValueError(f"h0 must be (B={x.shape[1]}, H={H}), got {h0.shape}.")


def rnn_step(x_t: np.ndarray, h_prev: np.ndarray, p: RNNParams) -> np.ndarray:
    """One step, ``tanh(x_t @ Wx + h_prev @ Wh + b)``: ``x_t`` (B, D), ``h_prev`` (B, H) -> (B, H)."""
    return np.tanh(x_t @ p.Wx + h_prev @ p.Wh + p.b)


def rnn_forward(x: np.ndarray, h0: np.ndarray, p: RNNParams) -> np.ndarray:
    """Run the recurrence over a whole sequence.

    Args:
        x: ``(T, B, D)`` inputs, time first.
        h0: ``(B, H)`` start state (usually zeros).
        p: the parameters.

    Returns:
        ``(T, B, H)``: the hidden states ``h_1 ... h_T`` (``h0`` is not included).
    """
    _check(x, h0, p)
    h = np.empty((x.shape[0], x.shape[1], p.sizes[1]), dtype=np.result_type(x, p.Wx))
    h_prev = h0
    for t in range(x.shape[0]):
        h_prev = h[t] = rnn_step(x[t], h_prev, p)
    return h


def rnn_backward(dh: np.ndarray, x: np.ndarray, h0: np.ndarray, h: np.ndarray,
                 p: RNNParams) -> dict[str, np.ndarray]:
    """Backpropagation through time for :func:`rnn_forward`.

    Args:
        dh: ``(T, B, H)`` gradient of the loss with respect to each returned hidden state,
            *directly* (zeros where the loss does not read a step, e.g. all but the last for a
            many-to-one model).
        x, h0: the forward pass's inputs, ``(T, B, D)`` and ``(B, H)``.
        h: the forward pass's output, ``(T, B, H)``.
        p: the parameters.

    Returns:
        ``{"Wx": (D, H), "Wh": (H, H), "b": (H,), "x": (T, B, D), "h0": (B, H),
        "dh_total": (T, B, H)}``: the gradients of the loss with respect to the parameters, the
        inputs and the start state, and ``dh_total[t]``, the total gradient that reached
        ``h_t`` (directly and through all later steps).
    """
    _check(x, h0, p)
    if dh.shape != h.shape or h.shape[:2] != x.shape[:2]:
        raise ValueError(f"dh {dh.shape} and h {h.shape} must both be (T, B, H) = "
                         f"{(x.shape[0], x.shape[1], p.sizes[1])}.")
    grads = {"Wx": np.zeros_like(p.Wx), "Wh": np.zeros_like(p.Wh), "b": np.zeros_like(p.b),
             "x": np.zeros_like(x), "dh_total": np.zeros_like(h)}
    g = np.zeros_like(h0)  # gradient arriving at h_t from step t+1
    for t in reversed(range(x.shape[0])):
        g = g + dh[t]
        grads["dh_total"][t] = g
        h_prev = h[t - 1] if t > 0 else h0
        da = g * (1.0 - h[t] ** 2)
        grads["Wx"] += x[t].T @ da
        grads["Wh"] += h_prev.T @ da
        grads["b"] += da.sum(axis=0)
        grads["x"][t] = da @ p.Wx.T
        g = da @ p.Wh.T
    grads["h0"] = g
    return grads


def clip_by_global_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale the gradients **in place** so that their joint Euclidean norm is at most ``max_norm``.

    The norm is taken over all entries of all arrays together (like
    ``torch.nn.utils.clip_grad_norm_``); the direction of the update is kept, only its length is
    capped. Returns the norm *before* clipping.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm
