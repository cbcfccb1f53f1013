"""The VAE and both latent denoisers compute channels-last on the CPU; callers still see ordinary tensors and the
same values and gradients as in the default layout."""

from __future__ import annotations

import copy

import pytest
import torch

from synthshare.models import denoiser as denoiser_module
from synthshare.models import device as device_module
from synthshare.models import vae as vae_module
from synthshare.models.conditioning import CONDITION_DIM
from synthshare.models.vae import SegVAE, latent_shape
from synthshare.train.latent_stage import build_motion, build_static


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
    monkeypatch.setattr(vae_module, "compute_layout", lambda t: t)  # the default NCDHW layout
    mu0, logvar0 = model.encode(x)
    image0, seg0 = model.decode(mu0)
    for a, b in ((mu, mu0), (logvar, logvar0), (image, image0), (seg, seg0)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_compute_layout_is_channels_last_on_the_cpu_and_keeps_values():
    x = torch.rand(2, 3, 4, 5, 6)
    y = device_module.compute_layout(x)
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
    monkeypatch.setattr(vae_module, "compute_layout", lambda t: t)
    default = grads()
    for a, b in zip(channels_last, default):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-6)


def _denoiser_inputs(tiny_config, model):
    c, s, h, w = latent_shape(config=tiny_config.vae, slices=tiny_config.data.slices, height=tiny_config.data.crop[0],
                              width=tiny_config.data.crop[1])
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, model.channels, s, h, w, generator=g)
    t = torch.tensor([0, 7, 40])
    cond = torch.randn(3, CONDITION_DIM, generator=g)
    context = torch.randn(3, model.context_channels, s, h, w, generator=g) if model.context_channels else None
    return x, t, cond, context


@pytest.mark.parametrize("stage,layout", [("static", None), ("motion", "frames_in_channels"), ("motion", "time_axis")])
def test_denoisers_match_the_default_layout_in_values_and_gradients(tiny_config, monkeypatch, stage, layout):
    config = tiny_config if layout is None else tiny_config.model_copy(
        update={"motion": tiny_config.motion.model_copy(update={"layout": layout})})
    torch.manual_seed(0)
    model = (build_static if stage == "static" else build_motion)(config=config, latent_channels=config.vae.latent_channels)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # off MONAI's zero-initialised output conv, which would make every output and gradient 0
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    x, t, cond, context = _denoiser_inputs(config, model)
    weight = torch.randn(x.shape, generator=g)  # a loss whose gradient reaches every output element

    def run(net: torch.nn.Module) -> tuple[torch.Tensor, list[torch.Tensor], bool]:
        seen: list[bool] = []
        unet = net.unet if hasattr(net, "unet") else net.net.unet
        hook = unet.register_forward_pre_hook(lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last_3d)))
        net.zero_grad()
        out = net(x, t, cond, context) if context is not None else net(x, t, cond)
        (out * weight).sum().backward()
        hook.remove()
        return out, [p.grad.clone() for p in net.parameters()], seen == [True]

    both = copy.deepcopy(model)
    device_module.to_compute_device(both)  # channels-last weights as well
    results = {"activations": run(model), "both": run(both)}
    monkeypatch.setattr(denoiser_module, "compute_layout", lambda v: v)
    out0, grads0, channels_last0 = run(copy.deepcopy(model))
    assert not channels_last0 and results["activations"][2] and results["both"][2], "the UNet should see channels-last input"
    assert out0.abs().max() > 0 and sum(float(g.abs().sum()) for g in grads0) > 0
    for out, grads, _ in results.values():
        assert out.is_contiguous() and out.shape == x.shape
        torch.testing.assert_close(out, out0, rtol=1e-4, atol=1e-5)
        for (name, _), a, b in zip(model.named_parameters(), grads, grads0):
            # per tensor, as float32 sums in another order differ (single elements by more); the attention key
            # projection's bias has a true gradient of 0 (softmax ignores a shared shift): rounding noise only
            assert float((a - b).norm()) <= 1e-4 * float(b.norm()) + 1e-5, name


def test_to_compute_device_makes_conv_weights_channels_last_without_changing_values_or_checkpoints(tiny_config, tmp_path):
    from synthshare.train.checkpoint import load_weights, save_weights

    torch.manual_seed(0)
    model = SegVAE(config=tiny_config.vae)
    default = {k: v.clone() for k, v in model.state_dict().items()}
    save_weights(path=tmp_path / "default.safetensors", weights=model.state_dict())
    assert device_module.to_compute_device(model) is model
    conv = [p for p in model.parameters() if p.dim() == 5]
    assert conv and all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in conv)
    assert any(not p.is_contiguous() for p in conv)  # (a 1-channel or 1x1x1 weight is both layouts at once)
    assert all(torch.equal(v, default[k]) for k, v in model.state_dict().items())
    save_weights(path=tmp_path / "compute.safetensors", weights=model.state_dict())
    assert (tmp_path / "compute.safetensors").read_bytes() == (tmp_path / "default.safetensors").read_bytes()
    fresh = device_module.to_compute_device(SegVAE(config=tiny_config.vae))
    fresh.load_state_dict(load_weights(weights_path=tmp_path / "default.safetensors"))
    assert all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in fresh.parameters() if p.dim() == 5)
    assert all(torch.equal(v, default[k]) for k, v in fresh.state_dict().items())
