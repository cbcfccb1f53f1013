"""Shared helpers of the audit tests (a unique module name: tests/ has no packages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audits import AuditResults
from audits.membership import evaluate_attack
from audits.memorization import memorization_audit

POLICY_DIR = Path(__file__).resolve().parents[2] / "configs" / "policy"


def clean_results(*, n_members: int = 40, n_nonmembers: int = 20, seed: int = 0) -> AuditResults:
    """Results of a harmless generator: chance-level attack, no copies (orthogonal embeddings)."""
    rng = np.random.default_rng(seed)
    attack = evaluate_attack(
        name="data_nearest_synthetic",
        member_scores=rng.normal(size=n_members),
        nonmember_scores=rng.normal(size=n_nonmembers),
        lower_is_member=False,
        n_bootstrap=200,
    )
    dim = n_members + n_nonmembers + 20
    eye = np.eye(dim, dtype=np.float32)
    memorization = memorization_audit(synthetic=eye[-20:], train=eye[:n_members], holdout=eye[n_members : n_members + n_nonmembers])
    return AuditResults(attacks=(attack,), memorization=memorization)
