"""Checkpoints: bit-identical round trip and resume (4 straight == 2 + resume 2), stage hashing."""

from __future__ import annotations

import pytest
import torch

from synthshare.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from synthshare.train.run_dir import RunDir
from synthshare.train.trainer import conditions_fingerprint, stage_hashes, train_conditions, train_stage


def _weights(run: RunDir, stage: str) -> dict[str, torch.Tensor]:
    return load_weights(weights_path=run.checkpoint(stage))


def _identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_nested_state_round_trip(tmp_path):
    state = {"opt": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}}, "groups": [{"lr": 0.1, "betas": (0.9, 0.99)}],
             "rng": torch.Generator().manual_seed(5).get_state(), "name": "vae", "nan": None}
    weights = {"w": torch.arange(4.0)}
    save_checkpoint(weights_path=tmp_path / "c.safetensors", state_path=tmp_path / "s.json", weights=weights, state=state, step=7)
    w, s, step = load_checkpoint(weights_path=tmp_path / "c.safetensors", state_path=tmp_path / "s.json")
    assert step == 7 and torch.equal(w["w"], weights["w"])
    assert torch.equal(s["opt"][0]["exp_avg"], torch.ones(2)) and 0 in s["opt"]
    assert s["groups"][0]["betas"] == [0.9, 0.99] and s["name"] == "vae"
    assert torch.equal(s["rng"], state["rng"])


def test_step_mismatch_is_corrupt(tmp_path):
    save_checkpoint(weights_path=tmp_path / "c.safetensors", state_path=tmp_path / "s.json", weights={"w": torch.zeros(1)}, state={}, step=2)
    save_checkpoint(weights_path=tmp_path / "c.safetensors", state_path=tmp_path / "other.json", weights={"w": torch.zeros(1)}, state={}, step=3)
    with pytest.raises(CheckpointError, match="step 3 != state step 2"):
        load_checkpoint(weights_path=tmp_path / "c.safetensors", state_path=tmp_path / "s.json")


@pytest.mark.parametrize("stage", ["vae", "static"])
def test_resume_is_bit_identical(tmp_path, cohort, tiny_config, stage):
    config = tiny_config.with_updates({"vae": {"steps": 4}, "static": {"steps": 4, "ema_decay": 0.5}})
    keys = cohort.keys[:6]
    straight, resumed = RunDir(tmp_path / "a"), RunDir(tmp_path / "b")
    for run in (straight, resumed):
        train_conditions(cohort=cohort, train_keys=keys, config=config, run_dir=run)
        if stage != "vae":
            train_stage(stage="vae", cohort=cohort, train_keys=keys, config=config, run_dir=run)
    train_stage(stage=stage, cohort=cohort, train_keys=keys, config=config, run_dir=straight)
    _, partial = train_stage(stage=stage, cohort=cohort, train_keys=keys, config=config, run_dir=resumed, stop_after=2)
    assert partial["steps"] == 2 and not resumed.done_json(stage).exists()
    after_two = _weights(resumed, stage)
    assert not _identical(after_two, _weights(straight, stage))  # negative control: 2 steps != 4 steps
    train_stage(stage=stage, cohort=cohort, train_keys=keys, config=config, run_dir=resumed)
    assert _identical(_weights(resumed, stage), _weights(straight, stage))
    assert resumed.done(stage)["steps"] == 4
    if stage == "static":  # the moving average resumes too, and differs from the raw weights
        ema = {run: load_weights(weights_path=run.stage_dir(stage) / "ema.safetensors") for run in (straight, resumed)}
        assert _identical(ema[straight], ema[resumed])
        assert not _identical(ema[straight], _weights(straight, stage))


def test_finished_stage_is_skipped_and_changed_config_retrains(tmp_path, cohort, tiny_config, caplog):
    keys = cohort.keys[:6]
    run = RunDir(tmp_path / "run")
    train_conditions(cohort=cohort, train_keys=keys, config=tiny_config, run_dir=run)
    train_stage(stage="vae", cohort=cohort, train_keys=keys, config=tiny_config, run_dir=run)
    mtime = run.checkpoint("vae").stat().st_mtime_ns
    train_stage(stage="vae", cohort=cohort, train_keys=keys, config=tiny_config, run_dir=run)
    assert run.checkpoint("vae").stat().st_mtime_ns == mtime  # skipped
    changed = tiny_config.with_updates({"vae": {"lr": 5e-3}})
    fp = conditions_fingerprint(cohort=cohort, train_keys=keys)
    assert (stage_hashes(config=changed, train_keys=keys, conditions_sha256=fp)["vae"]
            != stage_hashes(config=tiny_config, train_keys=keys, conditions_sha256=fp)["vae"])
    _, done = train_stage(stage="vae", cohort=cohort, train_keys=keys, config=changed, run_dir=run)
    assert done["hash"] == stage_hashes(config=changed, train_keys=keys, conditions_sha256=fp)["vae"]
    assert run.checkpoint("vae").stat().st_mtime_ns != mtime


def test_hash_depends_on_train_keys_and_chains_upstream(cohort, tiny_config):
    def hashes(config, keys):
        return stage_hashes(config=config, train_keys=keys, conditions_sha256=conditions_fingerprint(cohort=cohort, train_keys=keys))

    a = hashes(tiny_config, cohort.keys[:6])
    b = hashes(tiny_config, cohort.keys[1:7])
    assert all(a[s] != b[s] for s in a)
    c = hashes(tiny_config.with_updates({"vae": {"kl_weight": 0.1}}), cohort.keys[:6])
    assert c["stats"] == a["stats"] and all(c[s] != a[s] for s in ("vae", "static", "motion"))


def test_dp_interrupted_and_resumed_gives_the_ledger_of_a_straight_run(tmp_path, cohort, tiny_config):
    config = tiny_config.with_updates({"vae": {"steps": 4}, "privacy": {"epsilon": 8.0}})
    keys = cohort.keys[:6]
    straight, resumed = RunDir(tmp_path / "a"), RunDir(tmp_path / "b")
    for run in (straight, resumed):
        train_conditions(cohort=cohort, train_keys=keys, config=config, run_dir=run)
    ledger_straight, _ = train_stage(stage="vae", cohort=cohort, train_keys=keys, config=config, run_dir=straight)
    ledger_partial, _ = train_stage(stage="vae", cohort=cohort, train_keys=keys, config=config, run_dir=resumed, stop_after=2)
    assert ledger_partial != ledger_straight  # negative control: 2 noisy steps spend less than 4
    ledger_resumed, _ = train_stage(stage="vae", cohort=cohort, train_keys=keys, config=config, run_dir=resumed)
    assert ledger_resumed == ledger_straight
    delta = ledger_straight.delta
    assert ledger_resumed.epsilon(delta=delta) == ledger_straight.epsilon(delta=delta)
    assert sum(s.steps for s in ledger_resumed.segments if s.stage == "vae") == 4
    assert _identical(_weights(resumed, "vae"), _weights(straight, "vae"))  # the noise resumes too
