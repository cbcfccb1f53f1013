"""Under DP every random draw is seeded from the steward's secret key, never from the public config seed.

Keys are switched by pointing $SYNTHSHARE_HOME at fresh temp folders. Positive and negative controls:
same key -> identical results; another key -> other noise; DP off -> the key changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from privacy import PrivacyLedger, release_statistics
from synthshare.models.conditioning import (
    CONDITION_GROUPS,
    MEASURE_LOWER,
    MEASURE_UPPER,
    group_index,
    measure_matrix,
    prior_space,
    subject_conditions,
)
from synthshare.steward_keys import dp_noise_seed
from synthshare.train.checkpoint import load_weights
from synthshare.train.conditions_stage import release_conditions
from synthshare.train.run_dir import RunDir
from synthshare.train.loop import DPParams, run_job
from synthshare.train.trainer import conditions_fingerprint, stage_hashes
from synthshare.train.vae_stage import vae_job


@pytest.fixture
def use_home(tmp_path, monkeypatch):
    """use_home("a") points the steward's key folder at tmp/a (created with its key on first use)."""
    return lambda name: monkeypatch.setenv("SYNTHSHARE_HOME", str(tmp_path / f"home-{name}"))


def _stats(cohort, noise_multiplier):
    conditions = [subject_conditions(subject=cohort.load(k)) for k in cohort.keys[:6]]
    ledger = PrivacyLedger(delta=1e-3) if noise_multiplier is not None else PrivacyLedger.disabled()
    payload, _ = release_conditions(conditions=conditions, noise_multiplier=noise_multiplier, ledger=ledger, seed=0,
                                    space=prior_space(private=noise_multiplier is not None))
    return payload["statistics"]


def test_released_statistics_depend_on_the_secret_key_not_only_the_seed(use_home, cohort):
    use_home("a")
    a, a_again = _stats(cohort, 1.0), _stats(cohort, 1.0)
    use_home("b")
    b = _stats(cohort, 1.0)
    assert a == a_again  # the steward replays a release with the same key
    assert a["counts"] != b["counts"] and a["means"] != b["means"]  # same config seed, other key: other noise


def test_replaying_the_public_seed_does_not_recover_the_noise(use_home, cohort):
    # the reviewer's attack: regenerate the draws from the published seed and subtract them
    use_home("a")
    conditions = [subject_conditions(subject=cohort.load(k)) for k in cohort.keys[:6]]
    vectors = measure_matrix(conditions)
    categories = np.array([group_index(str(c["group"])) for c in conditions], dtype=np.int64)
    replay = release_statistics(vectors=vectors, categories=categories, n_categories=len(CONDITION_GROUPS),
                                lower=MEASURE_LOWER, upper=MEASURE_UPPER, noise_multiplier=1.0,
                                rng=np.random.default_rng(0)).to_dict()
    released = _stats(cohort, 1.0)
    assert replay["counts"] != released["counts"]
    # negative control: the replay does reproduce the release when the same generator is used
    exact = release_statistics(vectors=vectors, categories=categories, n_categories=len(CONDITION_GROUPS),
                               lower=MEASURE_LOWER, upper=MEASURE_UPPER, noise_multiplier=1.0,
                               rng=np.random.default_rng(dp_noise_seed(stage="stats", seed=0))).to_dict()
    assert exact["counts"] == released["counts"]


def test_statistics_without_dp_ignore_the_key(use_home, cohort, tmp_path):
    use_home("a")
    a = _stats(cohort, None)
    use_home("b")
    assert _stats(cohort, None) == a
    assert not (tmp_path / "home-b" / "dp-noise.key").exists()  # DP off never needs the key


def _vae_weights(run: RunDir, cohort, config, *, private: bool) -> dict[str, torch.Tensor]:
    """Two steps of the VAE stage through the trainer's loop (a fixed DP plan: no budget bisection)."""
    keys = cohort.keys[:6]
    job = vae_job(config=config, train_keys=keys, load=cohort.load, seed=1000)
    dp = DPParams(noise_multiplier=1.0, max_grad_norm=1.0, mode="hooks") if private else None
    ledger = PrivacyLedger(delta=1e-3) if private else PrivacyLedger.disabled()
    run_job(job=job, stage_hash="h", run_dir=run, config=config, ledger=ledger, dp=dp, seed=1000)
    return load_weights(weights_path=run.checkpoint("vae"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_dp_sgd_batches_and_noise_depend_on_the_secret_key(use_home, cohort, tiny_config, tmp_path):
    use_home("a")
    a = _vae_weights(RunDir(tmp_path / "a1"), cohort, tiny_config, private=True)
    a_again = _vae_weights(RunDir(tmp_path / "a2"), cohort, tiny_config, private=True)
    use_home("b")
    b = _vae_weights(RunDir(tmp_path / "b"), cohort, tiny_config, private=True)
    assert _same(a, a_again)  # the steward replays a run with the same key
    assert not _same(a, b)  # same config seed, other key: other batches and noise


def test_training_without_dp_ignores_the_key(use_home, cohort, tiny_config, tmp_path):
    use_home("a")
    a = _vae_weights(RunDir(tmp_path / "a"), cohort, tiny_config, private=False)
    use_home("b")
    assert _same(_vae_weights(RunDir(tmp_path / "b"), cohort, tiny_config, private=False), a)
    assert not (tmp_path / "home-b" / "dp-noise.key").exists()


def test_stats_hash_follows_the_data_grid_and_the_dp_key(use_home, cohort, tiny_config, tmp_path):
    keys = cohort.keys[:6]
    fp = conditions_fingerprint(cohort=cohort, train_keys=keys)
    use_home("a")
    base = stage_hashes(config=tiny_config, train_keys=keys, conditions_sha256=fp)
    for update in ({"slices": 3}, {"spacing": [2.0, 2.0, 8.0]}):  # the `slices` condition depends on the grid
        changed = stage_hashes(config=tiny_config.with_updates({"data": update}), train_keys=keys, conditions_sha256=fp)
        assert changed["stats"] != base["stats"], update
    dp = tiny_config.with_updates({"privacy": {"epsilon": 8.0}})
    dp_a = stage_hashes(config=dp, train_keys=keys, conditions_sha256=fp)
    assert stage_hashes(config=dp, train_keys=keys, conditions_sha256=fp) == dp_a
    use_home("b")
    assert stage_hashes(config=tiny_config, train_keys=keys, conditions_sha256=fp) == base  # DP off: the key is not an input
    dp_b = stage_hashes(config=dp, train_keys=keys, conditions_sha256=fp)
    assert all(dp_b[s] != dp_a[s] for s in dp_a)  # a new key retrains the chain, never resumes the old noise
