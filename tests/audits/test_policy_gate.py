"""Policy loading and the fail-closed gate."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
from audit_helpers import POLICY_DIR, clean_results

from audits import (
    AuditResults,
    LoadedPolicy,
    PolicyError,
    evaluate_gate,
    load_policy,
    policy_from_bytes,
)
from audits.membership import evaluate_attack
from audits.memorization import memorization_audit


def _with(policy: LoadedPolicy, **updates: object) -> LoadedPolicy:
    return dataclasses.replace(policy, policy=policy.policy.model_copy(update=updates))


def test_bundled_policies_load_and_hash_the_file_bytes() -> None:
    for name in ("default", "strict"):
        path = POLICY_DIR / f"{name}.yaml"
        loaded = load_policy(path=path)
        assert loaded.policy.name == name
        assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_policy(path=POLICY_DIR / "strict.yaml").policy.require_dp


def test_bad_policy_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmax_auc: 1.5\nmax_copy_fraction: 0.1\nbogus: 1\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path=path)
    assert "max_auc" in str(info.value) and "bogus" in str(info.value) and info.value.exit_code == 2
    with pytest.raises(PolicyError, match="max_epsilon"):
        policy_from_bytes(data=b"name: x\nmax_auc: 0.7\nmax_copies: 0\nrequire_dp: true\n", source="inline")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(path=tmp_path / "missing.yaml")
    with pytest.raises(PolicyError, match="YAML"):
        policy_from_bytes(data=b"name: [unclosed", source="inline")


def test_clean_results_pass_and_verdict_carries_the_hash(default_policy: LoadedPolicy) -> None:
    verdict = evaluate_gate(policy=default_policy, results=clean_results())
    assert verdict.passed, verdict.failed
    assert verdict.policy_sha256 == default_policy.sha256
    names = {c.name for c in verdict.criteria}
    assert {"membership.data_nearest_synthetic.auc", "memorization.copy_fraction", "memorization.permutation_p"} <= names
    waived = [c for c in verdict.criteria if not c.measurable]
    assert {c.name for c in waived} == {
        "membership.data_nearest_synthetic.tpr_at_fpr_0.01",
        "membership.data_nearest_synthetic.tpr_at_fpr_0.001",
    }
    assert all("waived" in c.note for c in waived)


def test_unmeasurable_not_waived_blocks(default_policy: LoadedPolicy) -> None:
    verdict = evaluate_gate(policy=_with(default_policy, waive=()), results=clean_results())
    assert not verdict.passed
    assert {c.name for c in verdict.failed} == {
        "membership.data_nearest_synthetic.tpr_at_fpr_0.01",
        "membership.data_nearest_synthetic.tpr_at_fpr_0.001",
    }


def test_too_few_holdout_subjects_blocks(default_policy: LoadedPolicy) -> None:
    verdict = evaluate_gate(policy=default_policy, results=clean_results(n_nonmembers=5))
    assert not verdict.passed
    auc = next(c for c in verdict.criteria if c.name.endswith(".auc"))
    assert not auc.passed and not auc.measurable and "non-members" in auc.note


@pytest.mark.parametrize(
    "change, blocked_name",
    [
        (lambda r: dataclasses.replace(r, attacks=()), "membership.data_nearest_synthetic"),
        (lambda r: dataclasses.replace(r, memorization=None), "memorization"),
        (lambda r: dataclasses.replace(r, errors=("denoising scores: RuntimeError: boom",)), "audit.error.0"),
        (lambda r: dataclasses.replace(r, memorization=dataclasses.replace(r.memorization, permutation_p=float("nan"))), "memorization.permutation_p"),
        (lambda r: dataclasses.replace(r, memorization=dataclasses.replace(r.memorization, copy_fraction=0.9)), "memorization.copy_fraction"),
    ],
)
def test_gate_fails_closed(default_policy: LoadedPolicy, change, blocked_name: str) -> None:
    results = clean_results()
    assert evaluate_gate(policy=default_policy, results=results).passed  # control
    verdict = evaluate_gate(policy=default_policy, results=change(results))
    assert not verdict.passed
    assert blocked_name in {c.name for c in verdict.failed}


def test_leaky_attack_blocks_on_ci_upper_and_point(default_policy: LoadedPolicy) -> None:
    rng = np.random.default_rng(1)
    leaky = evaluate_attack(
        name="vae_reconstruction", member_scores=rng.normal(0, 1, 40), nonmember_scores=rng.normal(2, 1, 20), lower_is_member=True, n_bootstrap=200
    )
    results = dataclasses.replace(clean_results(), attacks=clean_results().attacks + (leaky,))
    for statistic in ("ci_upper", "point"):
        verdict = evaluate_gate(policy=_with(default_policy, auc_statistic=statistic), results=results)
        assert [c.name for c in verdict.failed] == ["membership.vae_reconstruction.auc"]


def test_exception_while_evaluating_blocks(default_policy: LoadedPolicy) -> None:
    broken = dataclasses.replace(clean_results().attacks[0], tpr_at_fpr=None)  # type: ignore[arg-type]
    verdict = evaluate_gate(policy=default_policy, results=AuditResults(attacks=(broken,), memorization=clean_results().memorization))
    assert not verdict.passed
    assert any("evaluation failed" in c.note for c in verdict.failed)


def test_dp_required(default_policy: LoadedPolicy) -> None:
    policy = _with(default_policy, require_dp=True, max_epsilon=8.0)
    base = clean_results()
    assert not evaluate_gate(policy=policy, results=base).passed  # DP off
    assert not evaluate_gate(policy=policy, results=dataclasses.replace(base, dp_enabled=True, dp_epsilon=12.0)).passed
    assert evaluate_gate(policy=policy, results=dataclasses.replace(base, dp_enabled=True, dp_epsilon=4.0)).passed


@pytest.mark.parametrize(
    "share, p, level, passes",
    [
        (0.95, 0.30, 0.05, True),  # high share, no evidence over real subjects: clustered noise
        (0.95, 0.01, 0.05, False),  # high and significant: blocked
        (0.95, 0.30, None, False),  # without the significance level the share alone decides
        (0.95, float("nan"), 0.05, False),  # no p-value: fail closed
        (0.60, 0.0001, 0.05, True),  # low share passes this criterion whatever p (permutation_p has its own)
    ],
)
def test_closer_to_train_share_needs_significance_when_the_policy_asks(default_policy, share, p, level, passes) -> None:
    results = clean_results()
    mem = dataclasses.replace(results.memorization, closer_to_train_fraction=share, permutation_p=p)
    policy = _with(default_policy, closer_to_train_significance=level)
    verdict = evaluate_gate(policy=policy, results=dataclasses.replace(results, memorization=mem))
    crit = next(c for c in verdict.criteria if c.name == "memorization.closer_to_train_fraction")
    assert crit.passed is passes
    assert crit.value == share and crit.threshold == default_policy.policy.max_closer_to_train_fraction
    if level is not None and share > 0.85 and p == p:
        assert "permutation p" in crit.note


def _two_sided_results(*, inverted: bool) -> AuditResults:
    """200 members / 200 non-members (every TPR at 1% FPR measurable); model-side error scores."""
    rng = np.random.default_rng(0)
    members = rng.uniform(2, 3, 200) if inverted else rng.uniform(0, 1, 200)  # inverted: members have HIGHER error
    attack = evaluate_attack(name="denoising_error_static", member_scores=members, nonmember_scores=rng.uniform(0, 1, 200),
                             lower_is_member=True, n_bootstrap=200)
    return dataclasses.replace(clean_results(), attacks=clean_results().attacks + (attack,))


def test_inverted_separable_attack_blocks_and_chance_passes(default_policy: LoadedPolicy) -> None:
    policy = _with(default_policy, max_tpr_at_fpr={0.01: 0.05, 0.001: 0.02})
    leaky = _two_sided_results(inverted=True)
    attack = leaky.attacks[-1]
    assert (attack.auc, attack.auc_ci, attack.orientation) == (0.0, (0.0, 0.0), "inverted")
    for statistic in ("ci_upper", "point"):
        verdict = evaluate_gate(policy=_with(policy, auc_statistic=statistic), results=leaky)
        failed = {c.name: c for c in verdict.failed}
        assert set(failed) == {"membership.denoising_error_static.auc", "membership.denoising_error_static.tpr_at_fpr_0.01"}
        assert failed["membership.denoising_error_static.auc"].value == 1.0  # distance from chance, as an AUC
        assert failed["membership.denoising_error_static.tpr_at_fpr_0.01"].value == 1.0
        assert "inverted" in failed["membership.denoising_error_static.tpr_at_fpr_0.01"].note
    # negative control: a chance-level attack of the same size passes every criterion
    verdict = evaluate_gate(policy=policy, results=_two_sided_results(inverted=False))
    assert verdict.passed, verdict.failed


def _gaussian_cohort(rng: np.random.Generator, n: int, base: np.ndarray) -> np.ndarray:
    x = base + 0.7 * rng.standard_normal((n, base.size))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("n_copies, noise, blocked", [(0, 0.0, False), (1, 0.0, True), (1, 0.05, True), (10, 0.0, True)])
def test_one_copy_of_one_training_subject_blocks(default_policy: LoadedPolicy, n_copies: int, noise: float, blocked: bool) -> None:
    """Embedding level (/tmp/review2/copies.py): 60 train / 20 holdout / 40 synthetic, n_copies of
    training subject 0 among fresh samples. 10 copies passed the old default (copy fraction 0.4)."""
    from audits import run_audits

    rng = np.random.default_rng(0)
    base = rng.standard_normal(256)
    train, holdout = _gaussian_cohort(rng, 60, base), _gaussian_cohort(rng, 20, base)
    # noise: a perturbation of norm ~noise on the unit embedding (distinct subjects are ~1 apart)
    copies = np.repeat(train[:1], n_copies, axis=0) + noise / 16 * rng.standard_normal((n_copies, 256)).astype(np.float32)
    synthetic = np.concatenate([_gaussian_cohort(rng, 40 - n_copies, base), copies / np.linalg.norm(copies, axis=1, keepdims=True)])
    results = run_audits(params=default_policy.policy.audit.model_copy(update={"n_bootstrap": 100}), train_embeddings=train,
                         holdout_embeddings=holdout, synthetic_embeddings=synthetic)
    verdict = evaluate_gate(policy=default_policy, results=results)
    assert verdict.passed is not blocked, verdict.failed
    assert results.memorization.near_copies == n_copies and results.memorization.near_copy_subjects == min(n_copies, 1)
    if blocked:
        assert "memorization.near_copies" in {c.name for c in verdict.failed}


def test_duplicated_real_subject_makes_near_copies_unmeasurable(default_policy: LoadedPolicy) -> None:
    eye = np.eye(80, dtype=np.float32)
    train, holdout, synthetic = eye[:40], eye[40:60], eye[60:]
    ok = evaluate_gate(policy=default_policy, results=dataclasses.replace(
        clean_results(), memorization=memorization_audit(synthetic=synthetic, train=train, holdout=holdout)))
    assert ok.passed, ok.failed  # control
    duplicated = np.concatenate([train, train[:1]])  # the same scan twice in the training set
    verdict = evaluate_gate(policy=default_policy, results=dataclasses.replace(
        clean_results(), memorization=memorization_audit(synthetic=synthetic, train=duplicated, holdout=holdout)))
    crit = next(c for c in verdict.criteria if c.name == "memorization.near_copies")
    assert not verdict.passed and not crit.passed and not crit.measurable and "deduplicate" in crit.note
