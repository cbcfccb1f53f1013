"""The cascade sampler, written out: conditions -> anatomy (static LDM) -> motion (motion LDM) -> decode.

Every subject has its own seed (derived from the run seed and its index) and draws all of its
initial noise from its own generator; DDIM with eta = 0 is deterministic after that, so a subject
is reproduced by its seed and conditions whatever batch it was sampled in: the conditions the networks
were given (`model_conditions`), which are its request unless sampling.calibration_n divided its volumes by
the generator's measured overshoot (sample/calibration.py).

Under torchrun the single process's batches are dealt to the ranks in turn (batch b on rank
b % world); every rank draws the same conditions and derives the same per-subject seeds, and rank
0 gathers the subjects in order, so the cohort is the single-process cohort byte for byte (same
device and thread count). Dealing subject by subject (i % world) would regroup the batches, and
a batch's composition moves the last float bits of its members (measured: ~1e-7 on CPU).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from privacy.distributed import SINGLE, Shard, gather_to_main
from synthshare.data.measures import Measures, measure, volume_curve_ml
from synthshare.data.prepared import SyntheticSubject
from synthshare.errors import BadInputError
from synthshare.labels import LV
from synthshare.models.conditioning import null_vectors
from synthshare.models.denoiser import LatentDenoiser
from synthshare.models.device import device_of
from synthshare.models.residual_norm import per_subject, stroke_scale
from synthshare.models.schedulers import sample_scheduler
from synthshare.models.vae import latent_shape
from synthshare.reports import curves
from synthshare.sample.calibration import (
    CALIBRATION_STREAM,
    Calibration,
    calibration_conditions,
    fit_factors,
    model_condition,
)
from synthshare.sample.conditions import Condition, draw_conditions
from synthshare.sample.generator import TrainedGenerator, load_generator

log = logging.getLogger(__name__)

SampleProgress = Callable[[int, int], None]


def subject_seed(*, seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def network_evaluations_per_subject(*, generator: TrainedGenerator) -> int:
    """Denoiser calls (x2 under classifier-free guidance) for anatomy and motion, plus one decode per frame, for
    one draw (sampling.plausibility_tries may draw a subject again: the generator bench counts every draw)."""
    s = generator.config.sampling
    static_steps = len(sample_scheduler(config=generator.config.static, steps=s.ddim_steps).timesteps)
    motion_steps = len(sample_scheduler(config=generator.config.motion, steps=s.ddim_steps).timesteps)
    calls = lambda section: 1 if guidance(generator=generator, section=section) == 1.0 else 2
    return calls("static") * static_steps + calls("motion") * motion_steps + generator.config.data.frames


def guidance(*, generator: TrainedGenerator, section: str) -> float:
    """The classifier-free guidance scale of one stage ("static" or "motion")."""
    s = generator.config.sampling
    if section == "motion" and s.motion_guidance_scale is not None:
        return s.motion_guidance_scale
    return s.guidance_scale


@torch.no_grad()
def ddim_sample(
    *, net: LatentDenoiser, noise: torch.Tensor, cond: torch.Tensor, context: torch.Tensor | None,
    generator: TrainedGenerator, section: str,
) -> torch.Tensor:
    """DDIM (eta 0) from `noise` with classifier-free guidance: out = out_null + g (out_cond - out_null) (v-prediction)."""
    config = getattr(generator.config, section)
    g = guidance(generator=generator, section=section)
    scheduler = sample_scheduler(config=config, steps=generator.config.sampling.ddim_steps)
    b = noise.shape[0]
    device = device_of(net)
    null = torch.from_numpy(null_vectors(b)).to(device)
    x, cond = noise.to(device), cond.to(device)
    context = None if context is None else context.to(device)
    for t in scheduler.timesteps:
        ts = torch.full((b,), int(t), dtype=torch.long, device=device)
        if g == 1.0:
            pred = net(x, ts, cond, context)
        else:  # conditional and unconditional in one batch
            both = net(torch.cat([x, x]), torch.cat([ts, ts]), torch.cat([cond, null]),
                       None if context is None else torch.cat([context, context]))
            out_c, out_u = both.chunk(2)
            pred = out_u + g * (out_c - out_u)
        x = scheduler.step(pred, t, x).prev_sample
    return x.cpu()


def _noise(shape: tuple[int, ...], generators: list[torch.Generator]) -> torch.Tensor:
    return torch.stack([torch.randn(shape, generator=gen) for gen in generators])


@torch.no_grad()
def sample_batch(*, generator: TrainedGenerator, conditions: list[Condition], seeds: list[int],
                 independent_frames: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(images (B, T, S, H, W) float32, labels (B, T, S, H, W) uint8) for one batch of conditions.

    independent_frames: benchmark baseline only; each frame's residual comes from its own motion
    sample (its own noise), as a per-frame model without any layer across frames would give.
    """
    config = generator.config
    frames, slices = config.data.frames, config.data.slices
    height, width = config.data.crop
    c, s, h, w = latent_shape(config=config.vae, slices=slices, height=height, width=width)
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    # 1. conditions -> standardised vectors
    cond = torch.from_numpy(generator.codec.encode(conditions))
    # 2. anatomy: the ED latent from the static LDM
    z_ed = ddim_sample(net=generator.static, noise=_noise((c, s, h, w), gens), cond=cond, context=None,
                       generator=generator, section="static")
    # 3. motion: all residuals z_t - z_ED in one sample (stored frames in channels; motion.layout picks the
    #    network), conditioned on the anatomy
    motion_shape = (c * (frames - 1), s, h, w)
    if independent_frames:
        runs = [ddim_sample(net=generator.motion, noise=_noise(motion_shape, gens), cond=cond, context=z_ed,
                            generator=generator, section="motion") for _ in range(frames - 1)]
        res = torch.stack([runs[t].reshape(len(seeds), frames - 1, c, s, h, w)[:, t] for t in range(frames - 1)], dim=1)
    else:
        res = ddim_sample(net=generator.motion, noise=_noise(motion_shape, gens), cond=cond, context=z_ed,
                          generator=generator, section="motion").reshape(len(seeds), frames - 1, c, s, h, w)
    # 4. back to VAE latent units (and to each heart's own stroke, motion.residual_norm); the ED residual is 0
    res = res * per_subject(stroke_scale(conditions, mode=config.motion.residual_norm), res)
    anatomy = z_ed / generator.latent_scale
    latents = torch.cat([anatomy[:, None], anatomy[:, None] + res / generator.residual_scale], dim=1)
    # 5. decode every frame: image and segmentation
    flat = latents.reshape(-1, c, s, h, w)
    images, labels = [], []
    for i in range(0, flat.shape[0], config.sampling.batch_size):
        image, seg = generator.vae.decode(flat[i : i + config.sampling.batch_size].to(device_of(generator.vae)))
        images.append(image[:, 0].cpu())
        labels.append(seg.argmax(dim=1).to(torch.uint8).cpu())
    shape = (len(seeds), frames, slices, height, width)
    return torch.cat(images).reshape(shape).numpy().astype(np.float32), torch.cat(labels).reshape(shape).numpy()


def draw_seed(*, seed: int, draw: int) -> int:
    """The seed of a subject's draw number `draw`: its own seed for the first, then one derived from it alone
    (never from the batch), so a subject's draws are the same whatever batch or rank it was sampled in."""
    if draw < 1:
        raise ValueError(f"draw={draw}: draws count from 1")
    return seed if draw == 1 else int(np.random.SeedSequence([seed, draw]).generate_state(1)[0])


def plausible_curve(labels: np.ndarray, spacing: tuple[float, float, float]) -> bool:
    """The generated LV volume curve has end-diastole at frame 0 and one systole per cycle (reports/curves.py)."""
    curve = volume_curve_ml(labels, LV, spacing, frame_axis=0)
    return curves.ed_at_frame0(curve) and curves.single_systole(curve)


@torch.no_grad()
def sample_plausible_batch(*, generator: TrainedGenerator, conditions: list[Condition], seeds: list[int]
                           ) -> tuple[np.ndarray, np.ndarray, list[int], list[int], list[bool | None]]:
    """sample_batch, then each subject whose volume curve is implausible drawn again (the same conditions, the
    next draw_seed) up to sampling.plausibility_tries draws in all; one that never passes keeps its last draw.

    Returns (images, labels, the seed of each kept draw, draws made per subject, plausible per subject; None for
    every subject when plausibility_tries is 1, as no check ran). The check reads the synthetic output only.
    """
    tries = generator.config.sampling.plausibility_tries
    images, labels = sample_batch(generator=generator, conditions=conditions, seeds=seeds)
    n = len(seeds)
    if tries == 1:
        return images, labels, list(seeds), [1] * n, [None] * n
    spacing = tuple(float(v) for v in generator.config.data.spacing)
    used, draws = list(seeds), [1] * n
    ok: list[bool | None] = [plausible_curve(labels[j], spacing) for j in range(n)]
    for draw in range(2, tries + 1):
        redo = [j for j in range(n) if not ok[j]]
        if not redo:
            break
        again = [draw_seed(seed=seeds[j], draw=draw) for j in redo]
        new_images, new_labels = sample_batch(generator=generator, conditions=[conditions[j] for j in redo], seeds=again)
        for k, j in enumerate(redo):
            images[j], labels[j], used[j], draws[j] = new_images[k], new_labels[k], again[k], draw
            ok[j] = plausible_curve(labels[j], spacing)
    return images, labels, used, draws, ok


def measure_generated(labels: np.ndarray, spacing: tuple[float, float, float]) -> tuple[int, Measures]:
    """(ES frame, measures) of a generated segmentation (T, S, H, W): ED = frame 0, ES = the smallest LV volume."""
    es = int(np.argmin(volume_curve_ml(labels, LV, spacing, frame_axis=0)))
    return es, measure(ed_labels=labels[0], es_labels=labels[es], spacing=spacing)


def to_synthetic(*, key: str, image: np.ndarray, labels: np.ndarray, spacing: tuple[float, float, float],
                 requested: Condition, seed: int, draws: int = 1, plausible: bool | None = None,
                 model_conditions: Condition | None = None) -> SyntheticSubject:
    """Measure the generated segmentation: ED = frame 0, ES = frame of smallest LV volume."""
    es, measured = measure_generated(labels, spacing)
    return SyntheticSubject(key=key, image=image, labels=labels, spacing=spacing, requested=dict(requested),
                            measured=measured, seed=seed, es_frame=es, draws=draws, plausible=plausible,
                            model_conditions=dict(requested if model_conditions is None else model_conditions))


@torch.no_grad()
def calibrate_conditions(*, generator: TrainedGenerator, seed: int) -> Calibration | None:
    """sampling.calibration_n draws from the released prior, sampled as a release samples (plausibility check
    included; seeds from their own stream), and the factors measured on them (sample/calibration.py); None when
    sampling.calibration_n is 0. Deterministic: every rank of a torchrun computes the same factors itself."""
    n = generator.config.sampling.calibration_n
    if n == 0:
        return None
    stream = int(np.random.SeedSequence([seed, CALIBRATION_STREAM]).generate_state(1)[0])
    conditions = calibration_conditions(prior=generator.prior, n=n, seed=seed)
    spacing = tuple(float(v) for v in generator.config.data.spacing)
    batch = generator.config.sampling.batch_size
    measured: list[dict[str, float]] = []
    for start in range(0, n, batch):
        idx = list(range(start, min(n, start + batch)))
        _, labels, _, _, _ = sample_plausible_batch(generator=generator, conditions=[conditions[i] for i in idx],
                                                    seeds=[subject_seed(seed=stream, index=i) for i in idx])
        measured += [measure_generated(labels[j], spacing)[1].as_dict() for j in range(len(idx))]
    calibration = fit_factors(requested=conditions, measured=measured)
    log.info("condition calibration over %d prior draws: measured / requested %s", n,
             ", ".join(f"{k} {v:.3f}" for k, v in calibration.factors.items()))
    return calibration


def sample_cohort(
    *, run_dir: Path, n: int, seed: int, conditions: list[Condition] | None = None,
    progress: SampleProgress | None = None, generator: TrainedGenerator | None = None, shard: Shard = SINGLE,
    calibration: Calibration | None = None,
) -> list[SyntheticSubject]:
    """n synthetic subjects "syn0001".. from a trained run; conditions drawn from the released prior if None,
    else exactly n of them (one per subject, in order).

    calibration: divides the requests' volumes by the generator's measured overshoot (sample/calibration.py);
    None computes it here when sampling.calibration_n > 0. Each subject keeps its request as `requested` and
    what the networks were given as `model_conditions` (its seed reproduces it with the latter).

    With `shard` (several ranks; a collective): this rank samples the batches b % world == rank;
    rank 0 returns all n in order, the other ranks an empty list. `progress` counts this rank's subjects.
    """
    gen = generator if generator is not None else load_generator(run_dir=run_dir)
    if conditions is None:
        conditions = draw_conditions(prior=gen.prior, n=n, rng=np.random.default_rng(seed))
    elif len(conditions) != n:  # never truncate or repeat a user's rows silently
        raise BadInputError(f"{len(conditions)} condition(s) for {n} subject(s); give one condition per subject")
    if calibration is None:
        calibration = calibrate_conditions(generator=gen, seed=seed)
    given = [model_condition(c, calibration) for c in conditions]
    spacing = tuple(float(v) for v in gen.config.data.spacing)
    batch = gen.config.sampling.batch_size
    starts = shard.take(range(0, n, batch)) if shard.distributed else list(range(0, n, batch))
    mine = sum(min(batch, n - start) for start in starts)
    out: list[SyntheticSubject] = []
    for start in starts:
        idx = list(range(start, min(n, start + batch)))
        seeds = [subject_seed(seed=seed, index=i) for i in idx]
        images, labels, used, draws, ok = sample_plausible_batch(generator=gen, conditions=[given[i] for i in idx],
                                                                 seeds=seeds)
        for j, i in enumerate(idx):
            out.append(to_synthetic(key=f"syn{i + 1:04d}", image=images[j], labels=labels[j], spacing=spacing,
                                    requested=conditions[i], seed=used[j], draws=draws[j], plausible=ok[j],
                                    model_conditions=given[i]))
        if progress is not None:
            progress(len(out), mine)
    if shard.distributed:
        parts = gather_to_main(out)
        if parts is None:
            return []
        out = [s for _, s in sorted(((int(s.key[3:]), s) for part in parts for s in part), key=lambda pair: pair[0])]
    log.info("sampled %d subjects", len(out))
    if gen.config.sampling.plausibility_tries > 1 and out:
        log.info("plausibility check: %d extra draw(s); %d subject(s) still implausible after %d draws",
                 sum(s.draws for s in out) - len(out), sum(s.plausible is False for s in out),
                 gen.config.sampling.plausibility_tries)
    return out
