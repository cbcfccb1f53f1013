"""Every stage's model and loss train under privacy.engine.private_stage (Opacus hooks mode)."""

from __future__ import annotations

import pytest
import torch

from privacy import private_stage, unwrap
from synthshare.models.conditioning import ConditionCodec, subject_conditions
from synthshare.models.encode import encode_subjects
from synthshare.train.latent_stage import motion_job, static_job
from synthshare.train.vae_stage import build_vae, vae_job


def _job(stage, cohort, config):
    keys = cohort.keys[:6]
    if stage == "vae":
        return vae_job(config=config, train_keys=keys, load=cohort.load, seed=0)
    latents = encode_subjects(vae=build_vae(config=config), keys=keys, load=cohort.load)
    codec = ConditionCodec(mean=torch.zeros(6).numpy() + 50.0, std=torch.ones(6).numpy() * 30.0)
    cond = torch.from_numpy(codec.encode([subject_conditions(subject=cohort.load(k)) for k in keys]))
    if stage == "static":
        return static_job(config=config, latents=latents, cond=cond, private=True, seed=0)
    return motion_job(config=config, latents=latents, cond=cond, latent_scale=1.0, private=True, seed=0)


@pytest.mark.parametrize("stage", ["vae", "static", "motion"])
def test_stage_trains_a_private_step(cohort, tiny_config, stage):
    job = _job(stage, cohort, tiny_config)
    before = {k: v.clone() for k, v in job.module.state_dict().items()}
    optimizer = torch.optim.Adam(job.module.parameters(), lr=job.lr)
    dp = private_stage(module=job.module, optimizer=optimizer, dataset=job.dataset, expected_batch_size=3,
                       noise_multiplier=1.0, max_grad_norm=1.0, generator=torch.Generator().manual_seed(0), mode="hooks")
    for _ in range(2):
        dp.step(job.loss)
    assert dp.steps_taken == 2
    after = unwrap(dp.module).state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no parameter moved under DP-SGD"
    # per-sample gradients existed for the network's conv layers (Opacus actually wrapped it)
    assert any(getattr(p, "grad_sample", None) is not None or p.grad is not None for p in dp.module.parameters())
