"""Distances between two samples and agreement between two paired vectors (NaN where undefined).

Callers turn NaN into null with a note (jsonsafe.jsonable), so nothing here raises on small samples.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance


def pearson_mae(*, requested: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """Pearson r and mean absolute error of paired values; r is NaN for n < 2 or a constant side."""
    a = np.asarray(requested, dtype=np.float64)
    b = np.asarray(measured, dtype=np.float64)
    if a.size == 0:
        return float("nan"), float("nan")
    mae = float(np.mean(np.abs(a - b)))
    if a.size < 2 or np.std(a) == 0.0 or np.std(b) == 0.0:
        return float("nan"), mae
    return float(np.corrcoef(a, b)[0, 1]), mae


def wasserstein1(*, a: np.ndarray, b: np.ndarray) -> float:
    """Earth mover's distance between two 1-D empirical distributions (same unit as the values)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(wasserstein_distance(a, b))


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(cov)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(*, a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula), (n, d) each.

    Tr sqrt(C_a C_b) is computed as the sum of sqrt-eigenvalues of the symmetric PSD matrix
    sqrt(C_a) C_b sqrt(C_a), which stays exact when few subjects make the covariances singular.
    """
    if a.shape[0] < 2 or b.shape[0] < 2:
        return float("nan")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _psd_sqrt(cov_a)
    eig = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    tr_covmean = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_covmean)
    return max(value, 0.0)  # round-off can push identical sets a hair below zero


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def median_bandwidth(*, x: np.ndarray) -> float:
    """Median pairwise distance of one set: the RBF bandwidth both MMD comparisons share."""
    if x.shape[0] < 2:
        return float("nan")
    d = np.sqrt(_sq_dists(x, x))[np.triu_indices(x.shape[0], k=1)]
    med = float(np.median(d))
    return med if med > 0 else 1.0


def mmd_rbf(*, a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    """sqrt of the biased (V-statistic) MMD^2 with an RBF kernel: >= 0, 0 for identical sets."""
    if a.shape[0] == 0 or b.shape[0] == 0 or not np.isfinite(bandwidth):
        return float("nan")
    gamma = 1.0 / (2.0 * bandwidth**2)
    k_aa = np.exp(-gamma * _sq_dists(a, a)).mean()
    k_bb = np.exp(-gamma * _sq_dists(b, b)).mean()
    k_ab = np.exp(-gamma * _sq_dists(a, b)).mean()
    return float(np.sqrt(max(k_aa + k_bb - 2.0 * k_ab, 0.0)))


def mean_pairwise_distance(*, x: np.ndarray) -> float:
    """Mean Euclidean distance over distinct pairs of one set (a diversity measure)."""
    if x.shape[0] < 2:
        return float("nan")
    d = np.sqrt(_sq_dists(x, x))[np.triu_indices(x.shape[0], k=1)]
    return float(d.mean())


def ratio(numerator: float, denominator: float) -> float:
    if not (np.isfinite(numerator) and np.isfinite(denominator)) or denominator == 0.0:
        return float("nan")
    return float(numerator / denominator)
