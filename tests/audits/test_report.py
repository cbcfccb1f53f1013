"""The external privacy.json holds aggregates only; the internal report is marked INTERNAL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from audit_helpers import clean_results

from audits import (
    LoadedPolicy,
    evaluate_gate,
    external_privacy_report,
    internal_report,
    write_json_atomic,
)
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
    # no list longer than a CI pair or the criteria list: nothing per subject
    lists = [v for v in _walk(external) if isinstance(v, list)]
    assert all(len(v) <= 2 or v is external["gate"]["criteria"] for v in lists)
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
