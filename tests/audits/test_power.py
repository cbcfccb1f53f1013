"""Power of the default policy on phantom cohorts (80 real subjects, 60 train / 20 holdout, 40 synthetic).

Default run: one seed per side (a fresh cohort passes, noisy copies are blocked, ONE exact or lightly
noised copy of a training subject among 39 fresh subjects is blocked).
Slow run (`pytest -m slow tests/audits/test_power.py -s`): 20 seeds per scenario; prints the rates.
"""

from __future__ import annotations

import pytest
from audit_cohorts import run_trial

from audits import LoadedPolicy


def test_fresh_cohort_passes_and_noisy_copies_are_blocked(default_policy: LoadedPolicy) -> None:
    fresh = run_trial(policy=default_policy, scenario="fresh", seed=0)
    assert fresh.verdict.passed, fresh.verdict.failed
    copies = run_trial(policy=default_policy, scenario="noisy_copies", seed=0)
    assert not copies.verdict.passed
    assert {"memorization.copy_fraction", "memorization.closer_to_train_fraction"} <= {c.name for c in copies.verdict.failed}


@pytest.mark.parametrize("scenario", ["one_copy", "one_noisy_copy"])
def test_one_copy_among_fresh_subjects_is_blocked(default_policy: LoadedPolicy, scenario) -> None:
    # the fresh control is the first test (same seed, same 39 fresh subjects plus one more)
    trial = run_trial(policy=default_policy, scenario=scenario, seed=0)
    assert [c.name for c in trial.verdict.failed] == ["memorization.near_copies"]  # nothing else notices one copy
    assert (trial.results.memorization.near_copies, trial.results.memorization.near_copy_subjects) == (1, 1)


@pytest.mark.slow
def test_default_policy_calibration_over_20_seeds(default_policy: LoadedPolicy) -> None:
    seeds = range(20)
    rates = {}
    for scenario in ("fresh", "copies", "noisy_copies", "shifted_copies", "one_copy", "one_noisy_copy"):
        rates[scenario] = sum(run_trial(policy=default_policy, scenario=scenario, seed=s).verdict.passed for s in seeds) / len(seeds)
    print(f"pass rate over {len(seeds)} seeds (80 real, 60/20 split, 40 synthetic): {rates}")
    assert rates["fresh"] >= 0.95  # false-block rate <= 5%
    assert rates["copies"] == rates["noisy_copies"] == rates["shifted_copies"] == 0.0  # detection rate 100%
    assert rates["one_copy"] == rates["one_noisy_copy"] == 0.0  # a single exact or noised copy: 100%
    # not asserted: ONE noised copy shifted by a pixel passes (its distance is that of a distinct subject)
