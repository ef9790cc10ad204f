"""Oracles for the functions lesson 11c writes itself: the VAE's loss and the diffusion steps.

Each function is read from the committed notebook (``lesson_function``, nothing executed) and
compared with an independent computation: ``torch.distributions``, the closed-form posterior of
the forward process (Ho et al., 2020, eq. 7), and a simulation of the forward chain
(CONTRIBUTING.md, "Claim oracles").
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dlcourse.pytorch.diffusion import NoiseSchedule
from dlcourse.pytorch.vae import VAE
from tests.notebooks.test_lesson_code_oracles import lesson_function

LESSON = "11c_vae_and_diffusion.ipynb"
SCHEDULE = NoiseSchedule.linear(100, beta_1=1e-4, beta_T=0.1)


def namespace() -> dict:
    return {"math": math, "torch": torch, "F": F, "device": torch.device("cpu")}


def test_gaussian_kl_equals_torch_distributions():
    gaussian_kl = lesson_function(LESSON, "gaussian_kl", namespace())
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    logvar = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(gaussian_kl(mu, logvar), torch.distributions.kl_divergence(q, p).sum(dim=1))


def test_vae_loss_is_the_gaussian_log_likelihood_plus_the_kl():
    """With the noise of the reparameterisation switched off (z = mu), the reconstruction term is
    -log N(x; decoder(mu), sigma^2 I) by torch.distributions, and the KL term is kl_divergence's."""
    ns = namespace()
    lesson_function(LESSON, "gaussian_kl", ns)
    vae_loss = lesson_function(LESSON, "vae_loss", ns)
    ns["reparameterise"] = lambda mu, logvar: mu
    torch.manual_seed(0)
    vae, x = VAE(3, 2, hidden=(8,)).double(), torch.randn(5, 3, dtype=torch.float64)
    total, reconstruction, kl = vae_loss(vae, x, 0.3)
    mu, logvar = vae.encode(x)
    expected_rec = -torch.distributions.Normal(vae.decode(mu), 0.3).log_prob(x).sum(dim=1).mean()
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(0.0, 1.0)
    expected_kl = torch.distributions.kl_divergence(q, prior).sum(dim=1).mean()
    torch.testing.assert_close(reconstruction, expected_rec)
    torch.testing.assert_close(kl, expected_kl)
    torch.testing.assert_close(total, expected_rec + expected_kl)


def test_reparameterise_draws_from_the_encoders_gaussian():
    reparameterise = lesson_function(LESSON, "reparameterise", namespace())
    torch.manual_seed(0)
    mu = torch.tensor([[1.0, -2.0]]).repeat(200_000, 1)
    logvar = torch.tensor([[0.5, -1.5]]).repeat(200_000, 1)
    z = reparameterise(mu, logvar)
    torch.testing.assert_close(z.mean(dim=0), torch.tensor([1.0, -2.0]), atol=0.01, rtol=0)
    torch.testing.assert_close(z.std(dim=0), torch.exp(0.5 * torch.tensor([0.5, -1.5])), atol=0.01, rtol=0)


def test_q_sample_matches_a_simulation_of_the_forward_chain():
    """Run q(x_t | x_{t-1}) step by step from one point; the copies' mean and spread at t are those
    of the lesson's one-jump q_sample."""
    q_sample = lesson_function(LESSON, "q_sample", namespace())
    gen = torch.Generator().manual_seed(1)
    x0 = torch.tensor([[-1.0, 0.5]], dtype=torch.float64).repeat(100_000, 1)
    x = x0.clone()
    for t in range(1, 31):
        beta = SCHEDULE.betas[t - 1]
        noise = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        x = torch.sqrt(1 - beta) * x + torch.sqrt(beta) * noise
    noise = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    jump = q_sample(x0, torch.full((len(x0),), 30), noise, SCHEDULE)
    torch.testing.assert_close(x.mean(dim=0), jump.mean(dim=0), atol=0.01, rtol=0)
    torch.testing.assert_close(x.std(dim=0), jump.std(dim=0), atol=0.01, rtol=0)


def true_noise_model(x0: torch.Tensor):
    """A denoiser that knows x_0: it returns the exact noise in x_t, (x_t - sqrt(ab) x_0) / sqrt(1 - ab)."""
    def model(x_t, t):
        ab = SCHEDULE.alpha_bar_at(t).to(x_t.dtype)[:, None]
        return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()
    return model


@pytest.mark.parametrize("t", [2, 40, 100])
def test_ddpm_step_mean_is_the_closed_form_posterior_mean(t):
    """With the exact noise and z = 0, a DDPM step returns the mean of q(x_{t-1} | x_t, x_0), Ho et
    al.'s eq. 7: sqrt(ab_{t-1}) beta_t / (1 - ab_t) x_0 + sqrt(alpha_t) (1 - ab_{t-1}) / (1 - ab_t) x_t;
    with z it adds sqrt(beta_t) z."""
    ddpm_step = lesson_function(LESSON, "ddpm_step", namespace())
    gen = torch.Generator().manual_seed(t)
    x0, x_t = torch.randn(7, 2, generator=gen), torch.randn(7, 2, generator=gen)
    z = torch.randn(7, 2, generator=gen)
    beta = float(SCHEDULE.betas[t - 1])
    ab, ab_prev = float(SCHEDULE.alpha_bars[t - 1]), float(SCHEDULE.alpha_bars[t - 2])
    posterior_mean = ((math.sqrt(ab_prev) * beta / (1 - ab)) * x0
                      + (math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab)) * x_t)
    model = true_noise_model(x0)
    torch.testing.assert_close(ddpm_step(model, x_t, t, SCHEDULE, torch.zeros_like(z)), posterior_mean,
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ddpm_step(model, x_t, t, SCHEDULE, z), posterior_mean + math.sqrt(beta) * z,
                               rtol=1e-4, atol=1e-5)


def test_ddpm_step_adds_no_noise_at_the_last_step():
    ddpm_step = lesson_function(LESSON, "ddpm_step", namespace())
    x0, x_t = torch.randn(4, 2), torch.randn(4, 2)
    model = true_noise_model(x0)
    torch.testing.assert_close(ddpm_step(model, x_t, 1, SCHEDULE, torch.randn(4, 2)),
                               ddpm_step(model, x_t, 1, SCHEDULE, torch.zeros(4, 2)))


@pytest.mark.parametrize(("t", "s"), [(100, 0), (80, 30), (5, 4)])
def test_ddim_step_with_the_exact_noise_lands_on_the_same_noise_path(t, s):
    """Given the exact noise eps of x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps, DDIM's jump to s is
    sqrt(ab_s) x_0 + sqrt(1 - ab_s) eps, computed here from the schedule's table (x_0 itself at s = 0)."""
    ddim_step = lesson_function(LESSON, "ddim_step", namespace())
    gen = torch.Generator().manual_seed(t)
    x0, eps = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    table = [1.0, *SCHEDULE.alpha_bars.tolist()]
    x_t = math.sqrt(table[t]) * x0 + math.sqrt(1 - table[t]) * eps
    expected = math.sqrt(table[s]) * x0 + math.sqrt(1 - table[s]) * eps
    torch.testing.assert_close(ddim_step(true_noise_model(x0), x_t, t, s, SCHEDULE), expected,
                               rtol=1e-4, atol=1e-4)


def test_noise_prediction_loss_of_a_zero_model_is_the_noise_variance():
    """A model that predicts 0 scores E[eps^2] = 1; a model that knows x_0 (and so the noise) scores 0."""
    ns = namespace()
    lesson_function(LESSON, "q_sample", ns)
    loss = lesson_function(LESSON, "noise_prediction_loss", ns)
    torch.manual_seed(0)
    x0 = torch.randn(200_000, 2)
    assert float(loss(lambda x, t: torch.zeros_like(x), x0, SCHEDULE)) == pytest.approx(1.0, abs=0.01)
    assert float(loss(true_noise_model(x0), x0, SCHEDULE)) == pytest.approx(0.0, abs=1e-6)
