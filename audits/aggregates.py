"""Coarsened figures for the EXTERNAL report: an attack's ROC curve and distance histograms.

An exact ROC curve of 30 holdout subjects is a list of per-subject ranks: each step is one real
subject, and where a member step falls among the non-member steps says how that subject scored. A
histogram with a bin holding one subject places that subject's distance. So both are released only
after merging adjacent steps or bins until every released cell holds, for every series, either no
subject or at least ``min_count`` (``MIN_AGGREGATE_COUNT``, as for the volume-curve band of the
fidelity report). Every subject is still counted (no suppressed cell a reader could recover by
subtracting from the known totals); what is lost is resolution. Histogram edges come from a fixed,
data-independent grid, so an edge never reveals a subject's value either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MIN_AGGREGATE_COUNT = 3
# Fixed edges of the cosine distance (1 - cosine similarity) of an embedded pair: exact copies fall in
# the first bin, two distinct phantom subjects at ~1e-2 to 1e-1, unrelated images near 1. Ten bins a
# decade from 1e-4 to 1: a demo release's nearest distances all lie between 0.02 and 0.15, which the
# earlier grid (1-3-10 a decade) cut into two or three bins that the merge then fused into one.
COSINE_DISTANCE_EDGES = (1e-5, *(float(f"{v:.3g}") for v in np.logspace(-4.0, 0.0, 41)), 2.0)


def _ok(cell: np.ndarray, min_count: int) -> bool:
    return bool(np.all((cell == 0) | (cell >= min_count)))


def merge_cells(counts: np.ndarray, *, min_count: int = MIN_AGGREGATE_COUNT) -> list[int] | None:
    """Group consecutive cells so every group's count is 0 or >= min_count in every series.

    counts: (n_series, n_cells) integers. Returns the group boundaries as cell indices
    [0, b1, ..., n_cells] (group g = cells b_g..b_{g+1}-1), or None when no grouping can satisfy it
    (a series with 1..min_count-1 subjects in total).
    """
    c = np.asarray(counts, dtype=np.int64)
    if not _ok(c.sum(axis=1), min_count):
        return None
    bounds = [0]
    acc = np.zeros(c.shape[0], dtype=np.int64)
    for i in range(c.shape[1]):
        acc += c[:, i]
        if _ok(acc, min_count):
            bounds.append(i + 1)
            acc[:] = 0
    if acc.any():  # a short tail: fold it into the groups before it until the last group is valid
        bounds[-1] = c.shape[1]
        while len(bounds) > 2 and not _ok(c[:, bounds[-2] : bounds[-1]].sum(axis=1), min_count):
            del bounds[-2]
    elif bounds[-1] != c.shape[1]:
        bounds.append(c.shape[1])
    return bounds


def coarse_roc(*, member_scores: np.ndarray, nonmember_scores: np.ndarray, min_count: int = MIN_AGGREGATE_COUNT) -> dict[str, Any] | None:
    """ROC points (declared orientation: higher score = member) where each step between two
    consecutive points adds 0 or >= min_count members and 0 or >= min_count non-members.

    None when either side has fewer than min_count subjects.
    """
    m = np.asarray(member_scores, dtype=np.float64).reshape(-1)
    n = np.asarray(nonmember_scores, dtype=np.float64).reshape(-1)
    if min(m.size, n.size) < min_count:
        return None
    # one cell per distinct score, highest first (tied members and non-members share a cell)
    levels, inverse = np.unique(np.concatenate([m, n]), return_inverse=True)
    cells = np.stack([
        np.bincount(inverse[: m.size], minlength=levels.size)[::-1],
        np.bincount(inverse[m.size :], minlength=levels.size)[::-1],
    ])
    bounds = merge_cells(cells, min_count=min_count)
    if bounds is None:
        return None
    tp = np.concatenate([[0], np.cumsum(cells[0])])[bounds]
    fp = np.concatenate([[0], np.cumsum(cells[1])])[bounds]
    return {"fpr": [float(v) for v in fp / n.size], "tpr": [float(v) for v in tp / m.size], "min_count": min_count}


def histogram(
    *, name: str, series: Mapping[str, np.ndarray], edges: Sequence[float], xlabel: str, scale: str = "linear",
    min_count: int = MIN_AGGREGATE_COUNT,
) -> dict[str, Any] | None:
    """Counts of each series on the fixed ``edges`` (values clipped into range), bins merged so that
    every released count is 0 or >= min_count. None when that is impossible."""
    e = np.asarray(edges, dtype=np.float64)
    raw = np.stack([
        np.histogram(np.clip(np.asarray(v, dtype=np.float64).reshape(-1), e[0], e[-1]), bins=e)[0] for v in series.values()
    ])
    bounds = merge_cells(raw, min_count=min_count)
    if bounds is None:
        return None
    merged = np.add.reduceat(raw, bounds[:-1], axis=1)
    return {
        "name": name,
        "xlabel": xlabel,
        "scale": scale,
        "edges": [float(e[b]) for b in bounds],
        "counts": {key: [int(c) for c in row] for key, row in zip(series, merged)},
        "min_count": min_count,
    }
