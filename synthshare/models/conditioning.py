"""Clinical conditions -> the vector the latent denoisers see.

Vector layout (length 13): one-hot diagnosis group (NOR, MINF, DCM, HCM, RV, OTHER), the six
standardised measures (lv_edv, lv_esv, lv_ef, rv_edv, myo_mass, slices), and a "null" flag.
The null vector (all zeros, flag 1) is the unconditional input of classifier-free guidance.

The vector is broadcast as constant extra input channels of the denoiser (see denoiser.py):
it needs no layer Opacus lacks a per-sample gradient for, and carries continuous measures
as well as the group, unlike MONAI's class embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthshare.data.prepared import PreparedSubject
from synthshare.data.subject import GROUPS
from synthshare.labels import BACKGROUND

CONDITION_GROUPS: tuple[str, ...] = (*GROUPS, "OTHER")
MEASURE_FIELDS: tuple[str, ...] = ("lv_edv", "lv_esv", "lv_ef", "rv_edv", "myo_mass", "slices")
# Clip bounds for the DP statistics release and the sane range of a requested condition.
MEASURE_LOWER = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
MEASURE_UPPER = np.array([600.0, 500.0, 100.0, 600.0, 500.0, 64.0])
CONDITION_DIM = len(CONDITION_GROUPS) + len(MEASURE_FIELDS) + 1
# The released prior (conditions.json "statistics") models the volumes and the mass on a log scale.
# Within a diagnosis group their spread grows with the heart (on the phantom the coefficient of variation
# of LV EDV is 0.10-0.12 and of LV ESV 0.13-0.19 in every group, while the ESV's SD runs from 6 mL in HCM to
# 31 mL in DCM), so one covariance pooled over the groups in mL gave a small heart a spread sized for a large
# one: the linear prior drew HCM end-systolic volumes of 4 mL. EF and the slice count stay linear.
# Under DP the prior stays linear (DP_PRIOR_SPACE): the clip bounds span 6.4 log units against a within-group
# spread of about 0.15, so the Gaussian noise on the second moments makes a noisy log-scale variance, and
# exponentiated it puts long tails on the draws; benchmarks/prior_bench.py --noise-multiplier 2.38 (the
# demo's statistics noise at epsilon 8; each run draws a new key, so its noise) measured log-normal draws
# farther from held-out subjects than linear ones for LV EDV, ESV, RV EDV and the mass at 100 and at 2000
# subjects (LV EDV W1 164 against 122 mL, and 30 against 12; only EF came out nearer, 7.0 against 8.7 at 2000).
PRIOR_SPACE = "log-volumes"  # conditions.json statistics.space; part of the statistics stage hash
LINEAR_SPACE = "linear"  # the earlier prior: every measure normal in its units
DP_PRIOR_SPACE = LINEAR_SPACE
PRIOR_LOG_FIELDS: tuple[str, ...] = ("lv_edv", "lv_esv", "rv_edv", "myo_mass")
PRIOR_FLOOR = 1.0  # mL (g for the mass): the log-scale lower bound where MEASURE_LOWER is 0


def group_index(group: str) -> int:
    return CONDITION_GROUPS.index(group) if group in GROUPS else len(CONDITION_GROUPS) - 1


def subject_conditions(*, subject: PreparedSubject) -> dict[str, float | str]:
    """A real subject's conditions (its measures; slices = slices with heart at ED)."""
    m = subject.measures
    ed = subject.labels[0]
    slices = int(np.count_nonzero((ed != BACKGROUND).reshape(ed.shape[0], -1).any(axis=1))) if subject.labelled[0] else ed.shape[0]
    return {
        "group": subject.group,
        "lv_edv": float(m.lv_edv),
        "lv_esv": float(m.lv_esv),
        "lv_ef": float(m.lv_ef),
        "rv_edv": float(m.rv_edv),
        "myo_mass": float(m.myo_mass),
        "slices": float(max(slices, 1)),
    }


def prior_space(*, private: bool) -> str:
    """The scale the conditioning prior is released on: PRIOR_SPACE, or DP_PRIOR_SPACE when DP is on (why above)."""
    return DP_PRIOR_SPACE if private else PRIOR_SPACE


def prior_log_mask(space: str | None) -> np.ndarray:
    """(6,) bool, MEASURE_FIELDS order: the fields a prior in ``space`` holds on a log scale.

    ``space`` is conditions.json's statistics.space; None (a run released before log-volumes) is linear.
    """
    if space is None or space == LINEAR_SPACE:
        return np.zeros(len(MEASURE_FIELDS), dtype=bool)
    if space == PRIOR_SPACE:
        return np.array([f in PRIOR_LOG_FIELDS for f in MEASURE_FIELDS])
    raise ValueError(f"unknown prior space {space!r}; expected {PRIOR_SPACE!r} or {LINEAR_SPACE!r}")


def to_prior_space(x: np.ndarray, space: str | None = PRIOR_SPACE) -> np.ndarray:
    """Measures (..., 6) in their units -> the prior's scale (log of the volumes, floored at PRIOR_FLOOR)."""
    out = np.array(x, dtype=np.float64)
    mask = prior_log_mask(space)
    out[..., mask] = np.log(np.maximum(out[..., mask], PRIOR_FLOOR))
    return out


def from_prior_space(y: np.ndarray, space: str | None = PRIOR_SPACE) -> np.ndarray:
    """The inverse of to_prior_space (above the floor)."""
    out = np.array(y, dtype=np.float64)
    mask = prior_log_mask(space)
    out[..., mask] = np.exp(out[..., mask])
    return out


def measure_matrix(conditions: list[dict[str, float | str]]) -> np.ndarray:
    """(N, 6) float64 of the measure fields, in MEASURE_FIELDS order."""
    return np.array([[float(c[f]) for f in MEASURE_FIELDS] for c in conditions], dtype=np.float64).reshape(-1, len(MEASURE_FIELDS))


@dataclass(frozen=True, kw_only=True)
class ConditionCodec:
    """Standardisation of the measures (mean/std from the released statistics)."""

    mean: np.ndarray
    std: np.ndarray

    def encode(self, conditions: list[dict[str, float | str]]) -> np.ndarray:
        """(N, CONDITION_DIM) float32 condition vectors, null flag 0."""
        out = np.zeros((len(conditions), CONDITION_DIM), dtype=np.float32)
        if not conditions:
            return out
        for row, c in enumerate(conditions):
            out[row, group_index(str(c["group"]))] = 1.0
        z = (measure_matrix(conditions) - self.mean) / self.std
        out[:, len(CONDITION_GROUPS) : len(CONDITION_GROUPS) + len(MEASURE_FIELDS)] = z
        return out

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict) -> ConditionCodec:
        return cls(mean=np.asarray(d["mean"], dtype=np.float64), std=np.maximum(np.asarray(d["std"], dtype=np.float64), 1e-6))


def null_vectors(n: int) -> np.ndarray:
    out = np.zeros((n, CONDITION_DIM), dtype=np.float32)
    out[:, -1] = 1.0
    return out
