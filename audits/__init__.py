"""Membership-inference and memorisation audits, the release-gate policy and its verdict.

This package imports nothing from ``synthshare``: it takes arrays, embeddings and per-subject
scores, so a reviewer can audit any cohort with it.

Typical use::

    from audits import embed, evaluate_attack, data_side_attack, memorization_audit
    from audits import AuditResults, load_policy, evaluate_gate, external_privacy_report
"""

from __future__ import annotations

from audits.embedding import EmbeddingSpec, embed
from audits.errors import AuditError, AuditInputError, PolicyError
from audits.gate import Criterion, Verdict, evaluate_gate
from audits.membership import (
    AttackResult,
    data_side_attack,
    evaluate_attack,
    model_side_attack,
)
from audits.memorization import (
    MemorizationResult,
    memorization_audit,
    nearest_similarity,
)
from audits.policy import (
    AuditParams,
    LoadedPolicy,
    Policy,
    load_policy,
    policy_from_bytes,
)
from audits.report import external_privacy_report, internal_report, write_json_atomic
from audits.results import AuditResults
from audits.runner import run_audits
from audits.stats import TprAtFpr, auc_with_ci, binomial_p, roc_auc, tpr_at_fpr, tpr_at_fpr_either_way

__all__ = [
    "AttackResult",
    "AuditError",
    "AuditInputError",
    "AuditParams",
    "AuditResults",
    "Criterion",
    "EmbeddingSpec",
    "LoadedPolicy",
    "MemorizationResult",
    "Policy",
    "PolicyError",
    "TprAtFpr",
    "Verdict",
    "auc_with_ci",
    "binomial_p",
    "data_side_attack",
    "embed",
    "evaluate_attack",
    "evaluate_gate",
    "external_privacy_report",
    "internal_report",
    "load_policy",
    "memorization_audit",
    "model_side_attack",
    "nearest_similarity",
    "policy_from_bytes",
    "roc_auc",
    "run_audits",
    "tpr_at_fpr",
    "tpr_at_fpr_either_way",
    "write_json_atomic",
]
