"""The generator stages' learning-rate schedule (vae/static/motion ``lr_schedule``, train/loop.py: lr_at).

cosine decays from lr at the first update towards 0 at the last, as a function of the step alone; the
loop applies it to every update, plain and DP-SGD, so a stage interrupted and resumed ends with the
weights of a straight run; the option reaches the stage hashes.
"""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from privacy import PrivacyLedger
from synthshare.config import DiffusionConfig, VAEConfig
from synthshare.train.datasets import TensorSubjectDataset
from synthshare.train.job import StageJob
from synthshare.train.loop import DPParams, lr_at, run_job
from synthshare.train.run_dir import RunDir
from synthshare.train.trainer import conditions_fingerprint, stage_hashes

LR, STEPS = 0.01, 8


def test_constant_is_lr_at_every_step():
    assert [lr_at(lr=LR, schedule="constant", step=s, steps=STEPS) for s in range(STEPS)] == [LR] * STEPS


def test_cosine_starts_at_lr_halves_midway_and_stays_positive():
    rates = [lr_at(lr=LR, schedule="cosine", step=s, steps=STEPS) for s in range(STEPS)]
    assert rates[0] == LR
    assert rates[STEPS // 2] == pytest.approx(LR / 2)
    assert all(a > b for a, b in zip(rates, rates[1:]))  # strictly decreasing
    assert rates[-1] == pytest.approx(LR * (1 + math.cos(math.pi * 7 / 8)) / 2) and rates[-1] > 0
    # torch's own CosineAnnealingLR (eta_min 0) gives the same rates
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=STEPS)
    reference = []
    for _ in range(STEPS):
        reference.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        schedule.step()
    assert rates == pytest.approx(reference, rel=1e-12)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown lr schedule"):
        lr_at(lr=LR, schedule="linear", step=0, steps=STEPS)
    with pytest.raises(ValidationError):
        VAEConfig(lr_schedule="linear")
    with pytest.raises(ValidationError):
        DiffusionConfig(lr_schedule="step")


class _Slope(torch.nn.Module):
    """loss = w per example: the gradient is 1 at every step, so Adam moves w by (almost exactly) the lr."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(self.lin.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


def _slope_job(schedule: str) -> StageJob:
    n = 6
    return StageJob(name="vae", module=_Slope(), dataset=TensorSubjectDataset(tensors={"x": torch.ones(n, 1)}),
                    loss=lambda model, batch: model(batch["x"]).reshape(-1), loss_generator=torch.Generator().manual_seed(0),
                    steps=STEPS, batch_size=3, lr=LR, lr_schedule=schedule)


def _final_weight(tmp_path, tiny_config, schedule: str, *, dp: DPParams | None = None, stop_after: int | None = None,
                  run: RunDir | None = None) -> float:
    run = run or RunDir(tmp_path / f"run-{schedule}")
    ledger = PrivacyLedger(delta=1e-3) if dp else PrivacyLedger.disabled()
    run_job(job=_slope_job(schedule), stage_hash="h", run_dir=run, config=tiny_config, ledger=ledger, dp=dp, seed=0,
            stop_after=stop_after)
    from synthshare.train.checkpoint import load_weights

    return float(load_weights(weights_path=run.checkpoint("vae"))["lin.weight"])


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_the_loop_takes_each_update_at_the_scheduled_rate(tmp_path, tiny_config, schedule):
    # Adam's update of a constant gradient is lr_t * g / (|g| + eps): the weight ends at minus the sum of the rates
    expected = -sum(lr_at(lr=LR, schedule=schedule, step=s, steps=STEPS) for s in range(STEPS))
    assert _final_weight(tmp_path, tiny_config, schedule) == pytest.approx(expected, rel=1e-5)
    if schedule == "cosine":  # negative control: the constant schedule lands elsewhere
        assert abs(expected + STEPS * LR) > 0.3 * STEPS * LR


def test_dp_sgd_updates_follow_the_schedule(tmp_path, tiny_config, monkeypatch):
    # Clipping norm above the per-example gradient (1) and next to no noise: the gradient is about (batch size) /
    # (expected batch size) >= 0, and Adam moves w by lr_t * r_t with |r_t| <= 1, r_t the same in both runs (the
    # same Poisson batches: a fixed sampler seed)
    monkeypatch.setattr("synthshare.train.loop.dp_noise_seed", lambda *, stage, seed: 12345)
    dp = DPParams(noise_multiplier=1e-6, max_grad_norm=2.0, mode="hooks")
    cosine = _final_weight(tmp_path, tiny_config, "cosine", dp=dp)
    constant = _final_weight(tmp_path, tiny_config, "constant", dp=dp)
    assert -sum(lr_at(lr=LR, schedule="cosine", step=s, steps=STEPS) for s in range(STEPS)) - 1e-6 <= cosine < 0
    assert cosine > constant + 0.1 * STEPS * LR  # the decayed rates moved it less than the constant one


def test_a_resumed_cosine_stage_continues_the_schedule(tmp_path, tiny_config):
    straight = _final_weight(tmp_path, tiny_config, "cosine", run=RunDir(tmp_path / "straight"))
    resumed = RunDir(tmp_path / "resumed")
    partial = _final_weight(tmp_path, tiny_config, "cosine", run=resumed, stop_after=3)
    assert partial != straight
    assert _final_weight(tmp_path, tiny_config, "cosine", run=resumed) == straight


def test_the_schedule_reaches_the_stage_hashes(cohort, tiny_config):
    keys = cohort.keys[:6]
    fp = conditions_fingerprint(cohort=cohort, train_keys=keys)
    base = stage_hashes(config=tiny_config, train_keys=keys, conditions_sha256=fp)
    for stage, downstream in (("vae", ("vae", "static", "motion")), ("static", ("static", "motion")), ("motion", ("motion",))):
        changed = stage_hashes(config=tiny_config.with_updates({stage: {"lr_schedule": "cosine"}}), train_keys=keys,
                               conditions_sha256=fp)
        assert all(changed[s] != base[s] for s in downstream)
        assert all(changed[s] == base[s] for s in ("vae", "static", "motion") if s not in downstream)
