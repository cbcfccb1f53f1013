"""The external privacy.json holds aggregates only; the internal report is marked INTERNAL."""

from __future__ import annotations

import json
from pathlib import Path

import dataclasses

import numpy as np
from audit_helpers import clean_results

from audits import (
    LoadedPolicy,
    evaluate_gate,
    external_privacy_report,
    internal_report,
    write_json_atomic,
)
from audits.membership import evaluate_attack
from audits.report import write_pairs_png

KEYS = ["sha-train-aaaa", "sha-train-bbbb"]


def _walk(value: object) -> list[object]:
    if isinstance(value, dict):
        return [k for k in value] + [x for v in value.values() for x in _walk(v)]
    if isinstance(value, list):
        return [value] + [x for v in value for x in _walk(v)]
    return [value]


def test_external_report_has_contract_fields_and_aggregates_only(default_policy: LoadedPolicy, tmp_path: Path) -> None:
    results = clean_results()
    verdict = evaluate_gate(policy=default_policy, results=results)
    external = external_privacy_report(verdict=verdict, results=results)
    assert external["gate"]["passed"] is True and external["gate"]["policy_sha256"] == default_policy.sha256
    attack = external["membership"]["attacks"][0]
    assert set(attack) >= {"name", "auc", "auc_ci", "tpr_at_fpr", "min_measurable_fpr"}
    assert set(attack["tpr_at_fpr"]) == {"0.01", "0.001"} and attack["min_measurable_fpr"] == 0.05
    assert {"copies", "closer_to_train_fraction", "binomial_p"} <= set(external["memorization"])
    # no list longer than a CI pair except the criteria and the coarsened figures: nothing per subject
    roc, hist = attack["roc"], external["memorization"]["distance_histograms"][0]
    figures = [roc["fpr"], roc["tpr"], hist["edges"], *hist["counts"].values()]
    lists = [v for v in _walk(external) if isinstance(v, list)]
    assert all(len(v) <= 2 or v is external["gate"]["criteria"] or any(v is f for f in figures) for v in lists)
    for values, n in ((roc["fpr"], 20), (roc["tpr"], 40)):  # every ROC step: 0 or >= 3 real subjects
        assert all(step == 0 or step >= 3 for step in np.rint(np.diff(values) * n).astype(int))
    assert all(c == 0 or c >= 3 for counts in hist["counts"].values() for c in counts)
    assert sum(hist["counts"]["nearest training subject"]) == external["memorization"]["n_synthetic"]
    text = json.dumps(external)
    assert "INTERNAL" not in text and "sha-train" not in text and "tau" not in text

    internal = internal_report(verdict=verdict, results=results, train_keys=KEYS)
    assert internal["INTERNAL"].startswith("INTERNAL")
    assert len(internal["membership"]["per_subject"]["data_nearest_synthetic"]["member_scores"]) == 40  # control
    assert "sha-train-aaaa" in json.dumps(internal)

    path = write_json_atomic(path=tmp_path / "privacy.json", payload=external)
    assert json.loads(path.read_text()) == external
    assert sorted(p.name for p in tmp_path.iterdir()) == ["privacy.json"]  # no temp file left


def test_pairs_png_written(tmp_path: Path) -> None:
    img = np.random.default_rng(0).random((8, 8))
    path = write_pairs_png(path=tmp_path / "internal" / "pairs.png", pairs=[(img, img, "sim 1.000")])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_values_of_single_real_subjects_and_exception_text_stay_internal(default_policy: LoadedPolicy, monkeypatch) -> None:
    import audits.gate

    secret = "/hospital/pacs/patient042/run.pt"

    def raising(*args: object, **kwargs: object) -> list:
        raise FileNotFoundError(secret)

    monkeypatch.setattr(audits.gate, "_dp_criteria", raising)  # a criterion that raises while evaluated
    policy = dataclasses.replace(default_policy, policy=default_policy.policy.model_copy(update={"max_pixel_ncc": 0.99}))
    base = clean_results()
    results = dataclasses.replace(
        base,
        memorization=dataclasses.replace(base.memorization, max_pixel_ncc=0.97316),  # NCC of one synthetic/real pair
        errors=(f"attack denoising_error_static: FileNotFoundError: {secret}",),
    )
    verdict = evaluate_gate(policy=policy, results=results)
    external = json.dumps(external_privacy_report(verdict=verdict, results=results))
    internal = json.dumps(internal_report(verdict=verdict, results=results))
    assert "patient042" not in external and "/hospital" not in external and "0.97316" not in external
    ncc = next(c for c in json.loads(external)["gate"]["criteria"] if c["name"] == "memorization.pixel_ncc")
    assert ncc["value"] is None and ncc["value_withheld"] is True and ncc["threshold"] == 0.99 and ncc["passed"] is True
    assert external.count("see the internal audit report") == 2  # the audit error and the raising criterion
    # control: the internal report keeps all of it (criterion details and the error list)
    assert internal.count("patient042") >= 3 and "0.97316" in internal


def test_attack_orientation_is_reported(default_policy: LoadedPolicy) -> None:
    rng = np.random.default_rng(0)
    inverted = evaluate_attack(name="denoising_error_static", member_scores=rng.uniform(2, 3, 30),
                               nonmember_scores=rng.uniform(0, 1, 30), lower_is_member=True, n_bootstrap=50)
    declared = evaluate_attack(name="vae_reconstruction", member_scores=rng.uniform(0, 1, 30),
                               nonmember_scores=rng.uniform(0.5, 1.5, 30), lower_is_member=True, n_bootstrap=50)
    results = dataclasses.replace(clean_results(), attacks=(inverted, declared))
    verdict = evaluate_gate(policy=default_policy, results=results)
    attacks = external_privacy_report(verdict=verdict, results=results)["membership"]["attacks"]
    assert attacks[0]["orientation"] == "inverted" and attacks[0]["auc"] == 0.0
    assert attacks[0]["tpr_orientation"] == {"0.01": "inverted", "0.001": "inverted"} and inverted.tpr_at_fpr[0.01].tpr == 1.0
    assert attacks[0]["tpr_at_fpr"]["0.01"] is None  # 1% < 1/30: unmeasurable, so not released
    assert attacks[1]["orientation"] == "declared" and attacks[1]["tpr_orientation"]["0.01"] == "declared"  # control


def test_a_tpr_that_singles_out_one_or_two_members_is_withheld(default_policy: LoadedPolicy) -> None:
    """40 members, 30 non-members: exactly ONE member scores beyond every non-member (lower = member).
    The exact TPR at 0.1% FPR (0.025 = "one training subject beats every holdout subject") is a first
    ROC step of one subject: privacy.json gives null, the internal report keeps the value."""
    rng = np.random.default_rng(0)
    nonmembers = rng.uniform(1.0, 2.0, 30)
    members = np.concatenate([[0.5], rng.uniform(1.0, 2.0, 39)])
    attack = evaluate_attack(name="data_nearest_synthetic", member_scores=members, nonmember_scores=nonmembers,
                             lower_is_member=True, seed=0)
    results = dataclasses.replace(clean_results(), attacks=(attack,))
    verdict = evaluate_gate(policy=default_policy, results=results)
    external = external_privacy_report(verdict=verdict, results=results)
    released = external["membership"]["attacks"][0]
    assert attack.tpr_at_fpr[0.001].tpr == 0.025  # the value exists (control) ...
    assert released["tpr_at_fpr"]["0.001"] is None and released["tpr_withheld"]["0.001"] is True  # ... and stays in
    criteria = {c["name"]: c for c in external["gate"]["criteria"]}
    assert criteria["membership.data_nearest_synthetic.tpr_at_fpr_0.001"]["value"] is None
    internal = internal_report(verdict=verdict, results=results, train_keys=KEYS)
    assert any(c["value"] == 0.025 for c in internal["gate"]["criteria"] if c["name"].endswith("tpr_at_fpr_0.001"))


def test_a_tpr_counting_three_or_more_members_is_released(default_policy: LoadedPolicy) -> None:
    nonmembers = np.linspace(1.0, 2.0, 120)  # 1% FPR measurable (1/120 < 0.01)
    members = np.concatenate([[0.1, 0.2, 0.3, 0.4], np.linspace(1.0, 2.0, 36)])  # 4 of 40 beyond every non-member
    attack = evaluate_attack(name="data_nearest_synthetic", member_scores=members, nonmember_scores=nonmembers,
                             lower_is_member=True, seed=0)
    point = attack.tpr_at_fpr[0.01]
    assert point.measurable and round(point.tpr * 40) >= 3
    results = dataclasses.replace(clean_results(), attacks=(attack,))
    external = external_privacy_report(verdict=evaluate_gate(policy=default_policy, results=results), results=results)
    released = external["membership"]["attacks"][0]
    assert released["tpr_at_fpr"]["0.01"] == point.tpr and released["tpr_withheld"]["0.01"] is False
    assert released["tpr_withheld"]["0.001"] is True  # 0.1% is below 1/120: unmeasurable, withheld
