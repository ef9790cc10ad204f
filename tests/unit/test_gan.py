"""Tests of dlcourse.pytorch.gan against independent computations (lesson 11)."""

import math

import numpy as np
import pytest
import torch
from scipy.special import rel_entr
from scipy.stats import entropy

from dlcourse.pytorch.gan import (
    classifier_score,
    gan_mlp,
    mode_coverage,
    plot_ring_snapshots,
    ring_centres,
    sample_ring,
    train_gan,
)

# ---------------------------------------------------------------- the ring of Gaussians


def test_ring_centres_lie_on_the_circle_at_even_angles():
    c = ring_centres(8, radius=2.0)
    assert c.shape == (8, 2)
    np.testing.assert_allclose(np.hypot(c[:, 0], c[:, 1]), 2.0)
    np.testing.assert_allclose(c[0], [2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(c[2], [0.0, 2.0], atol=1e-12)  # a quarter turn
    # neighbouring centres are one chord apart: 2 r sin(pi / K)
    gaps = np.linalg.norm(c - np.roll(c, 1, axis=0), axis=1)
    np.testing.assert_allclose(gaps, 2 * 2.0 * math.sin(math.pi / 8))


def test_sample_ring_has_the_right_modes_weights_and_spread():
    rng = np.random.default_rng(1)
    x = sample_ring(40_000, n_modes=5, radius=3.0, std=0.1, rng=rng)
    assert x.shape == (40_000, 2) and x.dtype == np.float32
    c = ring_centres(5, 3.0)
    nearest = np.linalg.norm(x[:, None] - c[None], axis=2).argmin(axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=5) / len(x), 0.2, atol=0.01)
    residual = x - c[nearest]
    np.testing.assert_allclose(residual.std(axis=0), 0.1, rtol=0.03)
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=0.003)


def test_sample_ring_is_reproducible_and_rejects_bad_input():
    a = sample_ring(10, rng=np.random.default_rng(3))
    b = sample_ring(10, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sample_ring(10), sample_ring(10))  # without rng: the seeded default
    with pytest.raises(ValueError, match="std"):
        sample_ring(10, std=-1)
    with pytest.raises(ValueError, match="n_modes"):
        ring_centres(0)


# ---------------------------------------------------------------- mode coverage


def test_exact_centres_cover_every_mode_with_all_samples_high_quality():
    c = ring_centres(8)
    cov = mode_coverage(c, c, std=0.05)
    assert (cov.covered, cov.n_modes, cov.high_quality) == (8, 8, 1.0)
    np.testing.assert_array_equal(cov.counts, np.ones(8))


def test_all_samples_at_one_mode_cover_exactly_one():
    c = ring_centres(8)
    x = np.repeat(c[3:4], 100, axis=0) + 0.01
    cov = mode_coverage(x, c, std=0.05)
    assert cov.covered == 1 and cov.high_quality == 1.0
    assert cov.counts[3] == 100 and cov.counts.sum() == 100


def test_samples_between_modes_are_not_high_quality():
    c = ring_centres(8)
    between = (c + np.roll(c, 1, axis=0)) / 2  # chord midpoints: 0.77 from each centre
    cov = mode_coverage(between, c, std=0.05, k=3)
    assert cov.covered == 0 and cov.high_quality == 0.0
    # with a radius wide enough to reach them they count again (independent distance: half a chord)
    half_chord = 2.0 * math.sin(math.pi / 8)
    assert mode_coverage(between, c, std=(half_chord + 1e-6) / 3, k=3).high_quality == 1.0


def test_a_mode_needs_its_share_of_samples():
    c = ring_centres(4)
    # 97 samples at mode 0, one at each other mode: fair share 25, a fifth of it is 5
    x = np.concatenate([np.repeat(c[:1], 97, axis=0), c[1:]])
    assert mode_coverage(x, c, std=0.1).covered == 1
    assert mode_coverage(x, c, std=0.1, min_share=1 / 25).covered == 4


def test_mode_coverage_accepts_tensors_and_rejects_bad_shapes():
    c = ring_centres(8)
    assert mode_coverage(torch.tensor(c), c, std=0.05).covered == 8
    with pytest.raises(ValueError, match="same d"):
        mode_coverage(np.zeros((5, 3)), c, std=0.05)
    with pytest.raises(ValueError, match="min_share"):
        mode_coverage(c, c, std=0.05, min_share=0)


# ---------------------------------------------------------------- classifier score


def test_one_hot_predictions_spread_evenly_give_the_maximum_score():
    probs = np.eye(10)[np.arange(50) % 10]
    s = classifier_score(probs)
    assert s.confidence == pytest.approx(1.0)
    assert s.class_entropy == pytest.approx(math.log(10))
    assert s.kl_to_uniform == pytest.approx(0.0, abs=1e-9)
    assert s.inception_score == pytest.approx(10.0, rel=1e-6)


def test_one_hot_predictions_of_a_single_class_give_the_minimum_diversity():
    probs = np.eye(10)[np.full(20, 7)]
    s = classifier_score(probs)
    assert s.confidence == pytest.approx(1.0)
    assert s.class_entropy == pytest.approx(0.0, abs=1e-9)
    assert s.kl_to_uniform == pytest.approx(math.log(10))
    assert s.inception_score == pytest.approx(1.0)


def test_uniform_predictions_are_unconfident():
    s = classifier_score(np.full((7, 4), 0.25))
    assert s.confidence == pytest.approx(0.25)
    assert s.inception_score == pytest.approx(1.0)  # each row equals the marginal
    assert s.kl_to_uniform == pytest.approx(0.0, abs=1e-9)


def test_classifier_score_matches_scipy_on_random_probabilities():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(200, 6)) * 2)
    probs = torch.softmax(logits, dim=1)
    s = classifier_score(probs)
    p = probs.numpy()
    marginal = p.mean(axis=0)
    assert s.confidence == pytest.approx(p.max(axis=1).mean())
    assert s.class_entropy == pytest.approx(entropy(marginal), rel=1e-6)
    assert s.kl_to_uniform == pytest.approx(entropy(marginal, np.full(6, 1 / 6)), rel=1e-6)
    is_scipy = math.exp(np.mean([rel_entr(row, marginal).sum() for row in p]))
    assert s.inception_score == pytest.approx(is_scipy, rel=1e-6)
    np.testing.assert_allclose(s.class_share, marginal)


def test_classifier_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax"):
        classifier_score(np.array([[2.0, -1.0], [0.5, 0.1]]))
    with pytest.raises(ValueError, match="n_classes"):
        classifier_score(np.ones(3))


# ---------------------------------------------------------------- networks and the loop


def test_gan_mlp_layers_and_shapes():
    g = gan_mlp([8, 32, 32, 64], batch_norm=True, output="tanh")
    kinds = [type(m).__name__ for m in g]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear", "Tanh"]
    out = g(torch.randn(5, 8))
    assert out.shape == (5, 64) and out.abs().max() <= 1
    d = gan_mlp([2, 16, 1], activation="leaky_relu")
    assert [type(m).__name__ for m in d] == ["Linear", "LeakyReLU", "Linear"]
    assert d[1].negative_slope == 0.2
    with pytest.raises(ValueError, match="activation"):
        gan_mlp([2, 3], activation="swish")


def test_train_gan_calls_the_step_with_real_and_noise_and_snapshots_before_steps():
    torch.manual_seed(0)
    gen = torch.nn.Linear(3, 2)
    calls = []

    def step(real, z):
        calls.append((real.shape, z.shape))
        with torch.no_grad():  # a fake "update" that the snapshots must see
            gen.bias += 1.0
        return 0.5, float(len(calls))

    run = train_gan(step, gen, lambda n: torch.zeros(n, 2), steps=5, latent_dim=3, batch_size=4,
                    snapshot_at=[0, 2, 5], n_snapshot=6, progress_bar=False)
    assert calls == [((4, 2), (4, 3))] * 5
    assert run.d_loss == [0.5] * 5 and run.g_loss == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert sorted(run.snapshots) == [0, 2, 5] and run.snapshots[0].shape == (6, 2)
    # the same fixed noise at every snapshot: only the bias (+1 per step) moved the outputs
    np.testing.assert_allclose(run.snapshots[2] - run.snapshots[0], 2.0, rtol=1e-6)
    np.testing.assert_allclose(run.snapshots[5] - run.snapshots[0], 5.0, rtol=1e-6)


def test_train_gan_snapshots_in_eval_mode_and_restores_training_mode():
    gen = gan_mlp([2, 4, 2], batch_norm=True)
    modes = []
    gen.register_forward_pre_hook(lambda m, _: modes.append(m.training))
    run = train_gan(lambda real, z: (0.0, 0.0), gen, lambda n: torch.zeros(n, 2), steps=2,
                    latent_dim=2, snapshot_at=[0, 2], n_snapshot=3, progress_bar=False)
    assert modes == [False, False] and gen.training and len(run.snapshots) == 2
    with pytest.raises(ValueError, match="snapshot"):
        train_gan(lambda real, z: (0.0, 0.0), gen, lambda n: torch.zeros(n, 2), steps=2,
                  latent_dim=2, snapshot_at=[3], progress_bar=False)


def test_plot_ring_snapshots_reports_coverage_per_snapshot():
    c = ring_centres(8)
    run = train_gan(lambda real, z: (0.0, 0.0), torch.nn.Identity(), lambda n: torch.zeros(n, 2),
                    steps=1, latent_dim=2, snapshot_at=[0], progress_bar=False)
    run.snapshots = {0: c[:1].repeat(10, axis=0), 7: np.tile(c, (5, 1))}
    result = plot_ring_snapshots(run, c, std=0.05)
    assert [(t, cov.covered) for t, cov in result.items()] == [(0, 1), (7, 8)]
