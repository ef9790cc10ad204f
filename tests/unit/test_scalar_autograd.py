"""dlcourse.numpy_nn.scalar_autograd against central finite differences and torch.autograd."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

from dlcourse.numpy_nn.layers import Linear, Sequential, Tanh
from dlcourse.numpy_nn.losses import softmax_cross_entropy
from dlcourse.numpy_nn.scalar_autograd import Value, graph_layers, topological_order

# Operations written so that the same line runs on a Value and on a float64 torch tensor (both
# have +, -, *, /, ** and the methods exp, log, tanh, relu). Each keeps its result in a sane range.
UNARY: list[Callable] = [
    lambda x: x.tanh(),
    lambda x: x.relu(),
    lambda x: x.tanh().exp(),
    lambda x: (x * x + 1.0).log(),
    lambda x: x**2,
    lambda x: (x * x + 0.5) ** 0.5,
    lambda x: -x,
    lambda x: 2.0 - x,
    lambda x: 3.0 * x,
    lambda x: 1.0 / (x * x + 1.0),
    lambda x: 1.5 + x,
]
BINARY: list[Callable] = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: (a * b).tanh(),
]


def random_expression(seed: int) -> tuple[list[float], Callable[[Sequence], object]]:
    """Random leaf values and a function building the same random expression from any leaves.

    Intermediate results are reused at random, so some nodes feed several others."""
    rng = np.random.default_rng(seed)
    n_leaves = int(rng.integers(2, 5))
    leaves = rng.uniform(-2, 2, n_leaves).tolist()
    plan = []
    for _ in range(int(rng.integers(6, 16))):
        if rng.random() < 0.5:
            plan.append(("unary", int(rng.integers(len(UNARY))), int(rng.integers(n_leaves + len(plan)))))
        else:
            i, j = rng.integers(n_leaves + len(plan), size=2)
            plan.append(("binary", int(rng.integers(len(BINARY))), (int(i), int(j))))

    def build(xs: Sequence):
        nodes = list(xs)
        for kind, op, args in plan:
            if kind == "unary":
                nodes.append(UNARY[op](nodes[args]))
            else:
                nodes.append(BINARY[op](nodes[args[0]], nodes[args[1]]))
        return nodes[-1] + nodes[-2] * 0.5  # the last two nodes together

    return leaves, build


def value_gradients(leaves: list[float], build) -> tuple[float, list[float]]:
    xs = [Value(v) for v in leaves]
    out = build(xs)
    out.backward()
    return out.data, [x.grad for x in xs]


def torch_gradients(leaves: list[float], build) -> tuple[float, list[float]]:
    xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in leaves]
    out = build(xs)
    out.backward()
    return out.item(), [0.0 if x.grad is None else x.grad.item() for x in xs]  # None: an unused leaf


@pytest.mark.parametrize("seed", range(25))
def test_random_expressions_match_finite_differences_and_torch(seed: int):
    leaves, build = random_expression(seed)
    data, grads = value_gradients(leaves, build)
    torch_data, torch_grads = torch_gradients(leaves, build)
    assert data == pytest.approx(torch_data, rel=1e-12, abs=1e-12)
    assert grads == pytest.approx(torch_grads, rel=1e-10, abs=1e-12)
    h = 1e-6
    for i in range(len(leaves)):
        up, down = list(leaves), list(leaves)
        up[i] += h
        down[i] -= h
        numeric = (build([Value(v) for v in up]).data - build([Value(v) for v in down]).data) / (2 * h)
        assert grads[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6), f"leaf {i}"


@pytest.mark.parametrize(("name", "build", "expected"), [
    ("a + a", lambda a: a + a, lambda a: 2.0),
    ("a * a", lambda a: a * a, lambda a: 2 * a),
    ("a * (a + 1) + a", lambda a: a * (a + 1) + a, lambda a: 2 * a + 2),
    ("tanh(a) * a - a / 2", lambda a: a.tanh() * a - a / 2,
     lambda a: (1 - math.tanh(a) ** 2) * a + math.tanh(a) - 0.5),
])
def test_a_value_used_several_times_accumulates_every_use(name: str, build, expected):
    a = Value(0.7)
    build(a).backward()
    assert a.grad == pytest.approx(expected(0.7), rel=1e-12), name
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    build(t).backward()
    assert a.grad == pytest.approx(t.grad.item(), rel=1e-12), name


def test_numbers_on_either_side_and_sum():
    v = Value(4.0)
    out = sum([2 * v, v * 2, 2 + v, v + 2, 2 - v, v - 2, 2 / v, v / 2, -v, v**3])
    out.backward()
    assert out.data == pytest.approx(8 + 8 + 6 + 6 - 2 + 2 + 0.5 + 2 - 4 + 64)
    assert v.grad == pytest.approx(2 + 2 + 1 + 1 - 1 + 1 - 2 / 16 + 0.5 - 1 + 3 * 16)
    assert (np.float64(2.0) * Value(3.0)).data == 6.0  # NumPy scalars are numbers too


def test_calling_backward_twice_adds_to_the_inputs_like_torch_and_resets_the_rest():
    a, b = Value(1.5), Value(-0.5)
    e = a * b
    out = (e + a).tanh()
    out.backward()
    once_a, once_e = a.grad, e.grad
    out.backward()
    assert a.grad == pytest.approx(2 * once_a) and e.grad == once_e and out.grad == 1.0
    ta = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    tout = (ta * -0.5 + ta).tanh()
    tout.backward(retain_graph=True)
    tout.backward()
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-12)


def test_a_leaf_started_from_gets_gradient_one_and_accumulates():
    x = Value(3.0)
    x.backward()
    assert x.grad == 1.0
    x.backward()
    assert x.grad == 2.0


def test_primitives_at_their_edges_follow_torch():
    zero = Value(0.0)
    zero.relu().backward()
    assert zero.grad == 0.0  # relu'(0) = 0 in PyTorch too
    root = Value(0.0)
    (root**0.5).backward()
    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (t**0.5).backward()
    assert root.grad == t.grad.item() == math.inf


def test_deep_graphs_need_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(10_000):  # 20,000 levels: twenty times Python's default recursion limit
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_topological_order_puts_every_node_once_after_its_parents():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    c = a * b
    d = c + a
    e = d * c + b
    order = topological_order(e)
    assert len(order) == len({id(n) for n in order}) == 6  # a, b, c, d, d * c and e
    position = {id(n): i for i, n in enumerate(order)}
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
    assert order[-1] is e


def test_graph_layers_put_inputs_first_and_every_edge_upwards():
    leaves, build = random_expression(3)
    root = build([Value(v) for v in leaves])
    layers = graph_layers(root)
    layer_of = {id(n): k for k, layer in enumerate(layers) for n in layer}
    assert all(not n.parents for n in layers[0]) and layers[-1] == [root]
    assert all(layer_of[id(p)] < layer_of[id(n)] for layer in layers for n in layer for p in n.parents)
    assert len(layer_of) == len(topological_order(root))


def test_a_small_value_network_matches_the_numpy_layers_of_lesson_05():
    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)
    x, labels = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    net = Sequential(Linear.from_weights(W1, b1), Tanh(), Linear.from_weights(W2, b2))
    loss, grad = softmax_cross_entropy(net.forward(x), labels)
    net.backward(grad)

    params = [[[Value(w) for w in row] for row in W] for W in (W1, W2)]
    biases = [[Value(v) for v in b] for b in (b1, b2)]
    total = Value(0.0)
    for row, label in zip(x.tolist(), labels.tolist(), strict=True):
        h = [(sum((params[0][i][j] * row[i] for i in range(3)), biases[0][j])).tanh() for j in range(4)]
        z = [sum((params[1][i][k] * h[i] for i in range(4)), biases[1][k]) for k in range(2)]
        total = total + (sum(zk.exp() for zk in z).log() - z[label])
    total = total / len(labels)
    total.backward()
    assert total.data == pytest.approx(loss, rel=1e-12)
    for W, dW in zip(params, (net.linears[0].dW, net.linears[1].dW), strict=True):
        np.testing.assert_allclose([[w.grad for w in row] for row in W], dW, rtol=1e-10, atol=1e-14)
    for b, db in zip(biases, (net.linears[0].db, net.linears[1].db), strict=True):
        np.testing.assert_allclose([v.grad for v in b], db, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("make", "error", "words"), [
    (lambda: Value(1.0).log(), None, None),
    (lambda: Value(0.0).log(), ValueError, "positive numbers only"),
    (lambda: Value(-2.0).log(), ValueError, "positive numbers only"),
    (lambda: Value("3"), TypeError, "must be a real number"),
    (lambda: Value(True), TypeError, "must be a real number"),
    (lambda: Value(1.0) + "a", TypeError, "must be a real number"),
    (lambda: "a" * Value(1.0), TypeError, "must be a real number"),
    (lambda: Value(1.0) * np.array([1.0, 2.0]), TypeError, r"\.item\(\)"),
    (lambda: Value(1.0) + torch.tensor(1.0), TypeError, r"\.item\(\)"),
    (lambda: Value(2.0) ** Value(2.0), TypeError, "Value exponent"),
    (lambda: Value(0.0) ** -1, ZeroDivisionError, "division by zero"),
    (lambda: 1.0 / Value(0.0), ZeroDivisionError, "division by zero"),
    (lambda: Value(-2.0) ** 0.5, ValueError, "whole-number power"),
    (lambda: topological_order(3.0), TypeError, "takes a Value"),
])
def test_bad_input_gets_a_clear_error(make, error, words):
    if error is None:
        assert make().data == 0.0
        return
    with pytest.raises(error, match=words):
        make()
