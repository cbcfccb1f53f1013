"""Stages 2 and 3: the latent denoiser, MONAI's DiffusionModelUNet with the conditions added twice.

1. as input channels: noisy latent + context latent (motion: z_ED; static: none) + the condition
   vector broadcast over space (see conditioning.py);
2. through the timestep embedding, like MONAI's class embedding but for a continuous vector:
   emb = time_embed(t) + Linear(cond), which every ResBlock of the UNet receives.
No attention at the UNet's levels (attention_levels all False): on CPU it costs more than it gives
at these sizes. MONAI's middle block always keeps one self-attention layer at the coarsest level;
its projections are Linear layers, so every layer (Conv3d, GroupNorm, Linear) has an Opacus
per-sample gradient in hooks mode. (The key projection's bias has a true gradient of 0: softmax
ignores a shift shared by all keys.)

The UNet halves every spatial axis per level, so the latent is zero-padded up to a multiple of
2 ** (levels - 1) and the prediction cropped back.

On the CPU the UNet computes on channels-last activations (and, once models/device.py: to_compute_device
has placed it, weights), like the VAE: a demo training step 1.12x (static) and 1.16x (motion) faster
(benchmarks/memory_format_bench.py). The prediction comes back as an ordinary contiguous tensor.
"""

from __future__ import annotations

import torch
from monai.networks.nets import DiffusionModelUNet
from monai.networks.nets.diffusion_model_unet import get_timestep_embedding
from torch import nn

from synthshare.config import DiffusionConfig
from synthshare.models.conditioning import CONDITION_DIM
from synthshare.models.device import compute_layout


class _ConditionedUNet(DiffusionModelUNet):
    """DiffusionModelUNet whose timestep embedding also carries the condition vector."""

    def __init__(self, *, cond_dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.cond_embed = nn.Linear(cond_dim, self.block_out_channels[0] * 4)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        # 1. time + condition embedding
        emb = self.time_embed(get_timestep_embedding(timesteps, self.block_out_channels[0]).to(x.dtype))
        emb = emb + self.cond_embed(cond)
        # 2. down, keeping the skips
        h = self.conv_in(x)
        skips: list[torch.Tensor] = [h]
        for block in self.down_blocks:
            h, res = block(hidden_states=h, temb=emb, context=None)
            skips.extend(res)
        # 3. middle, 4. up with the skips, 5. out
        h = self.middle_block(hidden_states=h, temb=emb, context=None)
        for block in self.up_blocks:
            n = len(block.resnets)
            h = block(hidden_states=h, res_hidden_states_list=skips[-n:], temb=emb, context=None)
            skips = skips[:-n]
        return self.out(h)


class LatentDenoiser(nn.Module):
    """eps-prediction network: (x_t, t, cond, context) -> eps of x's shape."""

    def __init__(self, *, config: DiffusionConfig, channels: int, context_channels: int = 0) -> None:
        super().__init__()
        self.channels = channels
        self.context_channels = context_channels
        self.multiple = 2 ** (len(config.channels) - 1)
        self.unet = _ConditionedUNet(
            cond_dim=CONDITION_DIM,
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
        out = self.unet(compute_layout(h), timesteps, cond)
        return out[:, :, : spatial[0], : spatial[1], : spatial[2]].contiguous()
