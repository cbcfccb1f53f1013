"""Shapes through each stage of the cascade on the tiny config (MONAI-style case table)."""

from __future__ import annotations

import pytest
import torch

from synthshare.models.conditioning import CONDITION_DIM
from synthshare.models.vae import SegVAE, latent_shape
from synthshare.train.latent_stage import build_motion, build_static

# (vae overrides, input (B, 1, S, H, W), expected latent (B, C, S, h, w))
VAE_CASES = [
    ({}, (2, 1, 4, 16, 16), (2, 2, 4, 8, 8)),
    ({"channels": [4, 8, 8]}, (1, 1, 3, 16, 16), (1, 2, 3, 4, 4)),
    ({"latent_channels": 3}, (1, 1, 2, 8, 8), (1, 3, 2, 4, 4)),
]


@pytest.mark.parametrize("overrides, input_shape, expected", VAE_CASES)
def test_vae_shapes(tiny_config, overrides, input_shape, expected):
    config = tiny_config.with_updates({"vae": overrides})
    vae = SegVAE(config=config.vae)
    out = vae(torch.rand(input_shape))
    assert tuple(out.mu.shape) == expected
    assert tuple(out.image.shape) == input_shape
    assert tuple(out.seg_logits.shape) == (input_shape[0], 4, *input_shape[2:])
    assert latent_shape(config=config.vae, slices=input_shape[2], height=input_shape[3], width=input_shape[4]) == expected[1:]


# (stage, latent (B, C, S, h, w) incl. odd sizes the UNet must pad, frames, motion layout)
DENOISER_CASES = [
    ("static", (2, 2, 4, 8, 8), 4, "frames_in_channels"),
    ("static", (1, 2, 3, 5, 7), 4, "frames_in_channels"),
    ("motion", (2, 2, 4, 8, 8), 4, "frames_in_channels"),
    ("motion", (1, 2, 3, 8, 8), 3, "frames_in_channels"),
    ("motion", (2, 2, 4, 8, 8), 4, "time_axis"),
    ("motion", (1, 2, 3, 5, 7), 6, "time_axis"),
]


@pytest.mark.parametrize("stage, shape, frames, layout", DENOISER_CASES)
def test_denoiser_shapes(tiny_config, stage, shape, frames, layout):
    config = tiny_config.with_updates({"data": {"frames": frames, "slices": shape[2]}, "motion": {"layout": layout}})
    b, c = shape[0], shape[1]
    cond = torch.zeros(b, CONDITION_DIM)
    t = torch.tensor([1] * b)
    if stage == "static":
        net = build_static(config=config, latent_channels=c)
        out = net(torch.randn(shape), t, cond)
        assert tuple(out.shape) == shape
    else:
        net = build_motion(config=config, latent_channels=c)
        x = torch.randn(b, c * (frames - 1), *shape[2:])
        out = net(x, t, cond, torch.randn(shape))
        assert tuple(out.shape) == tuple(x.shape)


def test_motion_needs_its_context(tiny_config):
    net = build_motion(config=tiny_config, latent_channels=2)
    with pytest.raises(ValueError, match="context"):
        net(torch.randn(1, 6, 4, 8, 8), torch.tensor([1]), torch.zeros(1, CONDITION_DIM))


def test_no_batchnorm_and_no_inplace(tiny_config):
    """Opacus needs GroupNorm and out-of-place activations (negative control: a BatchNorm is found)."""
    from opacus.validators import ModuleValidator

    nets = [SegVAE(config=tiny_config.vae), build_static(config=tiny_config, latent_channels=2),
            build_motion(config=tiny_config, latent_channels=2)]
    for net in nets:
        assert ModuleValidator.validate(net, strict=False) == []
    bad = torch.nn.Sequential(torch.nn.Conv3d(1, 2, 1), torch.nn.BatchNorm3d(2))
    assert ModuleValidator.validate(bad, strict=False) != []
