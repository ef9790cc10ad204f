"""The layers of the from-scratch NumPy network (lesson 05), each with a forward and a backward pass.

Layout (shared with lesson 06, which loads these weights into a PyTorch model):

- a mini-batch is a 2-D array ``x`` of shape ``(N, n_in)``, one example per row;
- :class:`Linear` holds ``W`` of shape ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)`` and computes
  ``y = x @ W + b`` (PyTorch's ``nn.Linear`` stores ``weight = W.T``, shape ``(n_out, n_in)``);
- after ``backward`` it holds ``dW`` (shape of ``W``) and ``db`` (shape of ``b``): the gradients of the
  loss with respect to ``W`` and ``b``, summed over the mini-batch rows (the loss's own ``1/N``
  is already inside the gradient the loss returns);
- ``Sequential.linears`` lists the Linear layers in order; ``params()`` and ``grads()`` list
  ``[W1, b1, W2, b2, ...]`` and ``[dW1, db1, dW2, db2, ...]`` in the same order;
- ``Sequential.state_dict()`` names the same arrays by the Linear layer's position in the
  network, as PyTorch names ``nn.Sequential``'s: ``{"0.W": W1, "0.b": b1, "2.W": W2, ...}``
  (``mlp([64, 128, 10])`` puts its ReLU at position 1); ``load_state_dict`` copies them back.

Everything works in float64 by default (``dtype=np.float32`` for speed); a layer never changes the
dtype of what it is given. The protocol of every layer::

    y = layer.forward(x)          # remembers what backward needs
    dx = layer.backward(dy)       # dy = dL/dy, shape of y; returns dL/dx, shape of x
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlcourse.env.seeding import as_generator
from dlcourse.numpy_nn.init import INITIALISERS

__all__ = ["Layer", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Sequential", "mlp"]


class Layer:
    """Base class: a layer maps ``(N, d_in)`` to ``(N, d_out)`` and back-propagates gradients."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> list[np.ndarray]:
        """The trainable arrays of this layer (updated in place by an optimiser)."""
        return []

    def grads(self) -> list[np.ndarray]:
        """The gradients of :meth:`params`, in the same order, after :meth:`backward`."""
        return []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _saved(self, attr: str):
        """The array that forward stored in ``attr``; a clear error when forward has not run."""
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward was called before forward: "
                               "run forward on a mini-batch first.")
        return value

    #: The shape of the last ``forward``'s output (set by ``forward``; ``None`` before the first).
    _out_shape: tuple[int, ...] | None = None

    def _check_grad(self, grad_out: np.ndarray) -> np.ndarray:
        """``grad_out`` as an array, when it has the shape of the last ``forward``'s output.

        The one check of every ``backward`` here: a gradient ``dL/dy`` has one entry per entry of
        ``y``. Raises RuntimeError before the first ``forward``, ValueError on another shape.
        """
        expected = self._saved("_out_shape")
        grad_out = np.asarray(grad_out)
        if grad_out.shape != expected:
            raise ValueError(f"{type(self).__name__}.backward got a gradient of shape {grad_out.shape}, "
                             f"but its forward output had shape {expected}; they must be equal.")
        return grad_out


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``.

    Args:
        n_in, n_out: input and output sizes.
        init: a name from :data:`dlcourse.numpy_nn.init.INITIALISERS` (``"he"``, ``"xavier"``, ...).
        rng: the generator to draw ``W`` from (default: a fresh ``default_rng(0)``).
        dtype: float64 (default) or float32. ``b`` starts at zero.

    Shapes: ``forward`` takes ``(N, n_in)`` and returns ``(N, n_out)``; ``backward`` takes
    ``(N, n_out)``, sets ``dW`` ``(n_in, n_out)`` and ``db`` ``(n_out,)``, returns ``(N, n_in)``.
    """

    def __init__(self, n_in: int, n_out: int, *, init: str = "he",
                 rng: np.random.Generator | None = None, dtype: np.dtype = np.float64):
        if init not in INITIALISERS:
            raise ValueError(f"unknown init {init!r}; choose one of {sorted(INITIALISERS)}.")
        rng = as_generator(rng)
        self.W = INITIALISERS[init](n_in, n_out, rng, dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._x: np.ndarray | None = None

    @classmethod
    def from_weights(cls, W: np.ndarray, b: np.ndarray) -> Linear:
        """A Linear layer holding copies of ``W`` ``(n_in, n_out)`` and ``b`` ``(n_out,)``."""
        W, b = np.array(W, dtype=np.result_type(W, np.float32)), np.array(b)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"W must be 2-D (n_in, n_out) and b of shape (n_out,); got W {W.shape} "
                             f"and b {b.shape}. (A PyTorch weight is W.T.)")
        layer = cls.__new__(cls)
        layer.W, layer.b = W, b.astype(W.dtype)
        layer.dW, layer.db = np.zeros_like(layer.W), np.zeros_like(layer.b)
        layer._x = None
        return layer

    @property
    def n_in(self) -> int:
        return self.W.shape[0]

    @property
    def n_out(self) -> int:
        return self.W.shape[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.W.shape[0]:
            raise ValueError(f"Linear({self.n_in}, {self.n_out}) expects input of shape (N, {self.n_in}), "
                             f"got {x.shape}." + (" Reshape one example with x.reshape(1, -1)."
                                                  if x.ndim == 1 else ""))
        self._x, self._out_shape = x, (x.shape[0], self.n_out)
        return x @ self.W + self.b

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Set ``dW = x.T @ grad_out`` and ``db = grad_out.sum(0)``; return ``grad_out @ W.T``
        (or ``None`` when ``input_grad`` is False, which saves work in the first layer)."""
        grad_out = self._check_grad(grad_out)
        self.dW = self._x.T @ grad_out
        self.db = grad_out.sum(axis=0)
        return grad_out @ self.W.T if input_grad else None

    def params(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def grads(self) -> list[np.ndarray]:
        return [self.dW, self.db]

    def __repr__(self) -> str:
        return f"Linear({self.n_in}, {self.n_out}, dtype={self.W.dtype})"


class _Elementwise(Layer):
    """An activation ``a = f(z)`` applied elementwise; shapes in and out are equal.

    A subclass computes ``f`` in ``activate``, keeping what its derivative needs, and ``f'(z)`` in
    ``derivative``. The backward pass is then lesson 04's chain rule through an activation,
    ``dL/dz = f'(z) ∘ dL/da`` (∘: the elementwise product), written once for all of them.
    """

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        self._out_shape = z.shape
        return self.activate(z)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        grad_out = self._check_grad(grad_out)  # dL/da
        return self.derivative() * grad_out    # dL/dz = f'(z) ∘ dL/da

    def activate(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self) -> np.ndarray:
        """``f'(z)`` at the last forward's input, shape of ``z`` (computed from what was kept)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(_Elementwise):
    """``a = 1 / (1 + exp(-z))``; its derivative is ``a (1 - a)``, from the output alone."""

    def activate(self, z: np.ndarray) -> np.ndarray:
        self._a = 0.5 * (1.0 + np.tanh(0.5 * z))
        return self._a

    def derivative(self) -> np.ndarray:
        return self._a * (1.0 - self._a)


class Tanh(_Elementwise):
    """``a = tanh(z)``; its derivative is ``1 - a**2``, from the output alone."""

    def activate(self, z: np.ndarray) -> np.ndarray:
        self._a = np.tanh(z)
        return self._a

    def derivative(self) -> np.ndarray:
        return 1.0 - self._a * self._a


class ReLU(_Elementwise):
    """``a = max(z, 0)``; its derivative is 1 where ``z > 0`` and 0 elsewhere (a boolean mask)."""

    def activate(self, z: np.ndarray) -> np.ndarray:
        self._positive = z > 0
        return np.maximum(z, 0, dtype=z.dtype)

    def derivative(self) -> np.ndarray:
        return self._positive


class LeakyReLU(_Elementwise):
    """``a = z`` where ``z > 0``, else ``slope * z``; its derivative is 1 or ``slope``."""

    def __init__(self, slope: float = 0.01):
        self.slope = slope

    def activate(self, z: np.ndarray) -> np.ndarray:
        self._positive = z > 0
        self._dtype = z.dtype
        return np.where(self._positive, z, self.slope * z).astype(z.dtype, copy=False)

    def derivative(self) -> np.ndarray:
        return np.where(self._positive, 1.0, self.slope).astype(self._dtype, copy=False)

    def __repr__(self) -> str:
        return f"LeakyReLU(slope={self.slope})"


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse (backpropagation).

    ``forward`` takes ``(N, d_0)`` and returns ``(N, d_L)``; ``backward`` takes ``dL/d(output)``
    of shape ``(N, d_L)`` and fills every layer's gradients. By default the gradient with respect
    to the input is not computed (training does not need it) and ``backward`` returns ``None``
    when the first layer is Linear; ``backward(grad, input_grad=True)`` returns it, shape ``(N, d_0)``.
    """

    def __init__(self, *layers: Layer):
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError("Sequential needs one or more Layer objects, e.g. "
                             "Sequential(Linear(64, 32), ReLU(), Linear(32, 10)).")
        self.layers = list(layers)

    @property
    def linears(self) -> list[Linear]:
        """The Linear layers, in order (their ``.W``, ``.b``, ``.dW``, ``.db``)."""
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out: np.ndarray, input_grad: bool = False) -> np.ndarray | None:
        layers = self.layers
        for layer in reversed(layers[1:]):
            grad_out = layer.backward(grad_out)
        first = layers[0]
        if isinstance(first, Linear):
            return first.backward(grad_out, input_grad=input_grad)
        return first.backward(grad_out)

    def params(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.params()]

    def grads(self) -> list[np.ndarray]:
        return [g for layer in self.layers for g in layer.grads()]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters by name: ``"{i}.W"`` ``(n_in, n_out)`` and ``"{i}.b"``
        ``(n_out,)`` for the Linear layer at position ``i`` of :attr:`layers`."""
        return {f"{i}.{name}": getattr(layer, name).copy() for i, layer in enumerate(self.layers)
                if isinstance(layer, Linear) for name in ("W", "b")}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` (the names and shapes :meth:`state_dict` gives) into the parameters,
        in place and in their own dtype. A ValueError that says what differs, changing nothing,
        when a name is missing or unexpected or a shape differs."""
        own = {f"{i}.{name}": getattr(layer, name) for i, layer in enumerate(self.layers)
               if isinstance(layer, Linear) for name in ("W", "b")}
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"the state does not fit {self!r}: missing {missing}, "
                             f"unexpected {unexpected}")
        values = {name: np.asarray(state[name]) for name in own}
        for name, value in values.items():
            if value.shape != own[name].shape:
                raise ValueError(f"{name} has shape {value.shape} in the state, but "
                                 f"{own[name].shape} in {self!r}")
        for name, value in values.items():
            own[name][...] = value

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


_ACTIVATION_LAYERS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU}


def mlp(sizes: Sequence[int], activation: str = "relu", *, init: str | None = None,
        rng: np.random.Generator | None = None, dtype: np.dtype = np.float64) -> Sequential:
    """A multilayer perceptron: Linear layers of the given sizes with ``activation`` between them.

    ``mlp([64, 128, 10])`` is ``Sequential(Linear(64, 128), ReLU(), Linear(128, 10))``; the output
    is left linear (logits for :func:`dlcourse.numpy_nn.losses.softmax_cross_entropy`). ``init`` defaults to
    He for ReLU-like activations and Xavier for tanh and sigmoid. Weights are drawn from ``rng``
    layer by layer.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output size, all positive; got {sizes}.")
    if activation not in _ACTIVATION_LAYERS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATION_LAYERS)}.")
    init = init or ("he" if "relu" in activation else "xavier")
    rng = as_generator(rng)
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Linear(n_in, n_out, init=init, rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATION_LAYERS[activation]())
    return Sequential(*layers)
