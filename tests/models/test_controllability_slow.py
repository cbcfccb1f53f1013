"""Slow: a briefly trained small model draws a larger LV when asked for a larger EDV; DP run ledger."""

from __future__ import annotations

import numpy as np
import pytest

from synthshare.sample.conditions import complete
from synthshare.sample.generator import load_generator
from synthshare.sample.sampler import sample_cohort
from synthshare.train.run_dir import RunDir
from synthshare.train.trainer import train_run

pytestmark = pytest.mark.slow


def test_larger_requested_edv_gives_larger_lv(tmp_path, tiny_config, make_cohort):
    cohort = make_cohort([2.0 + 0.35 * i for i in range(12)])
    config = tiny_config.with_updates({
        "vae": {"channels": [8, 16], "norm_groups": 4, "steps": 200, "batch_size": 4, "lr": 3e-3},
        "static": {"channels": [8, 16], "norm_groups": 4, "num_train_timesteps": 100, "steps": 300, "batch_size": 6,
                   "lr": 2e-3, "cond_dropout": 0.1},
        "motion": {"num_train_timesteps": 100, "steps": 20},
        "sampling": {"ddim_steps": 10, "guidance_scale": 2.0, "batch_size": 8},
    })
    run = RunDir(tmp_path / "run")
    train_run(cohort=cohort, train_keys=cohort.keys, config=config, run_dir=run)
    generator = load_generator(run_dir=run.root)
    edvs = sorted(cohort.load(k).measures.lv_edv for k in cohort.keys)
    small, large = edvs[1], edvs[-2]

    def measured(edv: float) -> float:
        cond = complete(condition={"group": "NOR", "lv_edv": edv, "lv_esv": 0.6 * edv}, prior=generator.prior)
        subjects = sample_cohort(run_dir=run.root, n=8, seed=3, conditions=[cond] * 8, generator=generator)
        return float(np.mean([s.measured.lv_edv for s in subjects]))

    low, high = measured(small), measured(large)
    assert high > 1.2 * low, (small, large, low, high)
    # negative control: the same request twice (other noise) differs far less than small vs large
    again = float(np.mean([s.measured.lv_edv for s in sample_cohort(
        run_dir=run.root, n=8, seed=4, conditions=[complete(condition={"group": "NOR", "lv_edv": small, "lv_esv": 0.6 * small},
                                                            prior=generator.prior)] * 8, generator=generator)]))
    assert abs(again - low) < 0.5 * (high - low)


def test_dp_run_ledger_covers_every_stage(tmp_path, cohort, tiny_config):
    config = tiny_config.with_updates({"privacy": {"epsilon": 8.0}})
    ledger = train_run(cohort=cohort, train_keys=cohort.keys, config=config, run_dir=RunDir(tmp_path / "run"))
    assert ledger.enabled and ledger.stages() == ["stats", "vae", "static", "motion"]
    assert ledger.epsilon(delta=ledger.delta) <= 8.0
    steps = {s.stage: s.steps for s in ledger.segments}
    assert steps == {"stats": 1, "vae": 2, "static": 2, "motion": 2}
    # a rerun skips every stage and returns the same ledger (never double-counts, never under-counts)
    again = train_run(cohort=cohort, train_keys=cohort.keys, config=config, run_dir=RunDir(tmp_path / "run"))
    assert again == ledger
