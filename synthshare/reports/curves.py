"""LV volume curves from segmentations: temporal-coherence measures and the aggregate real band.

A real cohort labels only some frames (ED and ES), so a real curve is NaN on unlabelled frames.
The band is the only form in which real curves may enter a released report: per-frame mean and sd
over at least ``min_count`` subjects, with smaller counts suppressed.
Shape measures compare curves normalised to the stroke volume (1 at the largest volume, 0 at the
smallest), so that a generator asked for other volumes and EFs is still compared on shape alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthshare.data.measures import volume_curve_ml
from synthshare.data.prepared import PreparedSubject, SyntheticSubject
from synthshare.errors import DataError
from synthshare.labels import LV

# Volume changes smaller than this share of the stroke volume count as flat (noise, partial volume).
FLAT_TOLERANCE = 0.05
# Default smallest number of real subjects behind any released per-frame aggregate.
MIN_AGGREGATE_COUNT = 3


def lv_curve(subject: PreparedSubject | SyntheticSubject) -> np.ndarray:
    """LV cavity volume (mL) per frame; NaN on the frames a real subject has no label for."""
    curve = volume_curve_ml(subject.labels, LV, subject.spacing, frame_axis=0)
    if isinstance(subject, PreparedSubject):
        labelled = np.asarray(subject.labelled, dtype=bool)
        curve = np.where(labelled, curve, np.nan)
    return curve


def roughness(curve: np.ndarray) -> float:
    """RMS of the cyclic second difference over the stroke volume (0 for a straight line; NaN if SV = 0)."""
    stroke = float(np.max(curve) - np.min(curve))
    if curve.size < 3 or stroke <= 0.0:
        return float("nan")
    d2 = np.roll(curve, -1) - 2.0 * curve + np.roll(curve, 1)
    return float(np.sqrt(np.mean(d2**2)) / stroke)


def ed_at_frame0(curve: np.ndarray) -> bool:
    """ED (largest LV volume) at frame 0, within FLAT_TOLERANCE of the stroke volume."""
    stroke = float(np.max(curve) - np.min(curve))
    return bool(curve[0] >= np.max(curve) - FLAT_TOLERANCE * stroke)


def single_systole(curve: np.ndarray) -> bool:
    """One contraction per cycle: the cyclic curve falls once and rises once (ignoring flat steps)."""
    stroke = float(np.max(curve) - np.min(curve))
    if stroke <= 0.0:
        return False
    steps = np.diff(np.append(curve, curve[0]))
    signs = np.sign(steps[np.abs(steps) > FLAT_TOLERANCE * stroke])
    if signs.size < 2:
        return False
    changes = int(np.count_nonzero(signs != np.roll(signs, 1)))
    return changes == 2


def normalised(curve: np.ndarray) -> np.ndarray:
    """(v - min) / (max - min) over the finite frames: 1 at ED, 0 at ES; all NaN if the stroke is 0."""
    v = np.asarray(curve, dtype=np.float64)
    low, high = np.nanmin(v), np.nanmax(v)
    if not high > low:
        return np.full(v.shape, np.nan)
    return (v - low) / (high - low)


def shape_distance(curve: np.ndarray, reference: np.ndarray) -> float:
    """Mean absolute deviation of the normalised curve from a normalised reference (e.g. the real mean),
    over the frames where both are finite; in units of the stroke volume (0 = the same shape)."""
    diff = np.abs(normalised(curve) - np.asarray(reference, dtype=np.float64))
    return float(np.mean(diff[np.isfinite(diff)])) if np.isfinite(diff).any() else float("nan")


def curve_band(*, curves: np.ndarray, min_count: int = MIN_AGGREGATE_COUNT) -> tuple[list, list, list]:
    """Per-frame (mean, sd, n) over curves (N, T), NaN frames skipped; None where fewer than min_count."""
    if min_count < 2:
        raise DataError(f"curve_band: min_count={min_count} would release single real values; use 2 or more")
    curves = np.asarray(curves, dtype=np.float64)
    mean: list[float | None] = []
    sd: list[float | None] = []
    n: list[int | None] = []
    for t in range(curves.shape[1]):
        col = curves[:, t][np.isfinite(curves[:, t])]
        if col.size < min_count:
            mean.append(None)
            sd.append(None)
            n.append(None)
            continue
        mean.append(float(col.mean()))
        sd.append(float(col.std(ddof=1)))
        n.append(int(col.size))
    return mean, sd, n


def volume_curve_band(*, subjects: Sequence[PreparedSubject], min_count: int = MIN_AGGREGATE_COUNT) -> dict:
    """Per-frame mean and sd of the real LV volume curves over labelled frames, as a JSON-able dict.

    Frames labelled in fewer than ``min_count`` subjects are suppressed (mean, sd and n are None) so no
    single real value is ever shown. Keys: label, frames, phase, mean_ml, sd_ml, n, min_count.
    """
    if min_count < 2:
        raise DataError(f"volume_curve_band: min_count={min_count} would release single real values; use 2 or more")
    if not subjects:
        raise DataError("volume_curve_band: no real subjects given; pass the holdout subjects")
    frames = {int(s.labels.shape[0]) for s in subjects}
    if len(frames) != 1:
        raise DataError(f"volume_curve_band: real subjects have different frame counts {sorted(frames)}; prepare them on one grid")
    curves = np.stack([lv_curve(s) for s in subjects])
    mean, sd, n = curve_band(curves=curves, min_count=min_count)
    t_count = curves.shape[1]
    return {
        "label": "LV",
        "frames": t_count,
        "phase": [t / t_count for t in range(t_count)],
        "mean_ml": mean,
        "sd_ml": sd,
        "n": n,
        "min_count": int(min_count),
    }
