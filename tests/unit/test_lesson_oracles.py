"""Oracles for the quantities that lessons' claim cells assert and that no module test computed
a second way (issue 26: a claim may not rest on the computation it checks).

Each test names the lesson and the claim it backs, and reaches the lesson's number by another
route: PyTorch's autograd or functional reference, a closed form, a profiler, a brute-force loop.
CONTRIBUTING.md lists every claim with its oracle, here or in the module's own test file.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from dlcourse.demos.learning_rate_explorer import descent_path
from dlcourse.numpy_nn import activations
from dlcourse.numpy_nn.conv import max_pool2d, output_size
from dlcourse.numpy_nn.init import he_normal, xavier_normal
from dlcourse.numpy_nn.losses import softmax
from dlcourse.pytorch.gan import mode_coverage, ring_centres
from dlcourse.pytorch.models import mlp_classifier, small_cnn

# ---------------------------------------------------------------- lesson 02: activation slopes


def test_largest_activation_slopes_are_a_quarter_and_one_by_autograd():
    """Lesson 02: the sigmoid's largest slope on the plotted grid is 1/4, tanh's is 1 (both at z = 0)."""
    zs = torch.linspace(-4, 4, 401, dtype=torch.float64, requires_grad=True)
    (sigmoid_slope,) = torch.autograd.grad(torch.sigmoid(zs).sum(), zs)
    (tanh_slope,) = torch.autograd.grad(torch.tanh(zs).sum(), zs)
    assert sigmoid_slope.max().item() == pytest.approx(0.25, abs=1e-15)
    assert tanh_slope.max().item() == pytest.approx(1.0, abs=1e-15)
    grid = zs.detach().numpy()
    assert activations.sigmoid_prime(grid).max() == pytest.approx(sigmoid_slope.max().item(), abs=1e-15)
    assert activations.tanh_prime(grid).max() == pytest.approx(tanh_slope.max().item(), abs=1e-15)


# ---------------------------------------------------------------- lesson 03: softmax, the step bound


def test_softmax_of_huge_logits_is_the_closed_form_of_their_differences():
    """Lesson 03: softmax([1000, 1001, 1002]) = e^k / (1 + e + e^2), whose largest entry is 0.6652."""
    closed_form = np.array([math.exp(k) for k in range(3)]) / sum(math.exp(k) for k in range(3))
    logits = np.array([[1000.0, 1001.0, 1002.0]])
    ours = softmax(logits)[0]
    np.testing.assert_allclose(ours, closed_form, rtol=1e-12)
    np.testing.assert_allclose(ours, torch.softmax(torch.from_numpy(logits), 1)[0].numpy(), rtol=1e-12)
    assert round(closed_form.max(), 4) == 0.6652


def test_gradient_descent_at_the_step_bound_oscillates_as_the_closed_form_says():
    """Lesson 03: on f(x) = x^2 each step multiplies x by 1 - 2 lr; at lr = 2 / curvature = 1, by -1."""
    path = descent_path(lambda p: 2 * p, np.array([2.5]), lr=1.0, steps=6)[:, 0]
    np.testing.assert_array_equal(path, 2.5 * (1 - 2 * 1.0) ** np.arange(7))


# ---------------------------------------------------------------- lesson 05: the spread through ReLU layers


def relu_output_std(pre_activation_variance: float) -> float:
    """The standard deviation of relu(z) for z ~ N(0, q): E[relu(z)^2] = q/2, E[relu(z)] = sqrt(q / 2 pi)."""
    q = pre_activation_variance
    return math.sqrt(q / 2 - q / (2 * math.pi))


def test_activation_spread_after_ten_relu_layers_follows_the_mean_field_closed_form():
    """Lesson 05: after ten ReLU layers of width n, Xavier keeps less than a tenth of He's spread and
    He's stays within a factor 2 of the input's.

    Closed form (inputs of variance 1): the first pre-activation has variance n sigma_W^2, and each
    ReLU layer multiplies it by n sigma_W^2 / 2. He (sigma_W^2 = 2/n): variance 2 at every layer;
    Xavier (2 / (n + n) = 1/n): 2^-(l-1) at layer l. So Xavier / He after ten layers is 2^-5.
    The package's initialisers, run through the lesson's experiment over several weight draws,
    land on the closed form (one draw varies by about 30 % at this width: the geometric mean of
    eight is within 20 %).
    """
    he, xavier = relu_output_std(2.0), relu_output_std(2.0 ** -9)
    assert xavier / he == pytest.approx(2 ** -5, rel=1e-12)
    assert xavier < 0.1 * he and 0.5 < he < 2
    width, logs = 256, {"he": [], "xavier": []}
    for seed in range(8):
        rng = np.random.default_rng(seed)
        x0 = rng.standard_normal((100, width))
        for name, init in (("he", he_normal), ("xavier", xavier_normal)):
            h = x0
            for _ in range(10):
                h = np.maximum(h @ init(width, width, rng), 0)
            logs[name].append(math.log(h.std()))
    assert math.exp(np.mean(logs["he"])) == pytest.approx(he, rel=0.2)
    assert math.exp(np.mean(logs["xavier"])) == pytest.approx(xavier, rel=0.2)


# ---------------------------------------------------------------- lesson 09: pooling an odd size


def test_pooling_nine_by_nine_maps_by_two_gives_four_by_four_like_torch():
    """Lesson 09: floor((9 - 2) / 2) + 1 = 4; PyTorch's max pooling agrees, shape and values."""
    x = np.random.default_rng(0).normal(size=(2, 3, 9, 9))
    theirs = F.max_pool2d(torch.from_numpy(x), 2).numpy()
    assert theirs.shape == (2, 3, 4, 4) and output_size(9, 2, 2, 0) == 4
    np.testing.assert_array_equal(max_pool2d(x, 2), theirs)


# ---------------------------------------------------------------- lesson 11a: mode coverage


def test_mode_coverage_equals_a_brute_force_count():
    """Lesson 11a: the modes a generator covers, counted sample by sample in plain Python."""
    centres = ring_centres(8)
    rng = np.random.default_rng(3)
    # a half-collapsed generator: three modes well covered, two with a few samples each, and strays
    samples = np.concatenate([np.repeat(centres[:3], 150, axis=0) + rng.normal(0, 0.05, size=(450, 2)),
                              np.repeat(centres[3:5], [16, 12], axis=0) + 0.01,
                              rng.uniform(-2.5, 2.5, size=(100, 2))])
    std, k, min_share = 0.05, 3.0, 0.2
    counts = [0] * len(centres)
    for x, y in samples.tolist():
        distances = [math.hypot(x - cx, y - cy) for cx, cy in centres.tolist()]
        nearest = min(range(len(centres)), key=distances.__getitem__)
        if distances[nearest] <= k * std:
            counts[nearest] += 1
    covered = sum(c >= min_share * len(samples) / len(centres) for c in counts)
    cov = mode_coverage(samples, centres, std=std, k=k, min_share=min_share)
    assert cov.counts.tolist() == counts and cov.covered == covered
    assert cov.high_quality == pytest.approx(sum(counts) / len(samples))
    assert 0 < covered < len(centres)  # the case is neither trivial nor full


# ---------------------------------------------------------------- lesson 12: FLOPs and the cost of training

# (input features, output features, output positions per image) of each weighted layer, from the
# architectures' definitions: padding 1 keeps 28 x 28, each 2 x 2 pooling halves it.
MLP_LAYERS = [(784, 256, 1), (256, 128, 1), (128, 10, 1)]
CNN_QUICK_LAYERS = [(1 * 9, 16, 28 * 28), (16 * 9, 32, 14 * 14), (32 * 49, 10, 1)]
CNN_FULL_LAYERS = [(1 * 9, 32, 28 * 28), (32 * 9, 64, 14 * 14), (64 * 49, 256, 1), (256, 10, 1)]


def closed_form_flops(layers: list[tuple[int, int, int]]) -> tuple[int, int]:
    """(forward, backward) FLOPs per image of a stack of dense and convolution layers.

    A weight used at P positions costs 2 P FLOPs (a multiply and an add) in the forward pass, and
    as much again for the gradient of the weight and for the gradient of the layer's input, except
    in the first layer, whose input (the pixels) needs no gradient.
    """
    forward = [2 * fan_in * fan_out * positions for fan_in, fan_out, positions in layers]
    return sum(forward), 2 * sum(forward) - forward[0]


def profiled_flops(net: torch.nn.Module, batch: int = 2) -> tuple[int, int]:
    """(forward, backward) FLOPs of one training step on ``batch`` images, counted by PyTorch."""
    x, labels = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    forward, backward = FlopCounterMode(display=False), FlopCounterMode(display=False)
    with forward:
        loss = F.cross_entropy(net(x), labels)
    with backward:
        loss.backward()
    return forward.get_total_flops(), backward.get_total_flops()


@pytest.mark.parametrize("make, layers, per_image", [
    (mlp_classifier, MLP_LAYERS, (469_504, 537_600)),
    (small_cnn, CNN_QUICK_LAYERS, (2_063_488, 3_901_184)),
    (lambda: small_cnn((32, 64), hidden=256, dropout=0.3), CNN_FULL_LAYERS, (9_287_680, 18_123_776)),
], ids=["mlp_07", "cnn_09_quick", "cnn_09_full"])
def test_flop_counter_agrees_with_the_closed_form(make, layers, per_image):
    """Lesson 12's table: FlopCounterMode's counts are the closed form's, and the lesson prints them."""
    torch.manual_seed(0)
    assert closed_form_flops(layers) == per_image
    assert profiled_flops(make(), batch=2) == (2 * per_image[0], 2 * per_image[1])


def test_lesson_12_flop_claims_hold_in_closed_form():
    """Lesson 12: the quick CNN needs more than four times the MLP's training FLOPs per image, and the
    MLP's are within 30 % of 6N, below it (the biases' additions are not counted)."""
    mlp, cnn = sum(closed_form_flops(MLP_LAYERS)), sum(closed_form_flops(CNN_QUICK_LAYERS))
    n_mlp = sum(fan_in * fan_out + fan_out for fan_in, fan_out, _ in MLP_LAYERS)
    assert n_mlp == 235_146
    assert cnn > 4 * mlp and round(cnn / mlp, 1) == 5.9
    assert 0.7 < mlp / (6 * n_mlp) < 1 and round(mlp / (6 * n_mlp), 2) == 0.71


def test_lesson_12_cost_estimates_by_gpu_hours():
    """Lesson 12's estimates, recomputed through GPU-hours and kilowatts instead of seconds and joules,
    from its stated assumptions and published figures; the numbers are those its tables print."""
    h200_hourly_flops = 989e12 * 0.40 * 3600            # FLOPs in one H200-hour at 40 % of the peak
    gpt3_flops = 6 * 175e9 * 300e9
    gpt3_gpu_hours = gpt3_flops / h200_hourly_flops
    gpt3_kwh, gpt3_dollars = gpt3_gpu_hours * 0.700, gpt3_gpu_hours * 4.00
    assert f"{gpt3_flops:.2e}" == "3.15e+23" and abs(gpt3_flops / 3.14e23 - 1) < 0.01
    assert round(gpt3_gpu_hours / 24) == 9_216 and 8_000 < gpt3_gpu_hours / 24 < 10_000
    assert round(gpt3_kwh / 1000) == 155 and 1 < 1_287_000 / gpt3_kwh < 10
    assert round(gpt3_dollars / 1e6, 2) == 0.88 and 0.5e6 < gpt3_dollars < 1e6
    llama_flops = 6 * 70e9 * 2e12
    assert round(llama_flops / h200_hourly_flops / 24) == 24_576
    assert round(llama_flops / h200_hourly_flops * 0.700 / 1000) == 413
    implied = llama_flops / (1_720_320 * 3600 * 312e12)  # published A100-hours at the A100's peak
    assert round(implied, 2) == 0.43 and 0.3 < implied < 0.6

    cnn_hours = 7.4 / 3600                              # the full CNN's measured training on one H200
    cnn_kwh = cnn_hours * 0.700
    assert round(cnn_kwh * 1000, 2) == 1.44 and round(cnn_hours * 4.00, 5) == 0.00822
    cnn_share = sum(closed_form_flops(CNN_FULL_LAYERS)) * 77_662 / 989e12   # FLOP/s over the peak
    assert round(cnn_share * 100, 2) == 0.22 and cnn_share < 0.01
    mlp_kwh = 15 * 60_000 / 51_438 / 3600 * 0.030       # the MLP's measured training on a 2-core CPU
    assert round(mlp_kwh * 1000, 2) == 0.15 and mlp_kwh * 0.20 < 0.01
    assert f"{gpt3_kwh / cnn_kwh:.1e}" == "1.1e+08" and 1e7 < gpt3_kwh / cnn_kwh < 1e9
