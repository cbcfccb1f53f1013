"""Per-subject normalisation of the motion residuals by the requested stroke (motion.residual_norm).

The residual latents z_t - z_ED of a heart that barely contracts are small, and the motion model's
error is roughly the same in absolute terms for every heart, so in low-EF hearts that error is a large
share of the stroke: the release's second dips in diastole fall there (measured on the demo release of
2026-12-02: one systole in 79% of the lowest-EF third of its 40 subjects, 100% of the highest third).
With residual_norm "stroke", the model sees residual / s(c) instead, with

    s(c) = max(cbrt(LV EDV) - cbrt(LV ESV), FLOOR)   (mL^(1/3); the change of a cavity's linear size)

and the sampler multiplies its output by s(c) of the REQUESTED conditions. s is a function of each
subject's own conditions only: no statistic of the cohort, so nothing to account for under DP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

# Below this (e.g. EDV 100 mL at EF < 5%) the stroke says little about the motion's size; the floor keeps
# the division from magnifying a nearly still heart's residuals without bound.
FLOOR = 0.25


def stroke_scale(conditions: Sequence[Mapping[str, object]], *, mode: str) -> torch.Tensor:
    """(N,) float32 divisor of each subject's residuals: s(c) for mode "stroke", 1 for "none"."""
    if mode == "none":
        return torch.ones(len(conditions), dtype=torch.float32)
    if mode != "stroke":
        raise ValueError(f"motion.residual_norm {mode!r}: use 'none' or 'stroke'")
    edv = np.array([float(c["lv_edv"]) for c in conditions], dtype=np.float64)  # type: ignore[arg-type]
    esv = np.array([float(c["lv_esv"]) for c in conditions], dtype=np.float64)  # type: ignore[arg-type]
    s = np.maximum(np.cbrt(np.maximum(edv, 0.0)) - np.cbrt(np.maximum(esv, 0.0)), FLOOR)
    return torch.from_numpy(s.astype(np.float32))


def per_subject(scale: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) -> broadcastable against a (N, ...) tensor."""
    return scale.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)
