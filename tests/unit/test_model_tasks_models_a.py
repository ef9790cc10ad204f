"""Exercises 05 and 10's trained models, judged by their parameters (dlcourse/model_tasks).

The models are real and trained here, cheaply: exercise 05's NumPy network with the package's
own loop and Adam (well under a second), exercise 10's name classifier with a few large-batch
epochs of Adam (about two seconds). Each task is run on what a kernel would send for them,
as the grader runs it; an untrained model of the right architecture falls short, and parameters
that are not the architecture's fail with a message. The adapters they need (a NumPy network's
parameters by name; the names' split; the classifier on packed sequences) are tested against
independent oracles: a copy round trip, the split by hand, the GRU's equations.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse.checks import from_plain, to_plain
from dlcourse.data.digits import digits_split
from dlcourse.data.sequence_data import Vocabulary, load_names, names_split
from dlcourse.model_tasks.task import get_task, judge
from dlcourse.numpy_nn.layers import mlp
from dlcourse.numpy_nn.optimizers import Adam
from dlcourse.numpy_nn.training import train
from dlcourse.pytorch.name_classifier import NameClassifier

DIGITS = get_task("digits_mlp")
NAMES = get_task("char_classifier")


def sent(task, model) -> object:
    """What a kernel sends for ``model``, as the grader reads it."""
    return from_plain(to_plain(task.state(model)))


@pytest.fixture(scope="module")
def trained_digits():
    split = digits_split()
    model = DIGITS.build()
    train(model, Adam(model.params(), lr=3e-3), split.X_train, split.y_train, epochs=12,
          batch_size=32, rng=np.random.default_rng(0), show_progress=False,
          measure_accuracy=False)
    return model


@pytest.fixture(scope="module")
def trained_names():
    split = names_split()
    X, y = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    torch.manual_seed(0)
    model = NAMES.build()
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(6):
        for batch in torch.randperm(len(y)).split(256):
            loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


# ---- Exercise 05: the digits network -----------------------------------------------------------

def test_a_numpy_network_names_its_parameters_and_loads_them_back():
    model = mlp([3, 4, 2], rng=np.random.default_rng(0))
    state = model.state_dict()
    assert {name: value.shape for name, value in state.items()} == {
        "0.W": (3, 4), "0.b": (4,), "2.W": (4, 2), "2.b": (2,)}
    assert all(a is not b for a, b in zip(state.values(), model.params(), strict=True))  # copies
    other = mlp([3, 4, 2], rng=np.random.default_rng(1))
    before = other.forward(np.ones((1, 3)))
    W = other.linears[0].W
    other.load_state_dict(state)
    assert other.linears[0].W is W, "loaded in place: an optimiser holding the arrays sees them"
    np.testing.assert_array_equal(other.forward(np.ones((1, 3))), model.forward(np.ones((1, 3))))
    assert not np.allclose(before, other.forward(np.ones((1, 3))))


@pytest.mark.parametrize(("change", "words"), [
    (lambda s: {k: v for k, v in s.items() if k != "2.b"}, "missing ['2.b']"),
    (lambda s: {**s, "4.W": np.zeros((2, 2))}, "unexpected ['4.W']"),
    (lambda s: {**s, "2.W": np.zeros((2, 4))}, "2.W has shape (2, 4) in the state, but (4, 2)"),
])
def test_a_state_that_does_not_fit_changes_nothing(change, words):
    model = mlp([3, 4, 2], rng=np.random.default_rng(0))
    before = model.state_dict()
    state = {k: v + 1 for k, v in before.items()}
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        model.load_state_dict(change(state))
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_the_digits_split_is_the_exercises():
    split = digits_split()
    assert split.X_train.shape == (1347, 64) and split.X_test.shape == (450, 64)
    assert split.X_train.min() == 0.0 and split.X_train.max() == 1.0
    counts = np.bincount(np.concatenate([split.y_train, split.y_test]))
    assert np.all(np.abs(np.bincount(split.y_test) - counts / 4) <= 1), "a stratified quarter"
    assert np.array_equal(digits_split().X_test, split.X_test)  # the same every time


def test_a_trained_digits_network_passes_and_an_untrained_one_falls_short(trained_digits):
    verdict = judge(DIGITS, sent(DIGITS, trained_digits), seconds=30.0)
    assert verdict.passed, verdict.message
    split = digits_split()  # the task measured the network itself, on the test split
    assert verdict.metrics["test accuracy"] == np.mean(
        trained_digits.forward(split.X_test).argmax(axis=1) == split.y_test)
    untrained = judge(DIGITS, sent(DIGITS, DIGITS.build()))
    assert untrained.kind == "score" and "it must be at least 0.97" in untrained.message
    late = judge(DIGITS, sent(DIGITS, trained_digits), seconds=121.0)
    assert late.kind == "time" and "more than its 120 s budget" in late.message


def test_the_digits_test_split_is_visible_so_training_on_it_passes():
    """The limit the task's docstring states, measured: the kernel can read the test images (they
    come with scikit-learn), and a network of the fixed architecture trained on them too reaches
    the requirement on its merits. The task grades the model, not where its data came from."""
    split = digits_split()
    X, y = np.concatenate([split.X_train, split.X_test]), np.concatenate([split.y_train,
                                                                          split.y_test])
    model = DIGITS.build()
    train(model, Adam(model.params(), lr=3e-3), X, y, epochs=12, batch_size=32,
          rng=np.random.default_rng(0), show_progress=False, measure_accuracy=False)
    verdict = judge(DIGITS, sent(DIGITS, model))
    assert verdict.passed and verdict.metrics["test accuracy"] > 0.99, verdict.message


@pytest.mark.parametrize(("change", "kind", "words"), [
    (lambda s: {k: v for k, v in s.items() if k != "4.W"}, "shape", "missing 4.W"),
    (lambda s: {**s, "6.W": np.zeros((10, 10))}, "shape", "unexpected 6.W"),
    (lambda s: {**s, "0.W": np.zeros((64, 32))}, "shape",
     "'0.W' has shape (64, 32), but mlp([64, 128, 64, 10]) has (64, 128)"),
    (lambda s: {**s, "2.b": np.full(64, np.nan)}, "nan", "NaN or infinite"),
    (lambda s: {**s, "2.W": from_plain(to_plain(np.zeros((4000, 1000))))}, "type",
     "not an array of numbers"),
])
def test_digits_parameters_that_are_not_the_network_fail(trained_digits, change, kind, words):
    verdict = judge(DIGITS, change(sent(DIGITS, trained_digits)))
    assert verdict.kind == kind and words in verdict.message, verdict.message


def test_a_torch_network_is_not_the_numpy_one():
    torch_mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                              nn.Linear(64, 10))
    verdict = judge(DIGITS, from_plain(to_plain(
        {k: v.detach().numpy() for k, v in torch_mlp.state_dict().items()})))
    assert verdict.kind == "shape" and "missing 0.W" in verdict.message


# ---- Exercise 10: the name classifier ---------------------------------------------------------

def test_the_names_split_is_the_exercises():
    split = names_split()
    names = load_names()
    lowered = [n.lower() for n in names.names]
    order = np.random.default_rng(10).permutation(len(lowered))
    test_idx = order[: len(order) // 5]
    assert split.X_train.shape == (4643, 20) and split.X_test.shape == (1160, 20)
    assert len(split.chars) == 54 and split.languages == names.languages
    assert [split.chars.decode(row) for row in split.X_test[:3]] == [
        list(lowered[i]) for i in test_idx[:3]]
    assert np.array_equal(split.y_test, names.labels[test_idx])
    assert split.chars.tokens == Vocabulary.build(
        [lowered[i] for i in order[len(order) // 5:]]).tokens


def gru_by_hand(model: NameClassifier, x: torch.Tensor) -> torch.Tensor:
    """The GRU's equations, one name at a time, up to its last character (an oracle for packing)."""
    W_ih, W_hh = model.rnn.weight_ih_l0, model.rnn.weight_hh_l0
    b_ih, b_hh = model.rnn.bias_ih_l0, model.rnn.bias_hh_l0
    out = []
    for ids in x:
        h = torch.zeros(model.rnn.hidden_size)
        for i in ids[ids != 0]:
            r_x, z_x, n_x = (W_ih @ model.embed.weight[i] + b_ih).chunk(3)
            r_h, z_h, n_h = (W_hh @ h + b_hh).chunk(3)
            r, z = torch.sigmoid(r_x + r_h), torch.sigmoid(z_x + z_h)
            h = (1 - z) * torch.tanh(n_x + r * n_h) + z * h
        out.append(model.out.weight @ h + model.out.bias)
    return torch.stack(out)


def test_the_name_classifier_stops_at_each_names_last_character():
    torch.manual_seed(0)
    model = NameClassifier(10, 3, embed=4, hidden=5)
    x = torch.tensor([[3, 4, 5, 0, 0], [2, 0, 0, 0, 0], [9, 8, 7, 6, 5]])
    with torch.no_grad():
        logits = model(x)
        assert logits.shape == (3, 3)
        torch.testing.assert_close(logits, gru_by_hand(model, x))
        longer = torch.cat([x, torch.zeros(3, 4, dtype=x.dtype)], dim=1)
        torch.testing.assert_close(model(longer), logits)  # more padding changes nothing
    assert set(model.state_dict()) == {"embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                       "rnn.bias_ih_l0", "rnn.bias_hh_l0", "out.weight", "out.bias"}


def test_a_trained_name_classifier_passes_and_an_untrained_one_falls_short(trained_names):
    verdict = judge(NAMES, sent(NAMES, trained_names), seconds=20.0)
    assert verdict.passed, verdict.message
    assert verdict.metrics["held-out accuracy"] >= 0.70
    torch.manual_seed(0)
    untrained = judge(NAMES, sent(NAMES, NAMES.build()))
    assert untrained.kind == "score" and "it must be at least 0.7" in untrained.message
    late = judge(NAMES, sent(NAMES, trained_names), seconds=61.0)
    assert late.kind == "time" and "more than its 60 s budget" in late.message


class LSTMClassifier(nn.Module):
    """Another recurrent model the exercise used to allow: an LSTM where the GRU is fixed."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(54, 32, padding_idx=0)
        self.rnn = nn.LSTM(32, 64, batch_first=True)
        self.out = nn.Linear(64, 8)


@pytest.mark.parametrize(("model", "change", "kind", "words"), [
    ("trained", lambda s: {k: v for k, v in s.items() if k != "out.bias"}, "shape",
     "missing out.bias"),
    ("trained", lambda s: {**s, "gru.weight_ih_l0": s["rnn.weight_ih_l0"]}, "shape",
     "unexpected gru.weight_ih_l0"),
    ("trained", lambda s: {**s, "embed.weight": np.zeros((54, 16), np.float32)}, "shape",
     "'embed.weight' has shape (54, 16), but NameClassifier"),
    ("trained", lambda s: {**s, "out.weight": np.full((8, 64), np.inf, np.float32)}, "nan",
     "NaN or infinite"),
    ("lstm", lambda s: s, "shape", "'rnn.weight_ih_l0' has shape (256, 32)"),
])
def test_name_parameters_that_are_not_the_classifier_fail(trained_names, model, change, kind,
                                                          words):
    chosen = trained_names if model == "trained" else LSTMClassifier()
    verdict = judge(NAMES, change(sent(NAMES, chosen)))
    assert verdict.kind == kind and words in verdict.message, verdict.message
