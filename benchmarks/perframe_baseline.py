"""The published per-frame motion baseline, for benchmarks/generator_bench.py only: never a release model, never DP.

The published code's motion model sees ONE frame at a time: x = that frame's residual z_t - z_ED, with the
anatomy and the cardiac phase as context, and it samples each frame apart with the same initial noise for
every frame. Our joint motion LDM (synthshare/train/latent_stage.py, models/motion.py) denoises all residuals
of a subject in one sample instead. To compare the two like for like, this baseline changes only what the published design changes:
- the network is the joint model's LatentDenoiser with x = one frame's scaled residual (latent_channels
  channels) and context = the scaled z_ED plus PHASE_CHANNELS constant channels sin, cos (2 pi t / T);
- the condition vector, UNet channels, v-prediction loss, schedulers, steps, batch size, lr and EMA are
  those of config.motion, and the latent and residual scales those of the trained run;
- sampling reuses the run's anatomy (static LDM, same per-subject seeds, same noise order) and the
  motion stage's DDIM and guidance settings (sampler.ddim_sample, section "motion").

Training examples are (subject, frame t >= 1) PAIRS drawn uniformly, so frames are folded into the batch
and one subject can appear several times in a batch. Under DP-SGD that would bound the influence of a
frame, not of a subject, which is a guarantee of nothing (DESIGN.md, Privacy). That is why this model lives
under benchmarks/, is trained without DP whatever the run's privacy settings, and is never released.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from privacy import plain_stage
from synthshare.config import Config
from synthshare.models.conditioning import subject_conditions
from synthshare.models.denoiser import LatentDenoiser
from synthshare.models.device import default_device, device_of
from synthshare.models.encode import encode_subjects
from synthshare.models.motion import PHASE_CHANNELS  # sin and cos of the cardiac phase, as the time-axis model
from synthshare.models.precision import training_precision
from synthshare.models.schedulers import sample_scheduler
from synthshare.models.vae import latent_shape
from synthshare.sample.conditions import Condition
from synthshare.sample.generator import TrainedGenerator
from synthshare.sample.sampler import ddim_sample, guidance
from synthshare.train.checkpoint import load_weights, save_weights
from synthshare.train.datasets import TensorSubjectDataset
from synthshare.train.latent_stage import _diffusion_loss
from synthshare.train.run_dir import STAGES
from synthshare.train.trainer import SubjectSource

log = logging.getLogger(__name__)

NoiseMode = Literal["shared", "independent"]
VERSION = 1  # bump when training changes, so a cached baseline is retrained


def phase_context(*, frame: torch.Tensor, frames: int, spatial: tuple[int, ...]) -> torch.Tensor:
    """(B,) frame indices -> (B, 2, *spatial) constant channels sin(2 pi t / T), cos(2 pi t / T)."""
    angle = 2.0 * torch.pi * frame.to(torch.float32) / frames
    phase = torch.stack([torch.sin(angle), torch.cos(angle)], dim=1)
    return phase.reshape(*phase.shape, *(1 for _ in spatial)).expand(-1, -1, *spatial).contiguous()


def build_perframe(*, config: Config, latent_channels: int) -> LatentDenoiser:
    return LatentDenoiser(config=config.motion, channels=latent_channels, context_channels=latent_channels + PHASE_CHANNELS)


def frame_pairs(*, latents: torch.Tensor, cond: torch.Tensor, latent_scale: float, residual_scale: float) -> dict[str, torch.Tensor]:
    """Latents (N, T, C, S, h, w) -> one row per (subject, frame t >= 1), subject-major:
    x0 (scaled z_t - z_ED), context (scaled z_ED + phase of t), cond, and the subject and frame indices."""
    n, frames = latents.shape[:2]
    subject = torch.arange(n).repeat_interleave(frames - 1)
    frame = torch.arange(1, frames).repeat(n)
    z_ed = latents[subject, 0]
    x0 = (latents[subject, frame] - z_ed) * residual_scale
    phase = phase_context(frame=frame, frames=frames, spatial=tuple(x0.shape[2:]))
    return {"x0": x0, "context": torch.cat([z_ed * latent_scale, phase], dim=1), "cond": cond[subject],
            "subject": subject, "frame": frame}


@dataclass(frozen=True, kw_only=True)
class PerFrameBaseline:
    net: LatentDenoiser
    final_loss: float


def train_perframe(*, config: Config, latents: torch.Tensor, cond: torch.Tensor, latent_scale: float,
                   residual_scale: float, seed: int) -> PerFrameBaseline:
    """config.motion's steps of plain Adam over uniformly drawn (subject, frame) pairs; no DP (see the module docstring)."""
    torch.manual_seed(seed)
    s = config.motion
    net = build_perframe(config=config, latent_channels=latents.shape[2]).to(default_device())
    rows = frame_pairs(latents=latents, cond=cond, latent_scale=latent_scale, residual_scale=residual_scale)
    dataset = TensorSubjectDataset(tensors={k: rows[k] for k in ("x0", "context", "cond")})  # "subject" here: a pair
    # the precision the joint model trains in, so the two are compared alike
    loss_fn = _diffusion_loss(section=s, generator=torch.Generator().manual_seed(seed + 1), has_context=True,
                              precision=training_precision(config))
    optimizer = torch.optim.Adam(net.parameters(), lr=s.lr)
    stage = plain_stage(module=net, optimizer=optimizer, dataset=dataset, batch_size=min(s.batch_size, len(dataset)),
                        generator=torch.Generator().manual_seed(seed + 3))
    ema = {k: v.detach().clone() for k, v in net.state_dict().items()} if s.ema_decay > 0 else None
    loss = float("nan")
    net.train()
    while stage.steps_taken < s.steps:
        loss = stage.step(loss_fn)
        if ema is not None:
            with torch.no_grad():
                for k, v in net.state_dict().items():
                    if v.is_floating_point():
                        ema[k].mul_(s.ema_decay).add_(v.detach(), alpha=1.0 - s.ema_decay)
    if ema is not None:
        net.load_state_dict(ema)
    net.train(False)
    log.info("per-frame baseline: %d steps over %d (subject, frame) pairs, last loss %.4g", s.steps, len(dataset), loss)
    return PerFrameBaseline(net=net, final_loss=loss)


def cached_perframe(*, folder: Path, key: str, config: Config, train: Callable[[], PerFrameBaseline]) -> PerFrameBaseline:
    """The baseline cached in `folder` (weights.safetensors + record.json) when its key matches, else `train()` and cache it.

    key: what the weights depend on (the run's motion-stage hash covers data, config, seed and upstream stages).
    """
    full_key = hashlib.sha256(json.dumps({"motion": key, "version": VERSION}, sort_keys=True).encode()).hexdigest()
    weights, record = folder / "weights.safetensors", folder / "record.json"
    if weights.exists() and record.exists() and json.loads(record.read_text()).get("key") == full_key:
        net = build_perframe(config=config, latent_channels=config.vae.latent_channels)
        net.load_state_dict(load_weights(weights_path=weights))
        log.info("per-frame baseline: cached weights from %s", folder)
        return PerFrameBaseline(net=net.to(default_device()).train(False), final_loss=float(json.loads(record.read_text())["final_loss"]))
    baseline = train()
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(path=weights, weights=baseline.net.state_dict())
    record.write_text(json.dumps({"key": full_key, "steps": config.motion.steps, "final_loss": baseline.final_loss}, indent=2) + "\n")
    return baseline


def perframe_for_run(*, generator: TrainedGenerator, motion_hash: str, cohort: SubjectSource, train_keys: list[str],
                     folder: Path) -> PerFrameBaseline:
    """The baseline for a trained run: its train subjects' latents (the run's VAE) and condition vectors (the run's
    codec), the run's latent and residual scales and the motion stage's seed; cached in `folder`."""
    config = generator.config

    def train() -> PerFrameBaseline:
        latents = encode_subjects(vae=generator.vae, keys=train_keys, load=cohort.load)
        cond = torch.from_numpy(generator.codec.encode([subject_conditions(subject=cohort.load(k)) for k in train_keys]))
        return train_perframe(config=config, latents=latents, cond=cond, latent_scale=generator.latent_scale,
                              residual_scale=generator.residual_scale, seed=config.seed + 1000 * (STAGES.index("motion") + 1))

    return cached_perframe(folder=folder, key=motion_hash, config=config, train=train)


def motion_noise(*, generators: list[torch.Generator], shape: tuple[int, ...], frames: int, noise: NoiseMode) -> torch.Tensor:
    """(B, T-1, *shape) initial noise of the T-1 moving frames; "shared": one draw repeated over the frames
    (the published sampler), "independent": a draw per frame (the numbers of the joint sampler's one draw)."""
    if noise == "shared":
        return torch.stack([torch.randn(shape, generator=g)[None].repeat(frames - 1, *(1 for _ in shape)) for g in generators])
    return torch.stack([torch.randn((frames - 1, *shape), generator=g) for g in generators])


@torch.no_grad()
def sample_perframe_batch(*, generator: TrainedGenerator, baseline: PerFrameBaseline, conditions: list[Condition],
                          seeds: list[int], noise: NoiseMode) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels), each (B, T, S, H, W), as sampler.sample_batch but with every frame's residual from the per-frame model."""
    config = generator.config
    frames, slices = config.data.frames, config.data.slices
    height, width = config.data.crop
    c, s, h, w = latent_shape(config=config.vae, slices=slices, height=height, width=width)
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    b = len(seeds)
    # 1. conditions -> vectors; 2. anatomy from the static LDM, the same noise draw as sample_batch
    cond = torch.from_numpy(generator.codec.encode(conditions))
    z_ed = ddim_sample(net=generator.static, noise=torch.stack([torch.randn((c, s, h, w), generator=g) for g in gens]),
                       cond=cond, context=None, generator=generator, section="static")
    # 3. motion: every (subject, frame t >= 1) is one chain of the per-frame model, all in one batch
    frame = torch.arange(1, frames).repeat(b)
    context = torch.cat([z_ed.repeat_interleave(frames - 1, dim=0), phase_context(frame=frame, frames=frames, spatial=(s, h, w))], dim=1)
    x = motion_noise(generators=gens, shape=(c, s, h, w), frames=frames, noise=noise).reshape(-1, c, s, h, w)
    res = ddim_sample(net=baseline.net, noise=x, cond=cond.repeat_interleave(frames - 1, dim=0), context=context,
                      generator=generator, section="motion").reshape(b, frames - 1, c, s, h, w)
    # 4. back to VAE latent units (ED residual zero), 5. decode every frame, as sample_batch
    anatomy = z_ed / generator.latent_scale
    flat = torch.cat([anatomy[:, None], anatomy[:, None] + res / generator.residual_scale], dim=1).reshape(-1, c, s, h, w)
    images, labels = [], []
    for i in range(0, flat.shape[0], config.sampling.batch_size):
        image, seg = generator.vae.decode(flat[i : i + config.sampling.batch_size].to(device_of(generator.vae)))
        images.append(image[:, 0].cpu())
        labels.append(seg.argmax(dim=1).to(torch.uint8).cpu())
    shape = (b, frames, slices, height, width)
    return torch.cat(images).reshape(shape).numpy().astype(np.float32), torch.cat(labels).reshape(shape).numpy()


def evaluations_per_subject(*, generator: TrainedGenerator) -> int:
    """Denoiser calls of a sampler with one motion chain per moving frame (this baseline, or the joint model drawn
    once per frame): anatomy + (T-1) x motion, x2 each under guidance, plus one decode per frame."""
    s, frames = generator.config.sampling, generator.config.data.frames
    static_steps = len(sample_scheduler(config=generator.config.static, steps=s.ddim_steps).timesteps)
    motion_steps = len(sample_scheduler(config=generator.config.motion, steps=s.ddim_steps).timesteps)
    calls = lambda section: 1 if guidance(generator=generator, section=section) == 1.0 else 2
    return calls("static") * static_steps + (frames - 1) * calls("motion") * motion_steps + frames
