"""Stage 1: the semi-supervised VAE on one 3D frame (1, S, H, W).

One encoder to a latent (latent_channels, S, H/f, W/f), f = 2 ** (levels - 1), and two decoders:
the image and 4-class segmentation logits. Real cohorts label only ED and ES, so the segmentation
loss is weighted per sample by the frame's `labelled` flag: an unlabelled frame contributes exactly
zero segmentation loss and zero segmentation gradient, and still trains the image reconstruction.

On the CPU the VAE computes in the channels-last (NDHWC) memory layout, activations (models/device.py:
compute_layout) and, once to_compute_device has placed it, weights: oneDNN's Conv3d is about 3x faster on
8-channel activations in it, and a demo VAE training step 1.4x faster (benchmarks/memory_format_bench.py).
encode and decode take and return ordinary contiguous tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from synthshare.config import VAEConfig
from synthshare.labels import NUM_CLASSES
from synthshare.models.blocks import DownInPlane, ResBlock, UpInPlane, conv3d
from synthshare.models.device import compute_layout


def downsample_factor(channels: tuple[int, ...]) -> int:
    return 2 ** (len(channels) - 1)


def latent_shape(*, config: VAEConfig, slices: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Shape (C, S, h, w) of one frame's latent."""
    f = downsample_factor(config.channels)
    return (config.latent_channels, slices, height // f, width // f)


class _Encoder(nn.Module):
    def __init__(self, *, config: VAEConfig) -> None:
        super().__init__()
        ch, g = config.channels, config.norm_groups
        layers: list[nn.Module] = [conv3d(in_channels=1, out_channels=ch[0])]
        prev = ch[0]
        for level, width in enumerate(ch):
            for _ in range(config.num_res_blocks):
                layers.append(ResBlock(in_channels=prev, out_channels=width, groups=g))
                prev = width
            if level < len(ch) - 1:
                layers.append(DownInPlane(channels=prev))
        layers += [ResBlock(in_channels=prev, out_channels=prev, groups=g), nn.GroupNorm(g, prev), nn.SiLU()]
        layers.append(conv3d(in_channels=prev, out_channels=2 * config.latent_channels))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Decoder(nn.Module):
    def __init__(self, *, config: VAEConfig, out_channels: int) -> None:
        super().__init__()
        ch, g = tuple(reversed(config.channels)), config.norm_groups
        layers: list[nn.Module] = [conv3d(in_channels=config.latent_channels, out_channels=ch[0])]
        layers.append(ResBlock(in_channels=ch[0], out_channels=ch[0], groups=g))
        prev = ch[0]
        for level, width in enumerate(ch):
            for _ in range(config.num_res_blocks):
                layers.append(ResBlock(in_channels=prev, out_channels=width, groups=g))
                prev = width
            if level < len(ch) - 1:
                layers.append(UpInPlane(channels=prev))
        layers += [nn.GroupNorm(g, prev), nn.SiLU(), conv3d(in_channels=prev, out_channels=out_channels)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@dataclass(frozen=True)
class VAEOutput:
    image: torch.Tensor  # (B, 1, S, H, W)
    seg_logits: torch.Tensor  # (B, 4, S, H, W)
    mu: torch.Tensor  # (B, C, S, h, w)
    logvar: torch.Tensor


class SegVAE(nn.Module):
    """Encoder + image decoder + segmentation decoder (GroupNorm only; Opacus-compatible)."""

    def __init__(self, *, config: VAEConfig) -> None:
        super().__init__()
        self.latent_channels = config.latent_channels
        self.encoder = _Encoder(config=config)
        self.image_decoder = _Decoder(config=config, out_channels=1)
        self.seg_decoder = _Decoder(config=config, out_channels=NUM_CLASSES)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(compute_layout(x)).chunk(2, dim=1)
        return mu.contiguous(), logvar.clamp(-30.0, 20.0).contiguous()

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = compute_layout(z)
        return self.image_decoder(h).contiguous(), self.seg_decoder(h).contiguous()

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> VAEOutput:
        """noise: standard normal of the latent's shape for the reparameterisation; None decodes the mean."""
        mu, logvar = self.encode(x)
        z = mu if noise is None else mu + torch.exp(0.5 * logvar) * noise
        image, seg = self.decode(z)
        return VAEOutput(image=image, seg_logits=seg, mu=mu, logvar=logvar)


def soft_dice_loss(*, logits: torch.Tensor, labels: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Per-sample soft Dice loss over the foreground classes (B,)."""
    probs = torch.softmax(logits, dim=1)[:, 1:]
    onehot = nn.functional.one_hot(labels.long(), NUM_CLASSES).movedim(-1, 1)[:, 1:].to(probs.dtype)
    dims = tuple(range(2, probs.ndim))
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    return 1.0 - ((2.0 * inter + smooth) / (denom + smooth)).mean(dim=1)


def vae_per_sample_loss(
    *, out: VAEOutput, image: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor, config: VAEConfig
) -> torch.Tensor:
    """Per-example loss (B,): L1 reconstruction + labelled * (Dice + CE) + kl_weight * KL, in float32
    whatever precision the forward pass ran in (models/precision.py)."""
    b = image.shape[0]
    decoded, logits, mu, logvar = out.image.float(), out.seg_logits.float(), out.mu.float(), out.logvar.float()
    recon = (decoded - image).abs().reshape(b, -1).mean(dim=1)
    ce = nn.functional.cross_entropy(logits, labels.long(), reduction="none").reshape(b, -1).mean(dim=1)
    seg = (soft_dice_loss(logits=logits, labels=labels) + ce) * labelled.to(recon.dtype)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).reshape(b, -1).mean(dim=1)
    return recon + config.seg_weight * seg + config.kl_weight * kl
