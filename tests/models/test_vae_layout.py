"""The VAE computes channels-last on the CPU; callers still see ordinary tensors and the same values."""

from __future__ import annotations

import pytest
import torch

from synthshare.models import vae as vae_module
from synthshare.models.vae import SegVAE


@pytest.fixture()
def model(tiny_config):
    torch.manual_seed(0)
    return SegVAE(config=tiny_config.vae)


def _frame(tiny_config) -> torch.Tensor:
    s, (h, w) = tiny_config.data.slices, tiny_config.data.crop
    return torch.rand(3, 1, s, h, w, generator=torch.Generator().manual_seed(1))


def test_outputs_are_contiguous_and_match_the_default_layout(model, tiny_config, monkeypatch):
    x = _frame(tiny_config)
    mu, logvar = model.encode(x)
    image, seg = model.decode(mu)
    assert all(t.is_contiguous() for t in (mu, logvar, image, seg))
    monkeypatch.setattr(vae_module, "_compute_layout", lambda t: t)  # the default NCDHW layout
    mu0, logvar0 = model.encode(x)
    image0, seg0 = model.decode(mu0)
    for a, b in ((mu, mu0), (logvar, logvar0), (image, image0), (seg, seg0)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_compute_layout_is_channels_last_on_the_cpu_and_keeps_values():
    x = torch.rand(2, 3, 4, 5, 6)
    y = vae_module._compute_layout(x)
    assert y.is_contiguous(memory_format=torch.channels_last_3d) and not x.is_contiguous(memory_format=torch.channels_last_3d)
    assert torch.equal(x, y)


def test_gradients_match_the_default_layout(model, tiny_config, monkeypatch):
    x = _frame(tiny_config)

    def grads() -> list[torch.Tensor]:
        model.zero_grad()
        out = model(x, torch.zeros(x.shape[0], tiny_config.vae.latent_channels, *model.encode(x)[0].shape[2:]))
        (out.image.square().mean() + out.seg_logits.square().mean()).backward()
        return [p.grad.clone() for p in model.parameters()]

    channels_last = grads()
    monkeypatch.setattr(vae_module, "_compute_layout", lambda t: t)
    default = grads()
    for a, b in zip(channels_last, default):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-6)
