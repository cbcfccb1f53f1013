"""The release gate: a verdict from a policy and audit results. It FAILS CLOSED.

A criterion passes only if its value is a finite number, measurable, and within its threshold.
Missing results (a required attack, the memorisation audit, the DP epsilon when DP is required),
audit errors, NaN values, exceptions while evaluating a criterion, and unmeasurable criteria that
the policy does not waive all block. A verdict with no criteria at all blocks.

Membership criteria are two-sided: an attack leaks whether members score above or below
non-members, so the AUC criterion is the AUC's distance from chance (``AttackResult.separation_auc``)
and each TPR criterion is the worse of the two orientations.

What a criterion may carry into the EXTERNAL report (audits.report): ``note`` is written by this
module from aggregates and policy settings only; exception text and audit error messages (paths,
subject keys) go to ``detail``, which stays in the internal report. ``subject_level`` marks a value
that is a function of single real subjects (the pixel NCC of one synthetic/real pair); the external
report withholds it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from audits.aggregates import MIN_AGGREGATE_COUNT
from audits.membership import AttackResult
from audits.memorization import MemorizationResult
from audits.policy import LoadedPolicy, Policy
from audits.results import AuditResults

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Criterion:
    """One gate check. note: generic, safe to release; detail: internal only (exception text);
    subject_level: the value is a function of single real subjects (withheld from the external report)."""

    name: str
    value: float | None
    threshold: float | None
    passed: bool
    measurable: bool
    note: str = ""
    detail: str = ""
    subject_level: bool = False


@dataclass(frozen=True, kw_only=True)
class Verdict:
    passed: bool
    policy_name: str
    policy_sha256: str
    criteria: tuple[Criterion, ...]

    @property
    def failed(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.passed)


def _check(
    *, name: str, value: float | None, threshold: float, kind: str, measurable: bool, policy: Policy, note: str = "",
    subject_level: bool = False,
) -> Criterion:
    """kind 'max': value <= threshold passes; 'min': value >= threshold passes."""
    if value is None or not math.isfinite(float(value)):
        return Criterion(name=name, value=None, threshold=threshold, passed=False, measurable=False,
                         note=f"value missing or NaN; {note}".strip("; "), subject_level=subject_level)
    value = float(value)
    if not measurable:
        waived = any(fnmatch.fnmatchcase(name, pattern) for pattern in policy.waive)
        why = f"unmeasurable ({note})" if note else "unmeasurable"
        return Criterion(name=name, value=value, threshold=threshold, passed=waived, measurable=False,
                         note=f"{why}; waived by policy" if waived else f"{why}; not waived", subject_level=subject_level)
    ok = value <= threshold if kind == "max" else value >= threshold
    return Criterion(name=name, value=value, threshold=threshold, passed=ok, measurable=True, note=note, subject_level=subject_level)


def tpr_is_subject_level(*, tpr: float, n_members: int, measurable: bool) -> bool:
    """A TPR at low FPR counts the members beyond the top non-members: a first ROC step. Below the smallest
    measurable FPR, or when it counts 1 or 2 members, it says which few real subjects stand out (e.g. "exactly
    one training subject beats every holdout subject"): such values stay in the internal report."""
    if not measurable:
        return True
    count = round(float(tpr) * n_members) if math.isfinite(float(tpr)) else 0
    return 0 < count < MIN_AGGREGATE_COUNT


def _attack_criteria(attack: AttackResult, policy: Policy) -> list[Criterion]:
    few = min(attack.n_members, attack.n_nonmembers) < policy.min_subjects
    size_note = f"{attack.n_members} members, {attack.n_nonmembers} non-members; policy needs >= {policy.min_subjects} each"
    lo, hi = attack.auc_ci
    two_sided = f"max(ci_upper, 1 - ci_lower) = max({hi:.3f}, {1 - lo:.3f})" if policy.auc_statistic == "ci_upper" else \
        f"max(AUC, 1 - AUC) = max({attack.auc:.3f}, {1 - attack.auc:.3f})"
    out = [
        _check(
            name=f"membership.{attack.name}.auc",
            value=attack.separation_auc(policy.auc_statistic),
            threshold=policy.max_auc,
            kind="max",
            measurable=not few,
            policy=policy,
            note=size_note if few else f"distance from chance, {two_sided}; AUC {attack.auc:.3f} CI [{lo:.3f}, {hi:.3f}], "
                                       f"orientation {attack.orientation}",
        )
    ]
    for fpr, max_tpr in sorted(policy.max_tpr_at_fpr.items()):
        name = f"membership.{attack.name}.tpr_at_fpr_{fpr:g}"
        point = attack.tpr_at_fpr.get(fpr)
        if point is None:
            out.append(Criterion(name=name, value=None, threshold=max_tpr, passed=False, measurable=False, note="not computed"))
            continue
        note = f"worse orientation: {point.orientation}" if point.measurable else \
            f"fpr {fpr:g} < min measurable fpr {point.min_measurable_fpr:.3g} = 1/n_nonmembers"
        out.append(_check(name=name, value=point.tpr, threshold=max_tpr, kind="max", measurable=point.measurable and not few,
                          policy=policy, note=note or (size_note if few else ""),
                          subject_level=tpr_is_subject_level(tpr=point.tpr, n_members=attack.n_members, measurable=point.measurable)))
    return out


def _memorization_criteria(results: AuditResults, policy: Policy) -> list[Criterion]:
    mem = results.memorization
    if mem is None:
        return [Criterion(name="memorization", value=None, threshold=None, passed=False, measurable=False, note="memorisation audit missing")]
    few = min(mem.n_train, mem.n_holdout) < policy.min_subjects
    note = f"{mem.n_train} train, {mem.n_holdout} holdout; policy needs >= {policy.min_subjects} each" if few else ""
    out = []
    if policy.max_near_copies is not None:
        out.append(_near_copies(mem=mem, policy=policy, few=few, note=note))
    if policy.max_copies is not None:
        out.append(_check(name="memorization.copies", value=mem.copies, threshold=policy.max_copies, kind="max", measurable=not few, policy=policy, note=note))
    if policy.max_copy_fraction is not None:
        out.append(
            _check(name="memorization.copy_fraction", value=mem.copy_fraction, threshold=policy.max_copy_fraction, kind="max", measurable=not few, policy=policy, note=note)
        )
    if policy.max_closer_to_train_fraction is not None:
        out.append(_closer_to_train(mem=mem, policy=policy, measurable=not few, note=note))
    if policy.min_binomial_p is not None:
        out.append(_check(name="memorization.binomial_p", value=mem.binomial_p, threshold=policy.min_binomial_p, kind="min", measurable=not few, policy=policy, note=note))
    if policy.min_permutation_p is not None:
        out.append(
            _check(name="memorization.permutation_p", value=mem.permutation_p, threshold=policy.min_permutation_p, kind="min",
                   measurable=not few, policy=policy, note=note)
        )
    if policy.max_pixel_ncc is not None:
        has = mem.max_pixel_ncc is not None
        out.append(
            _check(
                name="memorization.pixel_ncc",
                value=mem.max_pixel_ncc if has else 0.0,
                threshold=policy.max_pixel_ncc,
                kind="max",
                measurable=has,
                policy=policy,
                note="" if has else "no images given for the pixel check",
                subject_level=True,
            )
        )
    return out


def _near_copies(*, mem: MemorizationResult, policy: Policy, few: bool, note: str) -> Criterion:
    """Near-copies (count) against ``max_near_copies``; unmeasurable when the null is degenerate.

    Two distinct real subjects at distance ~0 (a duplicated scan) leave no room below them for a copy
    to be told apart: that is reported, and blocks, rather than passing every copy.
    """
    degenerate = not mem.near_copy_measurable
    why = note or ("two distinct real subjects are near-identical in the embedding (a duplicated subject?); "
                   "deduplicate the cohort" if degenerate else "")
    crit = _check(name="memorization.near_copies", value=mem.near_copies, threshold=policy.max_near_copies, kind="max",
                  measurable=not (few or degenerate), policy=policy, note=why)
    if crit.measurable and not crit.passed:
        return dataclasses.replace(crit, note=f"{mem.near_copies} synthetic subjects nearer a training subject than "
                                   f"{mem.near_copy_ratio:g} x the closest distinct real pair, copying "
                                   f"{mem.near_copy_subjects} training subjects")
    return crit


def _closer_to_train(*, mem, policy: Policy, measurable: bool, note: str) -> Criterion:
    """The size-corrected closer-to-train share against its maximum, optionally needing significance.

    The share is an effect size over synthetic subjects, but its evidence comes from the REAL
    subjects they sit nearest to: 40 samples of a weak generator clustered on 3 real subjects give a
    share of 0 or 1 by the luck of which 3 those are. With ``closer_to_train_significance`` a share
    above the maximum blocks only when the subject-level permutation test also finds it at that
    level; a missing or NaN p-value leaves the plain check (fail closed).
    """
    name = "memorization.closer_to_train_fraction"
    crit = _check(name=name, value=mem.closer_to_train_fraction, threshold=policy.max_closer_to_train_fraction,
                  kind="max", measurable=measurable, policy=policy, note=note)
    level = policy.closer_to_train_significance
    p = mem.permutation_p
    if crit.passed or not crit.measurable or level is None or p is None or not math.isfinite(float(p)):
        return crit
    if float(p) >= level:
        return dataclasses.replace(crit, passed=True, note=f"share above {crit.threshold:g} but not significant over "
                                   f"real subjects: permutation p = {float(p):.3g} >= {level:g}")
    return dataclasses.replace(crit, note=f"significant over real subjects: permutation p = {float(p):.3g} < {level:g}")


def _dp_criteria(results: AuditResults, policy: Policy) -> list[Criterion]:
    if not policy.require_dp:
        return []
    threshold = float(policy.max_epsilon) if policy.max_epsilon is not None else math.nan
    if not results.dp_enabled:
        return [Criterion(name="dp.epsilon", value=None, threshold=threshold, passed=False, measurable=False, note="policy requires DP; the run was trained without DP")]
    return [_check(name="dp.epsilon", value=results.dp_epsilon, threshold=threshold, kind="max", measurable=True, policy=policy)]


def _guarded(name: str, build: Callable[[], list[Criterion]]) -> list[Criterion]:
    try:
        return build()
    except Exception as err:  # fail closed: a criterion that cannot be evaluated blocks
        logger.exception("gate criterion %s raised", name)
        return [Criterion(name=name, value=None, threshold=None, passed=False, measurable=False,
                          note="evaluation failed (see the internal audit report)", detail=f"{type(err).__name__}: {err}")]


def evaluate_gate(*, policy: LoadedPolicy, results: AuditResults) -> Verdict:
    """Evaluate every criterion of ``policy`` on ``results``; ``passed`` only if all pass."""
    pol = policy.policy
    criteria: list[Criterion] = []
    for i, message in enumerate(results.errors):
        criteria.append(Criterion(name=f"audit.error.{i}", value=None, threshold=None, passed=False, measurable=False,
                                  note="an audit failed (see the internal audit report)", detail=message))
    names = [a.name for a in results.attacks]
    for required in pol.required_attacks:
        if required not in names:
            criteria.append(
                Criterion(name=f"membership.{required}", value=None, threshold=None, passed=False, measurable=False, note="required attack missing from the results")
            )
    if not results.attacks:
        criteria.append(Criterion(name="membership", value=None, threshold=None, passed=False, measurable=False, note="no membership attack ran"))
    for attack in results.attacks:
        criteria.extend(_guarded(f"membership.{attack.name}", lambda a=attack: _attack_criteria(a, pol)))
    criteria.extend(_guarded("memorization", lambda: _memorization_criteria(results, pol)))
    criteria.extend(_guarded("dp", lambda: _dp_criteria(results, pol)))
    passed = bool(criteria) and all(c.passed for c in criteria)
    return Verdict(passed=passed, policy_name=pol.name, policy_sha256=policy.sha256, criteria=tuple(criteria))
