"""Model-side membership scores for the audit (deterministic: fixed timesteps, seeded noise).

Lower error = the model fits that subject better; members (train) are expected lower than
non-members (holdout). The audit package takes these arrays; it never imports synthshare.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from synthshare.data.prepared import PreparedSubject
from synthshare.models.conditioning import subject_conditions
from synthshare.models.device import device_of
from synthshare.models.encode import encode_frames, encode_subjects
from synthshare.models.residual_norm import per_subject, stroke_scale
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
    # the noise of timestep t is the same for every subject: drawn once, seeded by (seed, t)
    ts = torch.tensor([int(t) for t in timesteps])
    noise_seeds = [int(np.random.SeedSequence([seed, int(t)]).generate_state(1)[0]) for t in timesteps]
    d = device_of(net)
    scores = np.zeros(len(subjects), dtype=np.float64)
    for i, subject in enumerate(subjects):
        latents = encode_frames(vae=gen.vae, image=subject.image)[None]  # (1, T, C, S, h, w)
        context = latents[:, 0] * gen.latent_scale
        if stage == "static":
            x0 = context
        else:  # as the motion model trained: residuals over the subject's own stroke (motion.residual_norm)
            stroke = stroke_scale([subject_conditions(subject=subject)], mode=gen.config.motion.residual_norm)
            res = residuals(latents)
            x0 = res / per_subject(stroke, res) * gen.residual_scale
        noise = torch.cat([torch.randn(x0.shape, generator=torch.Generator().manual_seed(s)) for s in noise_seeds])
        # 1. every timestep of one subject in one batch
        x0s = x0.expand(len(ts), *x0.shape[1:])
        xt = scheduler.add_noise(x0s, noise, ts)
        target = training_target(scheduler=scheduler, x0=x0s, noise=noise, t=ts)
        cond = torch.from_numpy(gen.codec.encode([subject_conditions(subject=subject)])).expand(len(ts), -1)
        if stage == "static":
            pred = net(xt.to(d), ts.to(d), cond.to(d))
        else:
            pred = net(xt.to(d), ts.to(d), cond.to(d), context.expand(len(ts), *context.shape[1:]).to(d))
        # 2. mean squared error per timestep, then over timesteps
        scores[i] = float((pred.cpu() - target).pow(2).flatten(1).mean(dim=1).mean())
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
