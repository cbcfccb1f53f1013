"""Stages 2 and 3: the latent denoiser, MONAI's DiffusionModelUNet with conditions as channels.

Input channels = noisy latent + context latent (motion: z_ED; static: none) + the condition
vector broadcast over space (see conditioning.py). No attention: on CPU it costs more than it
gives at these sizes, and every remaining layer (Conv3d, GroupNorm, Linear) has an Opacus
per-sample gradient in hooks mode.

The UNet halves every spatial axis per level, so the latent is zero-padded up to a multiple of
2 ** (levels - 1) and the prediction cropped back.
"""

from __future__ import annotations

import torch
from monai.networks.nets import DiffusionModelUNet
from torch import nn

from synthshare.config import DiffusionConfig
from synthshare.models.conditioning import CONDITION_DIM


class LatentDenoiser(nn.Module):
    """eps-prediction network: (x_t, t, cond, context) -> eps of x's shape."""

    def __init__(self, *, config: DiffusionConfig, channels: int, context_channels: int = 0) -> None:
        super().__init__()
        self.channels = channels
        self.context_channels = context_channels
        self.multiple = 2 ** (len(config.channels) - 1)
        self.unet = DiffusionModelUNet(
            spatial_dims=3,
            in_channels=channels + context_channels + CONDITION_DIM,
            out_channels=channels,
            num_res_blocks=config.num_res_blocks,
            channels=tuple(config.channels),
            attention_levels=tuple(False for _ in config.channels),
            norm_num_groups=config.norm_groups,
        )

    def forward(
        self, x: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        spatial = x.shape[2:]
        parts = [x]
        if self.context_channels:
            if context is None:
                raise ValueError(f"this denoiser needs a context latent with {self.context_channels} channels")
            parts.append(context)
        parts.append(cond[:, :, None, None, None].expand(-1, -1, *spatial))
        h = torch.cat(parts, dim=1)
        pad: list[int] = []
        for size in reversed(spatial):
            pad += [0, (-size) % self.multiple]
        if any(pad):
            h = nn.functional.pad(h, pad)
        out = self.unet(h, timesteps)
        return out[:, :, : spatial[0], : spatial[1], : spatial[2]]
