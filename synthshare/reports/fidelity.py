"""fidelity.json: how closely, how controllably and how diversely the synthetic cohort matches the real one.

Sections (all aggregates; see DESIGN.md "Reports"):
- controllability: requested vs measured LV EDV/ESV/EF of the synthetic subjects (Pearson r, MAE, n);
- feature_distances: Frechet distance and RBF-MMD in the fixed feature of features.py, synthetic vs
  real, beside the same distance between two real samples (the baseline) and their ratio;
- measures: Wasserstein-1 between synthetic measured and real clinical measures, with a real-vs-real
  baseline;
- temporal: LV volume-curve roughness and shape checks (synthetic; real only where fully labelled,
  and only as a mean and fractions over at least curves.MIN_AGGREGATE_COUNT subjects);
- diversity: mean pairwise feature distance within synthetic and within real.
Baseline: ``real`` vs ``real_reference`` when a reference is given (e.g. holdout vs train), otherwise
two seeded halves of ``real``. Finite-sample bias makes both distances positive even for a perfect
generator; read the ratio (about 1 = as close as another real sample).
Real means, sds and fractions are released only over at least curves.MIN_AGGREGATE_COUNT subjects
with a finite value (fewer would give single subjects' values away), and never a real median (with
an odd count it is one subject's value). ``privacy_guarantee`` states the release's guarantee, which
does not cover this report (privacy_statement.DP_SCOPE).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthshare.data.prepared import PreparedSubject, SyntheticSubject
from synthshare.errors import DataError
from synthshare.privacy_statement import guarantee_statement
from synthshare.reports import curves, stats
from synthshare.reports.features import (
    FEATURE_DESCRIPTION,
    FEATURE_VERSION,
    image_features,
)
from synthshare.reports.jsonsafe import jsonable

logger = logging.getLogger(__name__)

CONTROLLED = ("lv_edv", "lv_esv", "lv_ef")
MEASURES = ("lv_ef", "lv_edv", "lv_esv", "rv_edv", "myo_mass")


def _controllability(synthetic: Sequence[SyntheticSubject], notes: list[str]) -> dict:
    out: dict[str, dict] = {}
    for key in CONTROLLED:
        pairs = []
        for s in synthetic:
            req = s.requested.get(key)
            if isinstance(req, (int, float)) and np.isfinite(req):
                pairs.append((float(req), float(getattr(s.measured, key))))
        arr = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
        arr = arr[np.isfinite(arr[:, 1])]
        r, mae = stats.pearson_mae(requested=arr[:, 0], measured=arr[:, 1])
        if not np.isfinite(r):
            notes.append(f"controllability.{key}.pearson_r: undefined (fewer than 2 subjects or constant values)")
        out[key] = {"pearson_r": r, "mae": mae, "n": int(arr.shape[0])}
    return out


def _baseline_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[: n // 2], order[n // 2 :]


def _feature_distances(syn: np.ndarray, real: np.ndarray, base_a: np.ndarray, base_b: np.ndarray, baseline: str) -> dict:
    bandwidth = stats.median_bandwidth(x=real)
    fd_syn = stats.frechet_distance(a=syn, b=real)
    fd_base = stats.frechet_distance(a=base_a, b=base_b)
    mmd_syn = stats.mmd_rbf(a=syn, b=real, bandwidth=bandwidth)
    mmd_base = stats.mmd_rbf(a=base_a, b=base_b, bandwidth=bandwidth)
    return {
        "feature": FEATURE_DESCRIPTION,
        "feature_version": FEATURE_VERSION,
        "baseline": baseline,
        "frechet": {"synthetic_vs_real": fd_syn, "real_vs_real": fd_base, "ratio": stats.ratio(fd_syn, fd_base)},
        "mmd": {
            "synthetic_vs_real": mmd_syn,
            "real_vs_real": mmd_base,
            "ratio": stats.ratio(mmd_syn, mmd_base),
            "kernel": "rbf, bandwidth = median pairwise distance of the real features",
        },
        "n_baseline": [int(base_a.shape[0]), int(base_b.shape[0])],
    }


def _measure_values(subjects: Sequence[PreparedSubject], key: str) -> np.ndarray:
    return np.asarray([getattr(s.measures, key) for s in subjects], dtype=np.float64)


def _measures(
    synthetic: Sequence[SyntheticSubject],
    real: Sequence[PreparedSubject],
    base_a_subjects: Sequence[PreparedSubject],
    base_b_subjects: Sequence[PreparedSubject],
    notes: list[str],
) -> dict:
    out: dict[str, dict] = {}
    withheld: list[str] = []
    for key in MEASURES:
        syn = np.asarray([getattr(s.measured, key) for s in synthetic], dtype=np.float64)
        rea = _measure_values(real, key)
        # Mean and sd of fewer than MIN_AGGREGATE_COUNT real values would give them away; NaNs do not count.
        finite = rea[np.isfinite(rea)]
        show_real = finite.size >= curves.MIN_AGGREGATE_COUNT
        if not show_real:
            withheld.append(key)
        out[key] = {
            "wasserstein1": stats.wasserstein1(a=syn, b=rea),
            "baseline_wasserstein1": stats.wasserstein1(
                a=_measure_values(base_a_subjects, key), b=_measure_values(base_b_subjects, key)
            ),
            "synthetic_mean": float(np.nanmean(syn)) if syn.size else float("nan"),
            "synthetic_sd": float(np.nanstd(syn, ddof=1)) if syn.size > 1 else float("nan"),
            "real_mean": float(np.mean(finite)) if show_real else float("nan"),
            "real_sd": float(np.std(finite, ddof=1)) if show_real else float("nan"),
        }
    if withheld:
        notes.append(f"measures: real mean/sd withheld for {', '.join(withheld)} "
                     f"(fewer than {curves.MIN_AGGREGATE_COUNT} real subjects with a finite value)")
    return out


def _curve_summary(curve_list: list[np.ndarray]) -> dict:
    """Synthetic curves: every measure, the median too (no real subject is behind them)."""
    rough = np.asarray([curves.roughness(c) for c in curve_list], dtype=np.float64)
    n = len(curve_list)
    return {
        "roughness_mean": float(np.nanmean(rough)) if np.isfinite(rough).any() else float("nan"),
        "roughness_median": float(np.nanmedian(rough)) if np.isfinite(rough).any() else float("nan"),
        "ed_at_frame0_fraction": float(np.mean([curves.ed_at_frame0(c) for c in curve_list])) if n else float("nan"),
        "single_systole_fraction": float(np.mean([curves.single_systole(c) for c in curve_list])) if n else float("nan"),
        "n": n,
    }


def _real_curve_summary(curve_list: list[np.ndarray], notes: list[str]) -> dict:
    """Real curves: mean and fractions over the curves with a finite roughness, all null below
    MIN_AGGREGATE_COUNT of them; no median (with an odd count it is one subject's value)."""
    rough = [curves.roughness(c) for c in curve_list]
    kept = [c for c, r in zip(curve_list, rough) if np.isfinite(r)]
    if len(kept) < curves.MIN_AGGREGATE_COUNT:
        if curve_list:
            notes.append(f"temporal.real: withheld (fewer than {curves.MIN_AGGREGATE_COUNT} real subjects labelled on "
                         "every frame with a finite roughness)")
        return {"roughness_mean": None, "ed_at_frame0_fraction": None, "single_systole_fraction": None, "n": None}
    return {
        "roughness_mean": float(np.mean([r for r in rough if np.isfinite(r)])),
        "ed_at_frame0_fraction": float(np.mean([curves.ed_at_frame0(c) for c in kept])),
        "single_systole_fraction": float(np.mean([curves.single_systole(c) for c in kept])),
        "n": len(kept),
    }


def _plausibility(synthetic: Sequence[SyntheticSubject]) -> dict:
    """What the sampler's plausibility check (sampling.plausibility_tries) did: without it, every subject is its
    first draw and temporal.synthetic describes the model; with it, temporal.synthetic describes the subjects kept,
    and first_draw_plausible_fraction is the model's own pass rate on its first draws."""
    checked = [s for s in synthetic if s.plausible is not None]
    if not checked:
        return {"checked": False, "rule": None, "draws_total": len(synthetic), "extra_draws": 0,
                "first_draw_plausible_fraction": None, "implausible_kept": None}
    return {
        "checked": True,
        "rule": "end-diastole at frame 0 and one systole per cycle (temporal.definition); an implausible draw is "
                "drawn again with the same conditions and the next seed",
        "draws_total": int(sum(s.draws for s in synthetic)),
        "extra_draws": int(sum(s.draws - 1 for s in synthetic)),
        "first_draw_plausible_fraction": float(np.mean([s.draws == 1 and bool(s.plausible) for s in checked])),
        "implausible_kept": int(sum(s.plausible is False for s in checked)),
    }


def _temporal(synthetic: Sequence[SyntheticSubject], real: Sequence[PreparedSubject], notes: list[str]) -> dict:
    syn = _curve_summary([curves.lv_curve(s) for s in synthetic])
    full = [curves.lv_curve(s) for s in real if np.asarray(s.labelled, dtype=bool).all()]
    if not full:
        notes.append("temporal.real: no real subject is labelled on every frame (real cohorts label ED/ES only)")
    real_summary = _real_curve_summary(full, notes)
    return {
        "definition": (
            "roughness = RMS of the cyclic second difference of the LV volume curve / stroke volume; "
            "single systole = the cyclic curve falls once and rises once (steps under "
            f"{curves.FLAT_TOLERANCE:.0%} of the stroke volume ignored)"
        ),
        "synthetic": syn,
        "plausibility_check": _plausibility(synthetic),
        "real": real_summary,
        "roughness_ratio": stats.ratio(syn["roughness_mean"], float("nan") if real_summary["roughness_mean"] is None
                                       else real_summary["roughness_mean"]),
    }


def fidelity_report(
    *,
    real: Sequence[PreparedSubject],
    synthetic: Sequence[SyntheticSubject],
    real_reference: Sequence[PreparedSubject] | None,
    seed: int,
    dp: Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> dict:
    """The fidelity report of ``synthetic`` against the real holdout ``real``, as a JSON-able dict.

    ``calibration``: the sampler's condition calibration (sample/calibration.py: Calibration.to_dict()), reported
    as ``condition_calibration``; None when the requests were given to the networks as they were.

    ``real_reference`` (e.g. the training subjects) only serves as the real-vs-real baseline; without
    it the baseline compares two seeded halves of ``real``. ``dp`` is privacy.json's ``dp`` block; its
    guarantee becomes ``privacy_guarantee`` (None: "no formal privacy guarantee"). Undefined values
    are None, explained in ``notes``.
    """
    if not synthetic:
        raise DataError("fidelity_report: no synthetic subjects; sample at least 2 (synthshare sample --n N)")
    if len(real) < 2:
        raise DataError(f"fidelity_report: {len(real)} real holdout subject(s); at least 2 are needed for any distribution distance")
    notes: list[str] = []
    real = list(real)
    syn_feat = image_features([s.image for s in synthetic])
    real_feat = image_features([s.image for s in real])
    if real_reference:
        ref = list(real_reference)
        base_a, base_b = real_feat, image_features([s.image for s in ref])
        base_a_subj, base_b_subj = real, ref
        baseline = "real holdout vs real reference"
    else:
        ia, ib = _baseline_split(len(real), seed)
        base_a, base_b = real_feat[ia], real_feat[ib]
        base_a_subj, base_b_subj = [real[i] for i in ia], [real[i] for i in ib]
        baseline = f"two halves of the real holdout (seeded split, seed {seed})"
    report = {
        "privacy_guarantee": guarantee_statement(dp),
        "n_synthetic": len(synthetic),
        "n_real": len(real),
        "n_reference": len(real_reference) if real_reference else 0,
        "seed": int(seed),
        "controllability": _controllability(synthetic, notes),
        "condition_calibration": {"enabled": False} if calibration is None else {"enabled": True, **calibration},
        "feature_distances": _feature_distances(syn_feat, real_feat, base_a, base_b, baseline),
        "measures": _measures(synthetic, real, base_a_subj, base_b_subj, notes),
        "temporal": _temporal(synthetic, real, notes),
        "diversity": {
            "synthetic_mean_pairwise": stats.mean_pairwise_distance(x=syn_feat),
            "real_mean_pairwise": stats.mean_pairwise_distance(x=real_feat),
        },
        "notes": notes,
    }
    div = report["diversity"]
    div["ratio"] = stats.ratio(div["synthetic_mean_pairwise"], div["real_mean_pairwise"])
    logger.info("fidelity report: %d synthetic vs %d real subjects", len(synthetic), len(real))
    clean = jsonable({k: v for k, v in report.items() if k != "notes"}, notes=notes)
    clean["notes"] = notes
    return clean
