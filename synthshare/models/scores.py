"""Model-side membership scores for the audit (deterministic: fixed timesteps, seeded noise).

Lower error = the model fits that subject better; members (train) are expected lower than
non-members (holdout). The audit package takes these arrays; it never imports synthshare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch

from synthshare.data.prepared import PreparedSubject
from synthshare.models.conditioning import subject_conditions
from synthshare.models.device import device_of
from synthshare.models.encode import encode_frames, encode_subjects
from synthshare.models.schedulers import train_scheduler, training_target
from synthshare.sample.generator import TrainedGenerator, load_generator
from synthshare.train.latent_stage import residuals

__all__ = ["denoising_error_scores", "encode_subjects", "vae_reconstruction_scores"]  # encode_subjects: re-export


@torch.no_grad()
def denoising_error_scores(
    *, run_dir: Path, subjects: list[PreparedSubject], stage: Literal["static", "motion"], timesteps: Sequence[int],
    seed: int, generator: TrainedGenerator | None = None,
) -> np.ndarray:
    """(N,) per subject: mean MSE of the network's target (v) over `timesteps`, conditional, noise seeded per (seed, t)."""
    gen = generator if generator is not None else load_generator(run_dir=run_dir)
    section = getattr(gen.config, stage)
    scheduler = train_scheduler(config=section)
    net = gen.static if stage == "static" else gen.motion
    scores = np.zeros(len(subjects), dtype=np.float64)
    for i, subject in enumerate(subjects):
        latents = encode_frames(vae=gen.vae, image=subject.image)[None]  # (1, T, C, S, h, w)
        context = latents[:, 0] * gen.latent_scale
        x0 = context if stage == "static" else residuals(latents) * gen.residual_scale
        cond = torch.from_numpy(gen.codec.encode([subject_conditions(subject=subject)]))
        errors = []
        for t in timesteps:
            noise_gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, int(t)]).generate_state(1)[0]))
            noise = torch.randn(x0.shape, generator=noise_gen)
            ts = torch.tensor([int(t)])
            xt = scheduler.add_noise(x0, noise, ts)
            target = training_target(scheduler=scheduler, x0=x0, noise=noise, t=ts)
            d = device_of(net)
            pred = net(xt.to(d), ts.to(d), cond.to(d)) if stage == "static" else net(xt.to(d), ts.to(d), cond.to(d), context.to(d))
            errors.append(float((pred.cpu() - target).pow(2).mean()))
        scores[i] = float(np.mean(errors))
    return scores


@torch.no_grad()
def vae_reconstruction_scores(
    *, run_dir: Path, subjects: list[PreparedSubject], generator: TrainedGenerator | None = None
) -> np.ndarray:
    """(N,) per subject: mean squared image reconstruction error (posterior mean) over all frames."""
    gen = generator if generator is not None else load_generator(run_dir=run_dir)
    scores = np.zeros(len(subjects), dtype=np.float64)
    for i, subject in enumerate(subjects):
        latents = encode_frames(vae=gen.vae, image=subject.image)
        image, _ = gen.vae.decode(latents.to(device_of(gen.vae)))
        scores[i] = float((image[:, 0].cpu() - torch.from_numpy(subject.image.astype(np.float32))).pow(2).mean())
    return scores
