"""Issue 5, power: the default gate blocks a GENERATOR that memorised its few training subjects.

The protocol (tests/audits/memorising_protocol.py) goes through the product end to end: phantom
cohort -> prepare_and_split -> train_run -> sample_cohort -> run_audit under configs/policy/default.yaml.
Slow run (`pytest -m slow tests/audits/test_memorising_generator.py`, 2-3 min): one seed of the
memorising generator and its briefly trained control. Rates over seeds: benchmarks/memorising_generator.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from memorising_protocol import Protocol, run_arm, run_trial, trial_config, write_cohort


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: several times faster than two on a shared 2-core CPU; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_arms_differ_only_in_optimiser_steps() -> None:
    protocol = Protocol()
    memorising = trial_config(protocol=protocol, arm="memorising", seed=3).to_dict()
    control = trial_config(protocol=protocol, arm="control", seed=3).to_dict()
    assert (memorising["vae"]["steps"], memorising["static"]["steps"], memorising["motion"]["steps"]) == (600, 3000, 1500)
    assert (control["vae"]["steps"], control["static"]["steps"], control["motion"]["steps"]) == (2, 2, 2)
    for section in ("vae", "static", "motion"):
        memorising[section].pop("steps")
        control[section].pop("steps")
    assert memorising == control
    assert memorising["seed"] == 3 and memorising["static"]["num_train_timesteps"] == 1000
    assert memorising["static"]["channels"] == [16, 32] and memorising["sampling"]["ddim_steps"] == 25


def test_too_few_training_subjects_block_as_unmeasurable(tmp_path: Path, one_thread: None) -> None:
    """5 train / 10 holdout: under `min_subjects: 10` nothing is measurable, so even an untrained
    generator is blocked (fail closed), and not for a measured memorisation finding."""
    protocol = Protocol(n_subjects=15, holdout_fraction=0.7, n_synthetic=12)
    cohort = write_cohort(out=tmp_path / "cohort", protocol=protocol, seed=0)
    outcome = run_arm(cohort_dir=cohort, work=tmp_path, protocol=protocol, arm="control", seed=0)
    assert (outcome.n_train, outcome.n_holdout) == (5, 10)
    assert outcome.blocked
    assert not outcome.blocked_by_memorisation_criteria
    assert all(not c.measurable for c in outcome.verdict.failed)
    assert {"memorization.copy_fraction", "memorization.closer_to_train_fraction", "membership.data_nearest_synthetic.auc"} <= set(
        outcome.failed_names
    )


@pytest.mark.slow
def test_memorising_generator_is_blocked_and_brief_control_passes(tmp_path: Path, one_thread: None) -> None:
    trial = run_trial(work=tmp_path, protocol=Protocol(), seed=0)
    memorising, control = trial["memorising"], trial["control"]
    assert (memorising.n_train, memorising.n_holdout) == (10, 12)

    # positive: blocked by the data-side memorisation criteria themselves (measured, not merely unmeasurable) ...
    assert memorising.blocked and memorising.blocked_by_memorisation_criteria
    failed = {c.name for c in memorising.verdict.failed if c.measurable}
    assert {"memorization.copy_fraction", "memorization.closer_to_train_fraction", "memorization.permutation_p"} <= failed
    # ... and by the membership attacks, model side and data side
    assert {"membership.denoising_error_static.auc", "membership.data_nearest_synthetic.auc"} <= failed
    report = json.loads((tmp_path / "audit-memorising" / "privacy.json").read_text())
    assert report["gate"]["passed"] is False and report["memorization"]["copies"] >= 16  # >= 40% of 40 samples

    # negative control: same cohort, split, networks and sampler, 2 optimiser steps: passes every criterion
    assert control.verdict.passed, [f"{c.name}={c.value}" for c in control.verdict.failed]
    assert json.loads((tmp_path / "audit-control" / "privacy.json").read_text())["memorization"]["copies"] == 0
