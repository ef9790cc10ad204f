"""Tests of dlcourse.pytorch.vae (lesson 11c): the encoder and decoder are the stated networks."""

import pytest
import torch

from dlcourse.pytorch.vae import VAE


def test_encoder_splits_its_output_into_mean_and_log_variance():
    torch.manual_seed(0)
    vae = VAE(data_dim=5, latent_dim=3, hidden=(8, 4))
    x = torch.randn(6, 5)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (6, 3)
    whole = vae.encoder(x)  # (6, 2 k): the first k columns are the mean, the rest the log-variance
    torch.testing.assert_close(mu, whole[:, :3])
    torch.testing.assert_close(logvar, whole[:, 3:])
    linears = [m for m in vae.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 8), (8, 4), (4, 6)]


def test_decoder_mirrors_the_encoder_and_tanh_bounds_the_mean():
    torch.manual_seed(0)
    plain, bounded = VAE(4, 2, hidden=(8, 16)), VAE(4, 2, hidden=(8, 16), output="tanh")
    linears = [m for m in plain.decoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 16), (16, 8), (8, 4)]
    bounded.load_state_dict(plain.state_dict())
    z = 10 * torch.randn(7, 2)
    torch.testing.assert_close(bounded.decode(z), torch.tanh(plain.decode(z)))
    assert plain.decode(z).abs().max() > 1 >= bounded.decode(z).abs().max()


def test_vae_rejects_bad_settings():
    with pytest.raises(ValueError, match="must be positive"):
        VAE(2, 0)
    with pytest.raises(ValueError, match="output must be None or 'tanh'"):
        VAE(2, 2, output="sigmoid")
