"""Stage 3's time-axis denoiser: the residual motion of one subject as a clip over the cardiac cycle.

The motion LDM's data are the residuals z_t - z_ED for t = 1..T-1, stored (as everywhere in the
code) frames in channels: (B, (T-1)*C, S, h, w). The frames_in_channels layout hands that straight
to a 3-D UNet over (slice, row, col); its every layer sees all frames at once, but as unordered
channels, with nothing shared between neighbouring frames.

This layout turns the same tensor into a clip (B, C*S, T-1, h, w) and runs the 3-D UNet over
(frame, row, col), so that
- every convolution runs ALONG the cycle, with one set of weights for every frame: neighbouring
  frames are computed alike, the inductive bias a smooth volume curve needs;
- the zero padding before frame 1 and after frame T-1 is exactly the ED residual (0 at frame 0,
  and again at frame T, which is frame 0 of the next cycle), so the convolutions' boundary is the
  true boundary condition rather than an artefact;
- the slices sit in channels (10 mm slices are weakly correlated through the plane, and the VAE
  never downsamples them), with the whole anatomy z_ED as context at every frame, plus two phase
  channels (sin, cos of 2 pi t / T) so that frame t knows where in the cycle it is.
It stays one example per subject (the batch axis is never reshaped), so Opacus' per-sample
gradients are per subject, as the privacy unit requires.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synthshare.config import MotionConfig
from synthshare.models.denoiser import LatentDenoiser

PHASE_CHANNELS = 2


def phase_channels(frames: int) -> torch.Tensor:
    """(2, frames - 1): sin and cos of 2 pi t / frames for the residual frames t = 1..frames-1."""
    angle = 2.0 * math.pi * torch.arange(1, frames, dtype=torch.float32) / frames
    return torch.stack([torch.sin(angle), torch.cos(angle)])


class TimeAxisMotionDenoiser(nn.Module):
    """v-prediction for the residuals, (B, (T-1)*C, S, h, w) in and out, computed on a (T-1, h, w) grid."""

    def __init__(self, *, config: MotionConfig, latent_channels: int, slices: int, frames: int) -> None:
        super().__init__()
        if frames < 2:
            raise ValueError(f"frames={frames}: the motion model needs at least 2 frames (ED and one more)")
        self.latent_channels, self.slices, self.frames = latent_channels, slices, frames
        self.channels = latent_channels * (frames - 1)  # the frames-in-channels interface of the sampler
        self.context_channels = latent_channels
        depth = latent_channels * slices
        self.net = LatentDenoiser(config=config, channels=depth, context_channels=depth + PHASE_CHANNELS)
        # A constant of the layout, not a weight: rebuilt from `frames`, never stored in a checkpoint.
        self.register_buffer("phase", phase_channels(frames), persistent=False)

    def forward(
        self, x: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        if context is None:
            raise ValueError(f"this denoiser needs a context latent (z_ED) with {self.context_channels} channels")
        b, _, s, h, w = x.shape
        c, n = self.latent_channels, self.frames - 1
        if s != self.slices or x.shape[1] != c * n:
            raise ValueError(f"motion input {tuple(x.shape)} does not match {n} frames x {c} channels x {self.slices} slices")
        # 1. frames in channels -> a clip: (B, T-1, C, S, h, w) -> (B, C*S, T-1, h, w)
        clip = x.reshape(b, n, c, s, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c * s, n, h, w)
        # 2. the anatomy at every frame, and where in the cycle each frame is
        anatomy = context.reshape(b, c * s, 1, h, w).expand(-1, -1, n, -1, -1)
        phase = self.phase[None, :, :, None, None].to(x.dtype).expand(b, -1, -1, h, w)
        out = self.net(clip, timesteps, cond, torch.cat([anatomy, phase], dim=1))
        # 3. back to frames in channels
        return out.reshape(b, c, s, n, h, w).permute(0, 3, 1, 2, 4, 5).reshape(b, n * c, s, h, w)
