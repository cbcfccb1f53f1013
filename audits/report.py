"""Reports: the external ``privacy.json`` (aggregates only) and the INTERNAL audit report.

External (leaves the hospital inside a release): gate verdict, per-attack AUC/CI/TPR (with the
orientation each leans in), memorisation counts and fractions, a coarsened ROC per attack and a
coarsened distance histogram (audits.aggregates: every step or bin holds 0 or >= 3 subjects). No
per-subject value, no subject key or id, no image, no similarity of any single real subject: the
copy thresholds (tau, the near-copy distance) stay internal, and a gate criterion whose value is a
function of single real subjects (``Criterion.subject_level``: the pixel NCC of the nearest pair)
is written with ``value: null, value_withheld: true``. Criterion notes are the gate's generic text;
exception text and audit error messages (``Criterion.detail``) stay internal.
The release engineer merges ``dp.*`` into it.

Internal (stays inside): everything, including per-subject scores and nearest real/synthetic
pairs, clearly marked INTERNAL.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from audits.aggregates import COSINE_DISTANCE_EDGES, coarse_roc, histogram
from audits.embedding import EmbeddingSpec
from audits.gate import Criterion, Verdict, tpr_is_subject_level
from audits.membership import AttackResult
from audits.memorization import MemorizationResult
from audits.results import AuditResults

INTERNAL_BANNER = "INTERNAL AUDIT REPORT - contains per-subject values and real images; never release"


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _criterion(c: Criterion, *, internal: bool) -> dict[str, Any]:
    withheld = c.subject_level and not internal
    out = {
        "name": c.name,
        "value": None if withheld else _num(c.value),
        "threshold": _num(c.threshold),
        "passed": c.passed,
        "measurable": c.measurable,
        "note": c.note,
    }
    if withheld:
        out["value_withheld"] = True
    if internal:
        out["detail"] = c.detail
    return out


def _gate(verdict: Verdict, *, internal: bool = False) -> dict[str, Any]:
    return {
        "passed": verdict.passed,
        "policy_name": verdict.policy_name,
        "policy_sha256": verdict.policy_sha256,
        "criteria": [_criterion(c, internal=internal) for c in verdict.criteria],
    }


def _attack(attack: AttackResult) -> dict[str, Any]:
    points = sorted(attack.tpr_at_fpr.items(), reverse=True)
    withheld = {fpr: tpr_is_subject_level(tpr=point.tpr, n_members=attack.n_members, measurable=point.measurable)
                for fpr, point in points}
    out = {
        "name": attack.name,
        "auc": _num(attack.auc),
        "auc_ci": [_num(attack.auc_ci[0]), _num(attack.auc_ci[1])],
        "orientation": attack.orientation,
        # below the smallest measurable FPR, or counting 1-2 members, a TPR singles out real subjects: withheld
        "tpr_at_fpr": {f"{fpr:g}": None if withheld[fpr] else _num(point.tpr) for fpr, point in points},
        "tpr_withheld": {f"{fpr:g}": withheld[fpr] for fpr, _ in points},
        "tpr_orientation": {f"{fpr:g}": point.orientation for fpr, point in points},
        "tpr_measurable": {f"{fpr:g}": point.measurable for fpr, point in points},
        "min_measurable_fpr": _num(attack.min_measurable_fpr),
        "n_members": attack.n_members,
        "n_nonmembers": attack.n_nonmembers,
    }
    roc = coarse_roc(member_scores=attack.member_scores, nonmember_scores=attack.nonmember_scores)
    if roc is not None:
        out["roc"] = roc
    return out


def _distance_histograms(mem: MemorizationResult) -> list[dict[str, Any]]:
    h = histogram(
        name="synthetic subjects: distance to the nearest real subject",
        series={"nearest training subject": 1.0 - mem.max_sim_to_train, "nearest holdout subject": 1.0 - mem.max_sim_to_holdout},
        edges=COSINE_DISTANCE_EDGES,
        xlabel="embedding cosine distance (1 - similarity)",
        scale="log",
    )
    return [] if h is None else [h]


def external_privacy_report(*, verdict: Verdict, results: AuditResults) -> dict[str, Any]:
    """The ``privacy.json`` dict (without ``dp.*``): aggregates only."""
    mem = results.memorization
    memorization: dict[str, Any] | None = None
    if mem is not None:
        memorization = {
            "copies": mem.copies,
            "copy_fraction": _num(mem.copy_fraction),
            "copy_quantile": mem.copy_quantile,
            "copies_binomial_p": _num(mem.copies_binomial_p),
            "closer_to_train_fraction": _num(mem.closer_to_train_fraction),
            "closer_to_train_raw_fraction": _num(mem.closer_to_train_raw_fraction),
            "expected_raw_fraction": _num(mem.expected_raw_fraction),
            "binomial_p": _num(mem.binomial_p),
            "permutation_p": _num(mem.permutation_p),
            "near_copies": mem.near_copies,
            "near_copy_subjects": mem.near_copy_subjects,
            "near_copy_ratio": mem.near_copy_ratio,
            "near_copy_measurable": mem.near_copy_measurable,
            "n_synthetic": mem.n_synthetic,
            "distance_histograms": _distance_histograms(mem),
        }
    return {
        "gate": _gate(verdict),
        "membership": {"attacks": [_attack(a) for a in results.attacks]},
        "memorization": memorization,
        "audit_errors": len(results.errors),
    }


def _floats(values: np.ndarray) -> list[float | None]:
    return [_num(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def internal_report(
    *,
    verdict: Verdict,
    results: AuditResults,
    embedding: EmbeddingSpec | None = None,
    train_keys: Sequence[str] | None = None,
    holdout_keys: Sequence[str] | None = None,
    synthetic_keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Everything, per subject. Keys, when given, should be pseudonymous (never real ids)."""
    report = external_privacy_report(verdict=verdict, results=results)
    report["INTERNAL"] = INTERNAL_BANNER
    report["gate"] = _gate(verdict, internal=True)
    report["errors"] = list(results.errors)
    report["embedding"] = asdict(embedding) if embedding is not None else None
    report["keys"] = {"train": list(train_keys or []), "holdout": list(holdout_keys or []), "synthetic": list(synthetic_keys or [])}
    report["membership"]["per_subject"] = {
        a.name: {"member_scores": _floats(a.member_scores), "nonmember_scores": _floats(a.nonmember_scores)} for a in results.attacks
    }
    mem = results.memorization
    if mem is not None and report["memorization"] is not None:
        report["memorization"].update(
            {
                "tau": _num(mem.tau),
                "calibration": mem.calibration,
                "null_min_distance": _num(mem.null_min_distance),
                "near_copy_distance": _num(mem.near_copy_distance),
                "closest_distance_ratio": _num(mem.closest_distance_ratio),
                "max_pixel_ncc": _num(mem.max_pixel_ncc),
                "pixel_matches": [asdict(m) for m in mem.pixel_matches],
                "max_sim_to_train": _floats(mem.max_sim_to_train),
                "max_sim_to_holdout": _floats(mem.max_sim_to_holdout),
                "nearest_train": [int(i) for i in mem.nearest_train],
            }
        )
    return report


def _atomic_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(*, path: str | Path, payload: dict[str, Any]) -> Path:
    """Write JSON (strict: no NaN) via a temp file in the same folder and os.replace."""
    p = Path(path)
    _atomic_bytes(p, (json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())
    return p


def write_pairs_png(*, path: str | Path, pairs: Sequence[tuple[np.ndarray, np.ndarray, str]]) -> Path:
    """INTERNAL figure: each row a real 2D slice, its nearest synthetic 2D slice, and a caption."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, len(pairs))
    fig, axes = plt.subplots(rows, 2, figsize=(5, 2.4 * rows), squeeze=False)
    for row, (real, synthetic, caption) in enumerate(pairs):
        for col, (img, label) in enumerate(((real, "real (train)"), (synthetic, "synthetic"))):
            ax = axes[row][col]
            ax.imshow(np.asarray(img), cmap="gray")
            ax.set_title(f"{label}\n{caption}", fontsize=7)
            ax.axis("off")
    fig.suptitle("INTERNAL - never release", color="red", fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    p = Path(path)
    _atomic_bytes(p, buffer.getvalue())
    return p
