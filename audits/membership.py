"""Membership-inference attacks: members are the training subjects, non-members the holdout.

Model side: any per-subject score a model gives (the generator's denoising error per diffusion
stage, a PIA/SecMI-style variant, the VAE reconstruction error). Lower error = more likely member.
Data side: what a partner holding only the release can do: each real subject's similarity to its
nearest synthetic subject (higher = more likely member).

``lower_is_member`` fixes the DECLARED orientation only. An attack can leak in the other direction
(members with systematically HIGHER error, e.g. a generator that steers away from its training
subjects), and an attacker who notices simply flips the score; so the result also measures the
inverted orientation: ``separation_auc`` is the AUC's distance from chance, ``tpr_at_fpr`` is the
worse of the two orientations, and ``orientation`` says which way the AUC leans.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np

from audits.errors import AuditError, AuditInputError
from audits.memorization import nearest_similarity
from audits.stats import Orientation, TprAtFpr, auc_with_ci, tpr_at_fpr_either_way

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class AttackResult:
    """Aggregates of one attack. member/nonmember scores are per subject: internal report only.

    auc / auc_ci are in the declared orientation (0.5 = chance, 0 = perfectly separable inverted);
    tpr_at_fpr holds, per FPR, the worse of the two orientations (each point says which).
    """

    name: str
    auc: float
    auc_ci: tuple[float, float]
    tpr_at_fpr: dict[float, TprAtFpr]
    n_members: int
    n_nonmembers: int
    member_scores: np.ndarray = field(repr=False)
    nonmember_scores: np.ndarray = field(repr=False)

    @property
    def min_measurable_fpr(self) -> float:
        return 1.0 / self.n_nonmembers

    @property
    def orientation(self) -> Orientation:
        """The direction the attack leaks in: "inverted" when members score below non-members (AUC < 0.5)."""
        return "inverted" if self.auc < 0.5 else "declared"

    def separation_auc(self, statistic: Literal["ci_upper", "point"]) -> float:
        """The AUC's distance from chance in either direction, as an AUC in [0.5, 1].

        point: max(auc, 1 - auc); ci_upper: max(ci_upper, 1 - ci_lower), the bound of the CI farther
        from chance, so a perfectly separable inverted attack (CI (0, 0)) scores 1.0.
        """
        if statistic == "ci_upper":
            return max(self.auc_ci[1], 1.0 - self.auc_ci[0])
        return max(self.auc, 1.0 - self.auc)


def evaluate_attack(
    *,
    name: str,
    member_scores: np.ndarray,
    nonmember_scores: np.ndarray,
    lower_is_member: bool,
    fprs: Sequence[float] = (0.01, 0.001),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> AttackResult:
    """AUC (+ bootstrap CI over subjects) and TPR at each FPR of one attack's per-subject scores."""
    sign = -1.0 if lower_is_member else 1.0
    members = sign * np.asarray(member_scores, dtype=np.float64).reshape(-1)
    nonmembers = sign * np.asarray(nonmember_scores, dtype=np.float64).reshape(-1)
    try:
        auc, ci = auc_with_ci(
            member_scores=members, nonmember_scores=nonmembers, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed
        )
        tprs = {float(f): tpr_at_fpr_either_way(member_scores=members, nonmember_scores=nonmembers, fpr=float(f)) for f in fprs}
    except AuditInputError as err:
        raise AuditInputError(f"attack {name!r}: {err}") from err
    return AttackResult(
        name=name,
        auc=auc,
        auc_ci=ci,
        tpr_at_fpr=tprs,
        n_members=members.size,
        n_nonmembers=nonmembers.size,
        member_scores=members,
        nonmember_scores=nonmembers,
    )


def model_side_attack(
    *,
    name: str,
    score_fn: Callable[[Sequence[T]], np.ndarray],
    members: Sequence[T],
    nonmembers: Sequence[T],
    lower_is_member: bool = True,
    fprs: Sequence[float] = (0.01, 0.001),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> AttackResult:
    """Score members and non-members with ``score_fn`` (one score per subject) and evaluate the attack.

    ``score_fn`` must be deterministic given its own seed (e.g. fixed timesteps and seeded noise) so
    members and non-members are scored alike.
    """
    try:
        member_scores = np.asarray(score_fn(members), dtype=np.float64).reshape(-1)
        nonmember_scores = np.asarray(score_fn(nonmembers), dtype=np.float64).reshape(-1)
    except AuditError:
        raise
    except Exception as err:  # a scoring failure must reach the gate as an audit error, never a pass
        raise AuditError(f"attack {name!r}: the scoring function failed: {type(err).__name__}: {err}") from err
    if member_scores.size != len(members) or nonmember_scores.size != len(nonmembers):
        raise AuditInputError(
            f"attack {name!r}: score_fn returned {member_scores.size}/{nonmember_scores.size} scores for "
            f"{len(members)}/{len(nonmembers)} subjects; it must return one score per subject"
        )
    return evaluate_attack(
        name=name,
        member_scores=member_scores,
        nonmember_scores=nonmember_scores,
        lower_is_member=lower_is_member,
        fprs=fprs,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
    )


def data_side_attack(
    *,
    train_embeddings: np.ndarray,
    holdout_embeddings: np.ndarray,
    synthetic_embeddings: np.ndarray,
    name: str = "data_nearest_synthetic",
    fprs: Sequence[float] = (0.01, 0.001),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> AttackResult:
    """Each real subject's cosine similarity to its nearest synthetic subject; members should be nearer."""
    train_sim, _ = nearest_similarity(queries=train_embeddings, references=synthetic_embeddings)
    holdout_sim, _ = nearest_similarity(queries=holdout_embeddings, references=synthetic_embeddings)
    return evaluate_attack(
        name=name,
        member_scores=train_sim,
        nonmember_scores=holdout_sim,
        lower_is_member=False,
        fprs=fprs,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
    )
