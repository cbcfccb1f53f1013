"""Noise schedules: diffusers DDPMScheduler to train, DDIMScheduler (same betas) to sample.

The networks predict v = sqrt(a) eps - sqrt(1 - a) x0 rather than eps: an eps error at the last
timesteps (a ~ 1e-4) is amplified ~100x in the DDIM estimate of x0, and with a few hundred
optimiser steps on a few dozen subjects the sampled latents came out with 3x the data's spread
(measured on the demo config); v keeps that estimate bounded.
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler

from synthshare.config import DiffusionConfig

# The latent-diffusion schedule at 1000 steps; shorter schedules scale the betas by 1000 / T so the
# summed noise stays that of 1000 steps (alpha_bar at the last step ~1e-4). Without this, 50
# steps end at alpha_bar 0.64, far from the pure noise the sampler starts from (measured).
REFERENCE_TIMESTEPS = 1000
BETA_START, BETA_END = 0.0015, 0.0195


def _betas(num_train_timesteps: int) -> tuple[float, float]:
    scale = REFERENCE_TIMESTEPS / num_train_timesteps
    return BETA_START * scale, min(BETA_END * scale, 0.999)


def train_scheduler(*, config: DiffusionConfig) -> DDPMScheduler:
    beta_start, beta_end = _betas(config.num_train_timesteps)
    return DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule="scaled_linear",
        beta_start=beta_start,
        beta_end=beta_end,
        prediction_type="v_prediction",
        clip_sample=False,
    )


def training_target(*, scheduler: DDPMScheduler, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the network is trained to output for x_t = add_noise(x0, noise, t)."""
    if scheduler.config.prediction_type == "v_prediction":
        return scheduler.get_velocity(x0, noise, t)
    return noise


def sample_scheduler(*, config: DiffusionConfig, steps: int) -> DDIMScheduler:
    scheduler = DDIMScheduler.from_config(train_scheduler(config=config).config, set_alpha_to_one=False, timestep_spacing="trailing")
    scheduler.set_timesteps(min(steps, config.num_train_timesteps))
    return scheduler
