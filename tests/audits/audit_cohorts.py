"""Phantom-like cohorts and generator scenarios for the audit tests and the power study."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.ndimage import shift as nd_shift
from scipy.ndimage import zoom

from audits import (
    AuditResults,
    EmbeddingSpec,
    LoadedPolicy,
    Verdict,
    embed,
    evaluate_gate,
    run_audits,
)
from synthshare.config import DataConfig
from synthshare.data.phantom import (
    draw_phantom_params,
    phantom_groups,
    render_phantom_subject,
)
from synthshare.data.prepared import NIFTI_TO_PREPARED
from synthshare.data.split import split_subjects

Scenario = Literal["fresh", "copies", "noisy_copies", "shifted_copies", "one_copy", "one_noisy_copy", "one_shifted_copy"]
CopyKind = Literal["copies", "noisy_copies", "shifted_copies"]
SIZE = (16, 16)
GRID = (8, 8, 16, 16)  # a prepared-like common grid (T, S, H, W)


def phantom_images(*, n: int, seed: int) -> list[np.ndarray]:
    """n phantom subjects as (T, S, H, W) float32 images, resampled onto GRID and scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for group in phantom_groups(n):
        image, _, _ = render_phantom_subject(draw_phantom_params(rng=rng, group=group, size=SIZE))
        prepared = image.transpose(NIFTI_TO_PREPARED)
        prepared = zoom(prepared, [g / s for g, s in zip(GRID, prepared.shape)], order=1, grid_mode=True, mode="nearest")
        out.append((prepared / np.percentile(prepared, 99)).astype(np.float32))
    return out


def copy_of(*, image: np.ndarray, kind: CopyKind, rng: np.random.Generator) -> np.ndarray:
    """A copy of a training subject: exact, with light Gaussian noise (5% of the subject's intensity
    std), or with that noise and a non-circular one-pixel in-plane shift."""
    img = image.copy()
    if kind in ("noisy_copies", "shifted_copies"):
        img = img + 0.05 * float(img.std()) * rng.standard_normal(img.shape).astype(np.float32)
    if kind == "shifted_copies":  # a real (non-circular) 1-pixel in-plane shift, edges repeated
        img = nd_shift(img, (0, 0, float(rng.choice([-1, 1])), float(rng.choice([-1, 1]))), order=1, mode="nearest")
    return img


def synthetic_cohort(*, scenario: Scenario, train: list[np.ndarray], n: int, seed: int) -> list[np.ndarray]:
    """What a generator would emit: fresh subjects of the same distribution (another seed), copies of
    training subjects (``copy_of``), or ("one_*") n - 1 fresh subjects and ONE copy of a training subject."""
    rng = np.random.default_rng(seed)
    if scenario == "fresh":
        return phantom_images(n=n, seed=10_000 + seed)
    if scenario.startswith("one_"):
        kind = {"one_copy": "copies", "one_noisy_copy": "noisy_copies", "one_shifted_copy": "shifted_copies"}[scenario]
        fresh = phantom_images(n=n - 1, seed=10_000 + seed)
        return fresh + [copy_of(image=train[int(rng.integers(len(train)))], kind=kind, rng=rng)]
    picks = rng.choice(len(train), size=n, replace=n > len(train))
    return [copy_of(image=train[int(i)], kind=scenario, rng=rng) for i in picks]


@dataclass(frozen=True)
class Trial:
    results: AuditResults
    verdict: Verdict


def run_trial(
    *, policy: LoadedPolicy, scenario: Scenario, seed: int, n_real: int = 80, holdout_fraction: float | None = None, n_synthetic: int = 40
) -> Trial:
    """One real cohort (seeded), the project's default split (synthshare.data.split, DataConfig defaults:
    holdout_fraction 0.25 -> 60 train / 20 holdout of 80), one synthetic cohort, the audits, the gate."""
    real = phantom_images(n=n_real, seed=seed)
    data = DataConfig() if holdout_fraction is None else DataConfig(holdout_fraction=holdout_fraction)
    keys = [f"subject{i:04d}" for i in range(n_real)]
    split = split_subjects(
        keys=keys, groups=phantom_groups(n_real), holdout_fraction=data.holdout_fraction, seed=seed,
        min_holdout=data.min_holdout, min_train=data.min_train,
    )
    index = {key: i for i, key in enumerate(keys)}
    train = [real[index[k]] for k in split.train]
    holdout = [real[index[k]] for k in split.holdout]
    synthetic = synthetic_cohort(scenario=scenario, train=train, n=n_synthetic, seed=seed)
    spec = EmbeddingSpec()
    results = run_audits(
        params=policy.policy.audit,
        train_embeddings=embed(images=train, spec=spec),
        holdout_embeddings=embed(images=holdout, spec=spec),
        synthetic_embeddings=embed(images=synthetic, spec=spec),
        train_images=train,
        synthetic_images=synthetic,
    )
    return Trial(results=results, verdict=evaluate_gate(policy=policy, results=results))
