"""DP release of summary statistics (Gaussian mechanism): per-category counts and means and a
pooled within-category covariance of bounded vectors, one record per subject.

How the sensitivity is derived (add/remove one subject, the same neighbouring relation as DP-SGD):
each vector is clipped to [lower, upper] and mapped to z in [-1, 1]^d, so ||z||_2 <= sqrt(d).
One subject adds to three released sums:
  counts[k]            += 1                 (L2 change 1),
  sums[k, :]           += z / sqrt(d)       (L2 change <= 1),
  second_moment[triu]  += (z z^T)[triu] / d (L2 change <= ||z z^T||_F / d = ||z||^2 / d <= 1),
so the concatenated query has L2 sensitivity sqrt(3); noise N(0, (sigma sqrt(3))^2) goes on every
coordinate of the scaled sums. Means and the covariance are post-processing (free), and the
covariance is projected onto the positive semi-definite cone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from privacy.errors import PrivacyConfigError

SENSITIVITY = math.sqrt(3.0)


@dataclass(frozen=True)
class ReleasedStatistics:
    counts: np.ndarray  # (K,) noisy counts, >= 0
    means: np.ndarray  # (K, d) in the original units, inside [lower, upper]
    covariance: np.ndarray  # (d, d) pooled within-category covariance, PSD
    lower: np.ndarray
    upper: np.ndarray
    noise_multiplier: float | None  # None: exact (DP off)
    sensitivity: float

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts.tolist(), "means": self.means.tolist(), "covariance": self.covariance.tolist(),
                "lower": self.lower.tolist(), "upper": self.upper.tolist(),
                "noise_multiplier": self.noise_multiplier, "sensitivity": self.sensitivity}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReleasedStatistics:
        return cls(counts=np.asarray(d["counts"], dtype=float), means=np.asarray(d["means"], dtype=float),
                   covariance=np.asarray(d["covariance"], dtype=float), lower=np.asarray(d["lower"], dtype=float),
                   upper=np.asarray(d["upper"], dtype=float), noise_multiplier=d["noise_multiplier"],
                   sensitivity=float(d["sensitivity"]))


def release_statistics(*, vectors: np.ndarray, categories: np.ndarray, n_categories: int, lower: np.ndarray,
                       upper: np.ndarray, noise_multiplier: float | None, rng: np.random.Generator) -> ReleasedStatistics:
    """`vectors` (n, d), one row per SUBJECT; `categories` (n,) ints in [0, n_categories)."""
    x = np.asarray(vectors, dtype=float)
    cat = np.asarray(categories)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    _check(x=x, cat=cat, k=n_categories, lo=lo, hi=hi, noise_multiplier=noise_multiplier)
    n, d = x.shape
    mid, half = (hi + lo) / 2.0, (hi - lo) / 2.0
    z = (np.clip(x, lo, hi) - mid) / half  # in [-1, 1]^d
    iu = np.triu_indices(d)

    # 1. the three scaled sums (each subject moves their concatenation by at most SENSITIVITY in L2)
    counts = np.bincount(cat.astype(int), minlength=n_categories).astype(float)
    sums = np.zeros((n_categories, d))
    np.add.at(sums, cat.astype(int), z / math.sqrt(d))
    second = (z.T @ z)[iu] / d
    # 2. Gaussian mechanism, std = sigma x sensitivity, on every coordinate
    if noise_multiplier is not None:
        std = noise_multiplier * SENSITIVITY
        counts = counts + rng.normal(0.0, std, size=counts.shape)
        sums = sums + rng.normal(0.0, std, size=sums.shape)
        second = second + rng.normal(0.0, std, size=second.shape)
    # 3. post-processing: back to z units, means, pooled within-category covariance, PSD, original units
    counts = np.maximum(counts, 0.0)
    sums_z = sums * math.sqrt(d)
    m2 = np.zeros((d, d))
    m2[iu] = second * d
    m2 = m2 + np.triu(m2, 1).T
    denom = np.maximum(counts, 1.0)[:, None]
    means_z = np.clip(sums_z / denom, -1.0, 1.0)
    between = (means_z * counts[:, None]).T @ means_z  # sum_k n_k m_k m_k^T
    dof = max(counts.sum() - n_categories, 1.0)
    cov_z = _psd((m2 - between) / dof)
    return ReleasedStatistics(counts=counts, means=mid + half * means_z, covariance=cov_z * np.outer(half, half),
                              lower=lo, upper=hi, noise_multiplier=noise_multiplier, sensitivity=SENSITIVITY)


def _psd(a: np.ndarray) -> np.ndarray:
    sym = (a + a.T) / 2.0
    w, v = np.linalg.eigh(sym)
    return (v * np.maximum(w, 0.0)) @ v.T


def _check(*, x: np.ndarray, cat: np.ndarray, k: int, lo: np.ndarray, hi: np.ndarray,
           noise_multiplier: float | None) -> None:
    problems = []
    if x.ndim != 2 or x.shape[0] < 1:
        problems.append(f"vectors must be (n_subjects, d) with n >= 1, got shape {x.shape}")
    else:
        if cat.shape != (x.shape[0],):
            problems.append(f"categories must be ({x.shape[0]},), got {cat.shape}")
        elif cat.size and (not np.issubdtype(cat.dtype, np.integer) or cat.min() < 0 or cat.max() >= k):
            problems.append(f"categories must be integers in [0, {k})")
        if lo.shape != (x.shape[1],) or hi.shape != (x.shape[1],):
            problems.append(f"lower/upper must be ({x.shape[1]},), got {lo.shape} / {hi.shape}")
        elif not np.all(hi > lo):
            problems.append("every upper bound must exceed its lower bound")
        if not np.all(np.isfinite(x)):
            problems.append("vectors contain NaN or inf")
    if k < 1:
        problems.append(f"n_categories={k} must be >= 1")
    if noise_multiplier is not None and not noise_multiplier > 0:
        problems.append(f"noise_multiplier={noise_multiplier} must be > 0 (or None for an exact, non-private release)")
    if problems:
        raise PrivacyConfigError("cannot release statistics:\n" + "\n".join(f"  - {p}" for p in problems))
