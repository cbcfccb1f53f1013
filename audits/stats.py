"""Statistics for membership attacks: ROC AUC with a subject bootstrap CI, TPR at low FPR, binomial test.

Convention: an attack score is higher for subjects the attack believes are members (train).
Callers with error-like scores (lower = member) negate them first (see ``audits.membership``).
That declared orientation is a guess, not a guarantee: an attack whose members score systematically
LOWER than non-members (AUC near 0) leaks membership as much as one with AUC near 1, because an
attacker who sees the inversion flips the score. ``tpr_at_fpr_either_way`` therefore measures both
orientations and returns the worse; the gate measures the AUC as its distance from chance.

The privacy unit is the subject, so every statistic treats one score per subject and the bootstrap
resamples subjects: members and non-members are resampled separately (stratified), so every
replicate keeps the real member/non-member counts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from audits.errors import AuditInputError

# Above this many member x non-member pairs the bootstrap works on row chunks of the pair matrix.
_PAIR_CHUNK = 2_000_000

Orientation = Literal["declared", "inverted"]


def _scores(name: str, values: np.ndarray | list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise AuditInputError(f"{name}: no scores; an attack needs at least one member and one non-member subject")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise AuditInputError(f"{name}: {bad} of {arr.size} scores are NaN or infinite; fix the scoring function")
    return arr


def roc_auc(*, member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """ROC AUC of the attack (0.5 = chance, 1.0 = every member scored above every non-member)."""
    m = _scores("member_scores", member_scores)
    n = _scores("nonmember_scores", nonmember_scores)
    y = np.concatenate([np.ones(m.size), np.zeros(n.size)])
    return float(roc_auc_score(y, np.concatenate([m, n])))


def auc_with_ci(
    *,
    member_scores: np.ndarray,
    nonmember_scores: np.ndarray,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> tuple[float, tuple[float, float]]:
    """Point AUC and a percentile bootstrap CI over subjects (stratified, seeded).

    Each replicate draws multinomial counts for members (w) and non-members (v); its AUC is
    w^T K v / (n_m n_v) with K[i, j] = 1[s_i > s_j] + 0.5 1[s_i == s_j], so all replicates are
    a few matrix products instead of a loop calling roc_auc_score.
    """
    if n_bootstrap < 1:
        raise AuditInputError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise AuditInputError(f"confidence must be in (0, 1), got {confidence}")
    m = _scores("member_scores", member_scores)
    n = _scores("nonmember_scores", nonmember_scores)
    point = roc_auc(member_scores=m, nonmember_scores=n)
    rng = np.random.default_rng(seed)
    w = rng.multinomial(m.size, np.full(m.size, 1.0 / m.size), size=n_bootstrap).astype(np.float32)
    v = rng.multinomial(n.size, np.full(n.size, 1.0 / n.size), size=n_bootstrap).astype(np.float32)
    totals = np.zeros(n_bootstrap, dtype=np.float64)
    rows = max(1, _PAIR_CHUNK // n.size)
    for start in range(0, m.size, rows):
        block = m[start : start + rows, None]
        k = (block > n[None, :]).astype(np.float32) + 0.5 * (block == n[None, :]).astype(np.float32)
        totals += np.einsum("bj,bj->b", w[:, start : start + rows] @ k, v, dtype=np.float64)
    boot = totals / (m.size * n.size)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return point, (float(lo), float(hi))


@dataclass(frozen=True, kw_only=True)
class TprAtFpr:
    """TPR of the attack at a false-positive-rate budget.

    The threshold lets through at most floor(fpr * n_nonmembers) non-members. When the requested
    fpr is below min_measurable_fpr = 1 / n_nonmembers that budget is zero false positives: the
    reported tpr is then the TPR at FPR 0 and ``measurable`` is False (too few non-members to
    measure that operating point; the gate blocks unless the policy waives it).
    """

    fpr: float
    tpr: float
    achieved_fpr: float
    min_measurable_fpr: float
    measurable: bool
    orientation: Orientation = "declared"


def tpr_at_fpr(*, member_scores: np.ndarray, nonmember_scores: np.ndarray, fpr: float) -> TprAtFpr:
    """TPR at the strictest threshold whose empirical FPR does not exceed ``fpr``."""
    if not 0.0 < fpr < 1.0:
        raise AuditInputError(f"fpr must be in (0, 1), got {fpr}")
    m = _scores("member_scores", member_scores)
    n = np.sort(_scores("nonmember_scores", nonmember_scores))[::-1]
    allowed = int(math.floor(fpr * n.size + 1e-12))
    # Flag members strictly above the (allowed+1)-th highest non-member score.
    threshold = n[allowed] if allowed < n.size else -np.inf
    tpr = float(np.mean(m > threshold))
    achieved = float(np.mean(n > threshold))
    min_fpr = 1.0 / n.size
    return TprAtFpr(fpr=fpr, tpr=tpr, achieved_fpr=achieved, min_measurable_fpr=min_fpr, measurable=fpr >= min_fpr)


def tpr_at_fpr_either_way(*, member_scores: np.ndarray, nonmember_scores: np.ndarray, fpr: float) -> TprAtFpr:
    """The worse (higher TPR) of the declared orientation and the inverted one (scores negated).

    Ties keep the declared orientation. Both are measured at the same false-positive budget.
    """
    m = _scores("member_scores", member_scores)
    n = _scores("nonmember_scores", nonmember_scores)
    declared = tpr_at_fpr(member_scores=m, nonmember_scores=n, fpr=fpr)
    inverted = tpr_at_fpr(member_scores=-m, nonmember_scores=-n, fpr=fpr)
    if inverted.tpr > declared.tpr:
        return dataclasses.replace(inverted, orientation="inverted")
    return declared


def binomial_p(*, successes: int, trials: int, p0: float) -> float:
    """One-sided binomial p-value P(X >= successes) for X ~ Binomial(trials, p0)."""
    if trials < 1:
        raise AuditInputError(f"binomial test needs at least one trial, got {trials}")
    if not 0 <= successes <= trials:
        raise AuditInputError(f"successes must be in [0, {trials}], got {successes}")
    if not 0.0 < p0 < 1.0:
        raise AuditInputError(f"p0 must be in (0, 1), got {p0}")
    return float(binomtest(successes, trials, p0, alternative="greater").pvalue)
