"""Noise schedules: diffusers DDPMScheduler to train, DDIMScheduler (same betas) to sample."""

from __future__ import annotations

from diffusers import DDIMScheduler, DDPMScheduler

from synthshare.config import DiffusionConfig


def train_scheduler(*, config: DiffusionConfig) -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule="scaled_linear",
        beta_start=0.0015,
        beta_end=0.0195,
        prediction_type="epsilon",
        clip_sample=False,
    )


def sample_scheduler(*, config: DiffusionConfig, steps: int) -> DDIMScheduler:
    scheduler = DDIMScheduler.from_config(train_scheduler(config=config).config, set_alpha_to_one=False, timestep_spacing="trailing")
    scheduler.set_timesteps(min(steps, config.num_train_timesteps))
    return scheduler
