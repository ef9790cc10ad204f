"""Automatic differentiation on scalars (lesson 05b): a ``Value`` that remembers how it was made.

Every arithmetic operation on :class:`Value` objects builds a node of a computation graph: the
result's ``data``, the ``Value`` objects it was computed from (its *parents*), and a closure
``_backward`` that, given the result's gradient, adds the result's contribution to each parent's
gradient (the local derivative times the result's gradient: one link of the chain rule).
:meth:`Value.backward` visits the graph in reverse topological order, so that every node has
received the contributions of all the nodes it feeds before it passes its gradient on.

Gradients **accumulate** (``+=``): a value used twice receives a contribution from each use.
As in PyTorch, the gradients of the graph's inputs (its leaves) also accumulate from one call of
``backward`` to the next (set them to zero between training steps); the intermediate nodes start
from zero on every call. Only Python floats are involved: no NumPy, no torch. Usage::

    a, b = Value(2.0), Value(-3.0)
    loss = (a * b + a).tanh()
    loss.backward()                      # a.grad = dloss/da, b.grad = dloss/db
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

__all__ = ["Value", "topological_order", "graph_layers"]


def _number(x: object, what: str) -> float:
    """``x`` as a float, or a ``TypeError`` that says which numbers a ``Value`` accepts."""
    if isinstance(x, Real) and not isinstance(x, bool):
        return float(x)
    hint = " Use .item() to get a Python number out of a tensor or array." if hasattr(x, "item") else ""
    raise TypeError(f"{what} must be a real number (int or float) or a Value, got "
                    f"{type(x).__name__} {x!r}.{hint}")


class Value:
    """One scalar node of a computation graph, with its gradient.

    Args:
        data: the number this node holds (an int or a float; stored as a float).
        label: an optional name, used when printing or drawing the graph.
        parents, op: set by the operations (the nodes a result was made from, and how); an input
            has none.

    Attributes:
        data: the node's value (float).
        grad: ``d(root)/d(this node)`` after ``root.backward()`` (float, 0.0 before).
        parents: the ``Value`` objects this one was computed from (empty for an input).
        op: the operation that made it (``"+"``, ``"*"``, ``"tanh"``, ...; ``""`` for an input).

    Supported: ``+``, ``-``, ``*``, ``/`` (with a ``Value`` or a number on either side), ``-v``,
    ``v ** n`` (``n`` a number), :meth:`exp`, :meth:`log`, :meth:`tanh`, :meth:`relu`.
    """

    def __init__(self, data: float, label: str = "", *, parents: tuple[Value, ...] = (), op: str = ""):
        self.data = _number(data, "Value's data")
        self.grad = 0.0
        self.label = label
        self.parents = parents
        self.op = op
        self._backward: Callable[[float], None] = lambda grad: None

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.4g}, grad={self.grad:.4g})"

    @staticmethod
    def _as_value(other: Value | float) -> Value:
        return other if isinstance(other, Value) else Value(_number(other, "the other operand"))

    # -- the operations: each returns a new node and says how to pass a gradient back ----------

    def __add__(self, other: Value | float) -> Value:
        other = self._as_value(other)
        out = Value(self.data + other.data, parents=(self, other), op="+")

        def _backward(grad: float) -> None:  # d(a + b)/da = d(a + b)/db = 1
            self.grad += grad
            other.grad += grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = self._as_value(other)
        out = Value(self.data * other.data, parents=(self, other), op="*")

        def _backward(grad: float) -> None:  # d(a b)/da = b, d(a b)/db = a
            self.grad += other.data * grad
            other.grad += self.data * grad

        out._backward = _backward
        return out

    def __pow__(self, n: float) -> Value:
        if isinstance(n, Value):
            raise TypeError("v ** w with a Value exponent is not supported: write (w * v.log()).exp() "
                            "for v > 0, or use a number as the exponent.")
        n = _number(n, "the exponent")
        x = self.data
        if x == 0 and n < 0:
            raise ZeroDivisionError(f"0 ** {n:g} is undefined (division by zero): a Value of 0 was raised "
                                    "to a negative power, or divided into something.")
        if x < 0 and not n.is_integer():
            raise ValueError(f"({x:g}) ** {n:g} is not a real number: a negative Value can only be "
                             "raised to a whole-number power.")
        out = Value(x**n, parents=(self,), op=f"**{n:g}")

        def _backward(grad: float) -> None:  # n x^(n-1); infinite at x = 0 if n < 1, as in PyTorch
            local = math.inf if (x == 0 and n < 1) else n * x ** (n - 1)
            self.grad += local * grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """``e ** self``; its derivative is itself."""
        e = math.exp(self.data)
        out = Value(e, parents=(self,), op="exp")

        def _backward(grad: float) -> None:
            self.grad += e * grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """The natural logarithm; raises ``ValueError`` unless ``self.data > 0``."""
        if self.data <= 0:
            raise ValueError(f"log is defined for positive numbers only, got log({self.data:g}). "
                             "Shift or clip the argument (e.g. log(x + eps)) so it stays above 0.")
        out = Value(math.log(self.data), parents=(self,), op="log")

        def _backward(grad: float) -> None:  # d(log x)/dx = 1/x
            self.grad += grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """The hyperbolic tangent; its derivative is ``1 - tanh**2``."""
        t = math.tanh(self.data)
        out = Value(t, parents=(self,), op="tanh")

        def _backward(grad: float) -> None:
            self.grad += (1.0 - t * t) * grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """``max(0, self)``; its derivative is 1 above 0 and 0 elsewhere (0 at 0, as in PyTorch)."""
        out = Value(max(0.0, self.data), parents=(self,), op="relu")

        def _backward(grad: float) -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * grad

        out._backward = _backward
        return out

    # -- everything else is made of the operations above ----------------------------------------

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-self._as_value(other))

    def __truediv__(self, other: Value | float) -> Value:
        return self * self._as_value(other) ** -1

    def __radd__(self, other: float) -> Value:  # 2 + v, and sum() of Values, which starts at 0
        return self + other

    def __rmul__(self, other: float) -> Value:  # 2 * v
        return self * other

    def __rsub__(self, other: float) -> Value:  # 2 - v
        return self._as_value(other) - self

    def __rtruediv__(self, other: float) -> Value:  # 2 / v
        return self._as_value(other) / self

    # -- the backward pass -------------------------------------------------------------------------

    def backward(self) -> None:
        """Set ``node.grad`` to ``d(self)/d(node)`` for every node that ``self`` was computed from.

        Visits the nodes in reverse topological order (this one first, the inputs last) and runs
        each node's ``_backward``. Intermediate nodes start from 0; the inputs (leaves) and the
        start, if it is a leaf, **add** to the gradient they hold, as PyTorch's ``.grad`` does.
        """
        order = topological_order(self)
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad += 1.0  # d(self)/d(self)
        for node in reversed(order):
            node._backward(node.grad)


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its parents, ``root`` last.

    An iterative depth-first search (an explicit stack, no recursion), so graphs of any depth
    work: a chain of a hundred thousand operations is fine. Each node appears once.
    """
    if not hasattr(root, "parents"):  # any Value-like node (lesson 05b's own class too)
        raise TypeError(f"topological_order takes a Value, got {type(root).__name__}.")
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)  # all of its parents are in `order` already
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))  # comes back to it after its parents
        stack.extend((p, False) for p in node.parents if id(p) not in seen)
    return order


def graph_layers(root: Value) -> list[list[Value]]:
    """The nodes of ``root``'s graph in layers, for drawing: inputs in layer 0, ``root`` last.

    A node's layer is the length of the longest path from an input to it, so every edge goes from
    a lower layer to a higher one. Within a layer, nodes keep their topological order.
    """
    depth: dict[int, int] = {}
    layers: list[list[Value]] = []
    for node in topological_order(root):
        d = 1 + max((depth[id(p)] for p in node.parents), default=-1)
        depth[id(node)] = d
        if d == len(layers):
            layers.append([])
        layers[d].append(node)
    return layers

