"""Stage 2 and 3 jobs: the static (ED anatomy) and motion (residual) latent diffusion models.

Static: x0 = scaled z_ED, conditioned on the condition vector.
Motion: x0 = the scaled residuals z_t - z_ED for t = 1..T-1 stacked in the CHANNEL dimension
(one example per subject, frames seen together), conditioned on the scaled z_ED (context) and the
same condition vector. The ED residual is 0 by construction. motion.layout picks the network:
frames_in_channels (a UNet over the slice grid, phase given by channel order) or time_axis
(models/motion.py: a UNet along the cardiac cycle, slices in channels).

Latent scales (1 / std of the train latents and residuals) put the diffusion input near unit
variance. They are a statistic of the training data, so under DP they are fixed at 1.0 instead.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from synthshare.config import Config, DiffusionConfig
from synthshare.models.conditioning import null_vectors
from synthshare.models.denoiser import LatentDenoiser
from synthshare.models.device import device_of
from synthshare.models.motion import TimeAxisMotionDenoiser
from synthshare.models.precision import Resolved, autocast, training_precision
from synthshare.models.residual_norm import per_subject
from synthshare.models.schedulers import train_scheduler, training_target
from synthshare.train.datasets import TensorSubjectDataset
from synthshare.train.job import StageJob

log = logging.getLogger(__name__)


def residuals(latents: torch.Tensor) -> torch.Tensor:
    """(N, T, C, S, h, w) -> (N, (T-1)*C, S, h, w): z_t - z_ED for t >= 1, frames in channels."""
    res = latents[:, 1:] - latents[:, :1]
    return res.reshape(res.shape[0], -1, *res.shape[3:])


def data_scale(x: torch.Tensor, *, private: bool) -> float:
    if private:
        log.info("DP on: latent scale fixed at 1.0 (a data-derived scale would be an unaccounted release)")
        return 1.0
    std = float(x.std())
    return 1.0 / std if std > 1e-8 else 1.0


def build_static(*, config: Config, latent_channels: int) -> LatentDenoiser:
    return LatentDenoiser(config=config.static, channels=latent_channels)


def build_motion(*, config: Config, latent_channels: int) -> LatentDenoiser | TimeAxisMotionDenoiser:
    """The motion denoiser in the configured layout; both take and give residuals frames in channels."""
    frames = config.data.frames
    if config.motion.layout == "time_axis":
        return TimeAxisMotionDenoiser(config=config.motion, latent_channels=latent_channels, slices=config.data.slices,
                                      frames=frames)
    return LatentDenoiser(config=config.motion, channels=latent_channels * (frames - 1), context_channels=latent_channels)


def cycle_velocity(x: torch.Tensor, *, frames: int) -> torch.Tensor:
    """Frame-to-frame differences of residuals (B, (T-1)*C, ...) around the closed cycle: (B, T, C, ...).

    The ED residual is 0 at frame 0 and again at frame T (frame 0 of the next cycle), so the T differences
    are x_1 - 0, x_2 - x_1, ..., 0 - x_{T-1}."""
    b = x.shape[0]
    clip = x.reshape(b, frames - 1, -1, *x.shape[2:])
    zero = torch.zeros_like(clip[:, :1])
    return torch.diff(torch.cat([zero, clip, zero], dim=1), dim=1)


def _diffusion_loss(*, section: DiffusionConfig, generator: torch.Generator, has_context: bool,
                    precision: Resolved, context_noise: float = 0.0, velocity_weight: float = 0.0,
                    frames: int = 0) -> Any:
    """Per-example v-prediction loss (float32; the forward pass in ``precision``); context_noise > 0 adds
    N(0, context_noise^2) to the context (z_ED) of every training example (conditioning augmentation), drawn
    after the other random quantities. velocity_weight > 0 (motion only, ``frames`` the cycle's frames) adds
    that weight times the mean squared error of the x0 estimate's cycle_velocity: with v-prediction
    x0_hat = sqrt(a) x_t - sqrt(1 - a) v_hat, so x0_hat - x0 = -sqrt(1 - a) (v_hat - v)."""
    scheduler = train_scheduler(config=section)
    if velocity_weight > 0.0 and frames < 2:
        raise ValueError(f"velocity_weight={velocity_weight} needs the motion stage's frames (got {frames})")
    abar = scheduler.alphas_cumprod.to(torch.float32)
    null = torch.from_numpy(null_vectors(1))

    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # Draw every random quantity first, from the checkpointed generator, so a resume replays.
        x0, cond = batch["x0"], batch["cond"]
        b = x0.shape[0]
        noise = torch.randn(x0.shape, generator=generator)
        t = torch.randint(0, section.num_train_timesteps, (b,), generator=generator)
        drop = torch.rand(b, generator=generator) < section.cond_dropout
        cond = torch.where(drop[:, None], null.expand(b, -1), cond)
        xt = scheduler.add_noise(x0, noise, t)
        target = training_target(scheduler=scheduler, x0=x0, noise=noise, t=t)
        context = batch.get("context")
        if context is not None and context_noise > 0.0:
            context = context + context_noise * torch.randn(context.shape, generator=generator)
        device = device_of(model)
        target, xt, t, cond = target.to(device), xt.to(device), t.to(device), cond.to(device)
        with autocast(precision, device):
            pred = model(xt, t, cond, context.to(device)) if has_context else model(xt, t, cond)
        err = pred.float() - target
        loss = err.pow(2).reshape(b, -1).mean(dim=1)
        if velocity_weight > 0.0:
            x0_err = -(1.0 - abar.to(t.device)[t]).sqrt().reshape(b, *([1] * (err.ndim - 1))) * err
            loss = loss + velocity_weight * cycle_velocity(x0_err, frames=frames).pow(2).reshape(b, -1).mean(dim=1)
        return loss

    return loss


def static_job(*, config: Config, latents: torch.Tensor, cond: torch.Tensor, private: bool, seed: int) -> StageJob:
    """latents: (N, T, C, S, h, w) of the train subjects; cond: (N, CONDITION_DIM)."""
    torch.manual_seed(seed)
    z0 = latents[:, 0]
    scale = data_scale(z0, private=private)
    module = build_static(config=config, latent_channels=latents.shape[2])
    gen = torch.Generator().manual_seed(seed + 1)
    s = config.static
    return StageJob(name="static", module=module, dataset=TensorSubjectDataset(tensors={"x0": z0 * scale, "cond": cond}),
                    loss=_diffusion_loss(section=s, generator=gen, has_context=False, precision=training_precision(config)),
                    loss_generator=gen, steps=s.steps, batch_size=s.batch_size, lr=s.lr,
                    lr_schedule=s.lr_schedule, extra={"latent_scale": scale})


def motion_job(*, config: Config, latents: torch.Tensor, cond: torch.Tensor, latent_scale: float, private: bool, seed: int,
               stroke: torch.Tensor | None = None) -> StageJob:
    """stroke: (N,) divisors of the residuals (models/residual_norm.py), 1 when None."""
    torch.manual_seed(seed)
    res = residuals(latents)
    if stroke is not None:
        res = res / per_subject(stroke, res)
    scale = data_scale(res, private=private)
    module = build_motion(config=config, latent_channels=latents.shape[2])
    gen = torch.Generator().manual_seed(seed + 1)
    s = config.motion
    tensors = {"x0": res * scale, "context": latents[:, 0] * latent_scale, "cond": cond}
    return StageJob(name="motion", module=module, dataset=TensorSubjectDataset(tensors=tensors),
                    loss=_diffusion_loss(section=s, generator=gen, has_context=True, precision=training_precision(config),
                                       context_noise=s.context_noise, velocity_weight=s.velocity_weight,
                                       frames=config.data.frames),
                    loss_generator=gen,
                    steps=s.steps, batch_size=s.batch_size, lr=s.lr, lr_schedule=s.lr_schedule,
                    extra={"residual_scale": scale})
