"""Tests of dlcourse.pytorch.diffusion against independent computations (lesson 11c)."""

import math

import numpy as np
import pytest
import torch

from dlcourse.pytorch.diffusion import Denoiser, NoiseSchedule, time_embedding


def test_linear_schedule_is_evenly_spaced_and_alpha_bar_is_the_running_product():
    s = NoiseSchedule.linear(50, beta_1=1e-3, beta_T=0.05)
    betas = np.linspace(1e-3, 0.05, 50)
    np.testing.assert_allclose(s.betas.numpy(), betas, rtol=1e-12)
    np.testing.assert_allclose(s.alphas.numpy(), 1 - betas, rtol=1e-12)
    # the product written out one factor at a time, in plain Python
    product, expected = 1.0, []
    for b in betas:
        product *= 1 - b
        expected.append(product)
    np.testing.assert_allclose(s.alpha_bars.numpy(), expected, rtol=1e-12)
    at = s.alpha_bar_at(torch.tensor([[0, 1], [50, 25]]))
    assert at.shape == (2, 2) and at.dtype == torch.float32
    np.testing.assert_allclose(at.numpy(), [[1.0, expected[0]], [expected[49], expected[24]]], rtol=1e-6)


def test_alpha_bar_is_the_variance_left_after_noising_step_by_step():
    """Simulate the forward chain x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps from x_0 = 1.5:
    x_t's mean is sqrt(alpha_bar_t) x_0 and its variance 1 - alpha_bar_t, as the closed form says."""
    s = NoiseSchedule.linear(40, beta_1=1e-3, beta_T=0.2)
    gen = torch.Generator().manual_seed(0)
    x = torch.full((200_000,), 1.5, dtype=torch.float64)
    for t in range(1, s.T + 1):
        beta = s.betas[t - 1]
        noise = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        x = torch.sqrt(1 - beta) * x + torch.sqrt(beta) * noise
        if t in (1, 10, 40):
            ab = float(s.alpha_bars[t - 1])
            assert float(x.mean()) == pytest.approx(math.sqrt(ab) * 1.5, abs=0.01)
            assert float(x.var()) == pytest.approx(1 - ab, abs=0.01)


def test_skip_visits_evenly_spaced_steps_from_the_top():
    s = NoiseSchedule.linear(100)
    assert s.skip(4) == [100, 75, 50, 25]
    assert s.skip(100) == list(range(100, 0, -1))
    assert s.skip(1) == [100]
    steps = NoiseSchedule.linear(10).skip(3)
    assert steps == [10, 7, 4] and len(set(steps)) == 3


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="between 0 and 1"):
        NoiseSchedule(torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError, match="1-D tensor"):
        NoiseSchedule(torch.zeros(0))
    with pytest.raises(ValueError, match="T must be a positive integer"):
        NoiseSchedule.linear(0)
    with pytest.raises(ValueError, match="beta_1 <= beta_T"):
        NoiseSchedule.linear(10, beta_1=0.1, beta_T=0.01)
    s = NoiseSchedule.linear(10)
    with pytest.raises(ValueError, match="integers in 0 .. 10"):
        s.alpha_bar_at(torch.tensor([11]))
    with pytest.raises(ValueError, match="integers in 0 .. 10"):
        s.alpha_bar_at(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="n_steps"):
        s.skip(11)


def test_time_embedding_is_the_sine_and_cosine_of_the_stated_angles():
    t = torch.tensor([0, 3, 10])
    emb = time_embedding(t, dim=6, T=10)
    assert emb.shape == (3, 6)
    for row, step in enumerate([0, 3, 10]):
        for k in range(3):
            angle = (step / 10) * (math.pi / 2) * 1000 ** (k / 2)
            assert float(emb[row, k]) == pytest.approx(math.sin(angle), abs=1e-4)
            assert float(emb[row, 3 + k]) == pytest.approx(math.cos(angle), abs=1e-4)
    with pytest.raises(ValueError, match="even"):
        time_embedding(t, dim=5, T=10)


def test_denoiser_maps_points_and_steps_to_points_and_depends_on_the_step():
    torch.manual_seed(0)
    net = Denoiser(data_dim=3, T=20, hidden=(16, 16), time_dim=8)
    x = torch.randn(4, 3)
    out = net(x, torch.tensor([1, 5, 10, 20]))
    assert out.shape == (4, 3)
    same_x_other_t = net(x, torch.tensor([2, 6, 11, 19]))
    assert not torch.allclose(out, same_x_other_t)
    linears = [m for m in net.net if isinstance(m, torch.nn.Linear)]
    assert [m.in_features for m in linears] == [3 + 8, 16, 16] and linears[-1].out_features == 3
    with pytest.raises(ValueError, match=r"x must be \(B, d\) and t \(B,\)"):
        net(x, torch.tensor([1, 2]))
