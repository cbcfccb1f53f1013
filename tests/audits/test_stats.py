"""Statistics: fixed expected values, with a negative control beside each positive case."""

from __future__ import annotations

import numpy as np
import pytest

from audits import AuditInputError, auc_with_ci, binomial_p, roc_auc, tpr_at_fpr


def test_auc_perfect_separation_is_one_and_reversed_is_zero() -> None:
    members, nonmembers = np.array([3.0, 4.0, 5.0]), np.array([0.0, 1.0, 2.0])
    assert roc_auc(member_scores=members, nonmember_scores=nonmembers) == 1.0
    assert roc_auc(member_scores=nonmembers, nonmember_scores=members) == 0.0


def test_auc_fixed_value_with_ties() -> None:
    # pairs: (1 vs 0)=1, (1 vs 1)=0.5, (1 vs 2)=0, (2 vs 0)=1, (2 vs 1)=1, (2 vs 2)=0.5 -> 4/6
    assert roc_auc(member_scores=np.array([1.0, 2.0]), nonmember_scores=np.array([0.0, 1.0, 2.0])) == pytest.approx(4 / 6)


def test_bootstrap_ci_matches_loop_over_replicates_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(0.5, 1, 30), rng.normal(0, 1, 20)
    point, ci = auc_with_ci(member_scores=members, nonmember_scores=nonmembers, n_bootstrap=300, confidence=0.9, seed=7)
    # ground truth: the same multinomial draws, one roc_auc per replicate
    r = np.random.default_rng(7)
    w = r.multinomial(30, np.full(30, 1 / 30), size=300)
    v = r.multinomial(20, np.full(20, 1 / 20), size=300)
    loop = [roc_auc(member_scores=np.repeat(members, w[b]), nonmember_scores=np.repeat(nonmembers, v[b])) for b in range(300)]
    assert ci == pytest.approx(tuple(np.quantile(loop, [0.05, 0.95])), abs=1e-6)
    assert point == pytest.approx(roc_auc(member_scores=members, nonmember_scores=nonmembers))
    assert ci[0] < point < ci[1]
    _, ci_other = auc_with_ci(member_scores=members, nonmember_scores=nonmembers, n_bootstrap=300, confidence=0.9, seed=8)
    assert ci_other != ci


def test_tpr_at_fpr_measurable_and_unmeasurable() -> None:
    nonmembers = np.arange(100, dtype=float)  # 0..99
    members = np.array([98.5, 99.5, 50.0, 120.0])
    at_1pct = tpr_at_fpr(member_scores=members, nonmember_scores=nonmembers, fpr=0.01)
    # one false positive allowed: threshold = 98 (second highest); members above: 98.5, 99.5, 120
    assert (at_1pct.tpr, at_1pct.achieved_fpr, at_1pct.measurable) == (0.75, 0.01, True)
    assert at_1pct.min_measurable_fpr == 0.01
    at_01pct = tpr_at_fpr(member_scores=members, nonmember_scores=nonmembers, fpr=0.001)
    # below 1/n: zero false positives allowed -> threshold 99, only 99.5 and 120 count; flagged unmeasurable
    assert (at_01pct.tpr, at_01pct.achieved_fpr, at_01pct.measurable) == (0.5, 0.0, False)


def test_binomial_p_fixed_values() -> None:
    assert binomial_p(successes=10, trials=10, p0=0.5) == pytest.approx(0.5**10)
    assert binomial_p(successes=0, trials=10, p0=0.5) == pytest.approx(1.0)
    assert binomial_p(successes=5, trials=10, p0=0.5) == pytest.approx(0.623046875)


@pytest.mark.parametrize("bad", [np.array([]), np.array([1.0, np.nan])])
def test_bad_scores_raise_typed_errors(bad: np.ndarray) -> None:
    with pytest.raises(AuditInputError):
        roc_auc(member_scores=bad, nonmember_scores=np.array([0.0]))


def test_tpr_either_way_reports_the_worse_orientation() -> None:
    from audits.stats import tpr_at_fpr_either_way

    nonmembers = np.arange(100, dtype=float)  # 0..99
    low_members = np.array([-5.0, -4.0, -3.0, 50.0])  # three members BELOW every non-member
    declared = tpr_at_fpr(member_scores=low_members, nonmember_scores=nonmembers, fpr=0.01)
    assert declared.tpr == 0.0  # the one-sided measure sees nothing
    worse = tpr_at_fpr_either_way(member_scores=low_members, nonmember_scores=nonmembers, fpr=0.01)
    assert (worse.tpr, worse.achieved_fpr, worse.orientation) == (0.75, 0.01, "inverted")
    # negative control: members above the non-members keep the declared orientation and figure
    high = tpr_at_fpr_either_way(member_scores=np.array([98.5, 99.5, 50.0, 120.0]), nonmember_scores=nonmembers, fpr=0.01)
    assert (high.tpr, high.orientation) == (0.75, "declared")
