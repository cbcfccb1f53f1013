"""A fixed, data-independent feature of a cine image, for feature-space distances and diversity.

Definition (FEATURE_VERSION "cine-pool-v1"), identical for real and synthetic subjects whatever
their grid:
1. resample the cycle to 4 phases (0, 1/4, 1/2, 3/4 of the cycle; linear, cyclic in time);
2. average the slices into 2 groups (basal half, apical half);
3. average-pool each in-plane image to 4 x 4 blocks  -> 4 * 2 * 16 = 128 values;
4. multiply by a fixed Gaussian projection (seed FEATURE_PROJECTION_SEED, 128 -> 16) so that
   covariances stay estimable from tens of subjects.
Nothing is learnt from any data, so the feature cannot leak a subject and needs no download.
"""

from __future__ import annotations

import numpy as np

FEATURE_VERSION = "cine-pool-v1"
FEATURE_PROJECTION_SEED = 20240607
PHASES = 4
SLICE_GROUPS = 2
POOL = 4
FEATURE_DIM = 16
_RAW_DIM = PHASES * SLICE_GROUPS * POOL * POOL

FEATURE_DESCRIPTION = (
    f"{FEATURE_VERSION}: cycle resampled to {PHASES} phases, slices averaged into {SLICE_GROUPS} groups, "
    f"in-plane {POOL}x{POOL} average pooling ({_RAW_DIM} values), fixed Gaussian projection to "
    f"{FEATURE_DIM} dims (seed {FEATURE_PROJECTION_SEED}); data-independent"
)


def _projection() -> np.ndarray:
    rng = np.random.default_rng(FEATURE_PROJECTION_SEED)
    return rng.standard_normal((_RAW_DIM, FEATURE_DIM)) / np.sqrt(_RAW_DIM)


def resample_cycle(values: np.ndarray, *, phases: int) -> np.ndarray:
    """Linear, cyclic resampling of axis 0 (frames of one cycle) to ``phases`` samples."""
    t = values.shape[0]
    pos = np.arange(phases) * t / phases
    lo = np.floor(pos).astype(int) % t
    hi = (lo + 1) % t
    w = (pos - np.floor(pos)).reshape((-1,) + (1,) * (values.ndim - 1))
    return (1.0 - w) * values[lo] + w * values[hi]


def _block_means(x: np.ndarray, *, axis: int, parts: int) -> np.ndarray:
    """Average ``x`` along ``axis`` into ``parts`` near-equal chunks (repeats when the axis is shorter)."""
    n = x.shape[axis]
    idx = np.arange(n)
    if n < parts:
        idx = np.repeat(idx, int(np.ceil(parts / n)))[: max(parts, n)]
    chunks = np.array_split(idx, parts)
    return np.stack([np.take(x, c, axis=axis).mean(axis=axis) for c in chunks], axis=axis)


def raw_image_feature(image: np.ndarray) -> np.ndarray:
    """The 128 pooled values (steps 1-3) of one (T, S, H, W) image."""
    x = resample_cycle(np.asarray(image, dtype=np.float64), phases=PHASES)
    x = _block_means(x, axis=1, parts=SLICE_GROUPS)
    x = _block_means(x, axis=2, parts=POOL)
    x = _block_means(x, axis=3, parts=POOL)
    return x.reshape(-1)


def image_features(images: list[np.ndarray]) -> np.ndarray:
    """(n, FEATURE_DIM) features of n (T, S, H, W) images; (0, FEATURE_DIM) for none."""
    if not images:
        return np.zeros((0, FEATURE_DIM))
    raw = np.stack([raw_image_feature(im) for im in images])
    return raw @ _projection()
