"""The ledger: pinned epsilons, composition, resume, persistence."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from opacus.accountants import RDPAccountant

from privacy import NO_GUARANTEE, PrivacyError, PrivacyLedger

# epsilon of 1000 steps of sigma=1.1, q=0.01 at delta=1e-5 (Opacus RDP accountant, default orders)
PINNED_EPS = 1.7117700912203435


def test_epsilon_pinned_and_equal_to_opacus() -> None:
    ledger = PrivacyLedger(delta=1e-5)
    ledger.record_steps(stage="vae", noise_multiplier=1.1, sample_rate=0.01, steps=1000, max_grad_norm=1.0)
    acc = RDPAccountant()
    for _ in range(1000):
        acc.step(noise_multiplier=1.1, sample_rate=0.01)
    assert ledger.epsilon(delta=1e-5) == pytest.approx(PINNED_EPS, abs=1e-6)
    assert ledger.epsilon(delta=1e-5) == pytest.approx(acc.get_epsilon(delta=1e-5), abs=1e-9)
    # negative control: fewer steps spend less
    fewer = PrivacyLedger()
    fewer.record_steps(stage="vae", noise_multiplier=1.1, sample_rate=0.01, steps=500, max_grad_norm=1.0)
    assert fewer.epsilon(delta=1e-5) < PINNED_EPS - 0.3


def test_stages_compose_below_sum_above_max() -> None:
    ledger = PrivacyLedger(delta=1e-5)
    ledger.record_steps(stage="vae", noise_multiplier=1.1, sample_rate=0.01, steps=1000, max_grad_norm=1.0)
    ledger.record_steps(stage="static", noise_multiplier=1.1, sample_rate=0.01, steps=1000, max_grad_norm=1.0)
    ledger.record_gaussian(stage="stats", noise_multiplier=5.0, sensitivity=math.sqrt(3))
    parts = [ledger.stage_epsilon(stage=s, delta=1e-5) for s in ledger.stages()]
    total = ledger.epsilon(delta=1e-5)
    assert parts[0] == pytest.approx(PINNED_EPS, abs=1e-6)
    assert max(parts) < total < sum(parts)
    # composing two identical stages equals one stage of twice the steps (RDP adds)
    double = PrivacyLedger()
    double.record_steps(stage="x", noise_multiplier=1.1, sample_rate=0.01, steps=2000, max_grad_norm=1.0)
    two = PrivacyLedger()
    for s in ("a", "b"):
        two.record_steps(stage=s, noise_multiplier=1.1, sample_rate=0.01, steps=1000, max_grad_norm=1.0)
    assert two.epsilon(delta=1e-5) == pytest.approx(double.epsilon(delta=1e-5), rel=1e-12)


def test_gaussian_release_matches_closed_form() -> None:
    # one Gaussian release: RDP(alpha) = alpha / (2 sigma^2); eps = min_alpha RDP + log(1/delta)/(alpha-1) (+ Opacus' refinement)
    ledger = PrivacyLedger()
    ledger.record_gaussian(stage="stats", noise_multiplier=2.0, sensitivity=1.0)
    acc = RDPAccountant()
    acc.step(noise_multiplier=2.0, sample_rate=1.0)
    assert ledger.epsilon(delta=1e-5) == pytest.approx(acc.get_epsilon(delta=1e-5), rel=1e-12)
    assert 2.0 < ledger.epsilon(delta=1e-5) < 3.0


def test_interrupted_and_resumed_equals_uninterrupted() -> None:
    whole = PrivacyLedger(delta=1e-5)
    whole.record_steps(stage="vae", noise_multiplier=1.1, sample_rate=0.01, steps=1000, max_grad_norm=1.0)
    part = PrivacyLedger(delta=1e-5)
    part.record_steps(stage="vae", noise_multiplier=1.1, sample_rate=0.01, steps=300, max_grad_norm=1.0)
    resumed = PrivacyLedger.from_dict(json.loads(json.dumps(part.to_dict())))
    for _ in range(700):
        resumed.record_steps(stage="vae", noise_multiplier=1.1, sample_rate=0.01, steps=1, max_grad_norm=1.0)
    assert resumed == whole
    assert resumed.to_dict() == whole.to_dict()
    # negative control: a resume that forgot the saved ledger under-counts
    fresh = PrivacyLedger(delta=1e-5)
    fresh.record_steps(stage="vae", noise_multiplier=1.1, sample_rate=0.01, steps=700, max_grad_norm=1.0)
    assert fresh != whole and fresh.epsilon(delta=1e-5) < whole.epsilon(delta=1e-5)


def test_round_trip_exact_and_fields() -> None:
    ledger = PrivacyLedger(delta=1e-4)
    ledger.record_steps(stage="vae", noise_multiplier=0.9, sample_rate=0.05, steps=20, max_grad_norm=1.0)
    ledger.record_gaussian(stage="stats", noise_multiplier=3.0, sensitivity=1.5)
    d = ledger.to_dict()
    assert PrivacyLedger.from_dict(d).to_dict() == d
    assert set(d["stages"]) == {"vae", "stats"}
    vae = d["stages"]["vae"]
    assert (vae["noise_multiplier"], vae["sample_rate"], vae["steps"], vae["max_grad_norm"]) == (0.9, 0.05, 20, 1.0)
    assert vae["epsilon"] == ledger.stage_epsilon(stage="vae", delta=1e-4)
    assert d["epsilon"] == ledger.epsilon(delta=1e-4) and d["unit"] == "subject"


def test_disabled_ledger_states_no_guarantee() -> None:
    off = PrivacyLedger.disabled()
    assert off.to_dict() == {"format": 1, "enabled": False, "guarantee": NO_GUARANTEE}
    assert PrivacyLedger.from_dict(off.to_dict()) == off
    assert math.isinf(off.epsilon(delta=1e-5))
    with pytest.raises(PrivacyError, match="disabled"):
        off.record_steps(stage="vae", noise_multiplier=1.0, sample_rate=0.1, steps=1, max_grad_norm=1.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"noise_multiplier": 0.0, "sample_rate": 0.1, "steps": 1, "max_grad_norm": 1.0}, "no guarantee"),
    ({"noise_multiplier": 1.0, "sample_rate": 1.5, "steps": 1, "max_grad_norm": 1.0}, "sample_rate"),
    ({"noise_multiplier": 1.0, "sample_rate": 0.1, "steps": -1, "max_grad_norm": 1.0}, "negative"),
])
def test_bad_records_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(PrivacyError, match=match):
        PrivacyLedger().record_steps(stage="vae", **kwargs)


def test_corrupt_ledger_raises() -> None:
    with pytest.raises(PrivacyError, match="corrupt"):
        PrivacyLedger.from_dict({"format": 1, "enabled": True, "segments": [{"stage": "vae"}]})


def test_privacy_imports_nothing_from_synthshare() -> None:
    code = "import sys, privacy, privacy.engine, privacy.plan; print(sorted(m for m in sys.modules if m.startswith('synthshare')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "[]"
