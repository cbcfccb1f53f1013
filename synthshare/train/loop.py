"""The training loop of one stage, written out: skip if done, resume if started, else train.

With ema_decay > 0 an exponential moving average of the weights is kept (post-processing, so free
under DP), checkpointed with the state, and written as ema.safetensors at the end for sampling.
A stage is keyed by its hash (see run_dir.stage_hash). done.json with the same hash: skipped.
state.json with the same hash: resumed from its last checkpoint. Any other hash: retrained from
scratch (logged). Checkpoints every `save_every` steps and at the end, each with the ledger, so a
resumed run never under-counts the privacy spent.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import Any, Callable

import torch

from privacy import PrivacyLedger, plain_stage, private_stage, unwrap
from synthshare.config import Config
from synthshare.models.device import default_device
from synthshare.train.checkpoint import load_checkpoint, save_checkpoint, save_weights
from synthshare.train.job import StageJob
from synthshare.train.run_dir import RunDir

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, kw_only=True)
class DPParams:
    noise_multiplier: float
    max_grad_norm: float
    mode: str


def run_job(
    *,
    job: StageJob,
    stage_hash: str,
    ema_decay: float = 0.0,
    run_dir: RunDir,
    config: Config,
    ledger: PrivacyLedger,
    dp: DPParams | None,
    seed: int,
    progress: Progress | None = None,
    save_every: int = 50,
    stop_after: int | None = None,
) -> tuple[PrivacyLedger, dict[str, Any]]:
    """Train `job` to `job.steps` (or only up to `stop_after` steps, for tests); returns (ledger, done record)."""
    name = job.name
    done_path, state_path, ckpt_path = run_dir.done_json(name), run_dir.state_json(name), run_dir.checkpoint(name)
    # 1. finished with the same inputs: nothing to do
    if done_path.exists():
        done = run_dir.read_json(done_path)
        if done.get("hash") == stage_hash:
            log.info("stage %s: finished with the same inputs, skipped", name)
            return PrivacyLedger.from_dict(done["ledger"]), done
    # 2. started with the same inputs: resume; with other inputs: start over
    resume: tuple[dict[str, torch.Tensor], dict[str, Any], int] | None = None
    if state_path.exists():
        weights, state, step = load_checkpoint(weights_path=ckpt_path, state_path=state_path)
        if state.get("hash") == stage_hash:
            resume = (weights, state, step)
            ledger = PrivacyLedger.from_dict(state["ledger"])
            log.info("stage %s: resuming at step %d", name, step)
        else:
            log.warning("stage %s: inputs or config changed since the last run; retraining from scratch", name)
    if resume is None and run_dir.stage_dir(name).exists():
        shutil.rmtree(run_dir.stage_dir(name))
    # 3. the stage: plain, or DP-SGD with the ledger recording every step taken
    module = job.module.to(default_device())
    if resume is not None:
        module.load_state_dict(resume[0])
    optimizer = torch.optim.Adam(module.parameters(), lr=job.lr)
    sampler_gen = torch.Generator().manual_seed(seed + 3)
    if dp is None:
        stage = plain_stage(module=module, optimizer=optimizer, dataset=job.dataset, batch_size=job.batch_size, generator=sampler_gen)
    else:
        stage = private_stage(
            module=module, optimizer=optimizer, dataset=job.dataset,
            expected_batch_size=min(job.batch_size, len(job.dataset)), noise_multiplier=dp.noise_multiplier,
            max_grad_norm=dp.max_grad_norm, generator=sampler_gen, mode=dp.mode, ledger=ledger, stage_name=name,
        )
    ema: dict[str, torch.Tensor] | None = None
    if ema_decay > 0:
        ema = {k: v.detach().clone() for k, v in unwrap(stage.module).state_dict().items()}
    if resume is not None:
        state = resume[1]
        stage.load_state_dict(state["stage"])
        job.dataset.load_state_dict(state["dataset"])
        job.loss_generator.set_state(state["loss_rng"])
        if ema is not None:
            ema = {k: v.to(default_device()) for k, v in state["ema"].items()}

    def save() -> None:
        state = {
            "hash": stage_hash,
            "stage": stage.state_dict(),
            "dataset": job.dataset.state_dict(),
            "loss_rng": job.loss_generator.get_state(),
            "ledger": ledger.to_dict(),
            "config": config.to_dict(),
            "ema": ema,
        }
        save_checkpoint(weights_path=ckpt_path, state_path=state_path, weights=unwrap(stage.module).state_dict(),
                        state=state, step=stage.steps_taken)

    # 4. the loop
    target = job.steps if stop_after is None else min(job.steps, stop_after)
    loss = float("nan")
    module.train()
    while stage.steps_taken < target:
        loss = stage.step(job.loss)
        if ema is not None:
            with torch.no_grad():
                for k, v in unwrap(stage.module).state_dict().items():
                    if v.is_floating_point():
                        ema[k].mul_(ema_decay).add_(v.detach(), alpha=1.0 - ema_decay)
        if progress is not None:
            progress(name, stage.steps_taken, job.steps)
        if stage.steps_taken % save_every == 0 and stage.steps_taken < target:
            save()
    save()
    if stage.steps_taken < job.steps:
        return ledger, {"hash": stage_hash, "steps": stage.steps_taken, "finished": False}
    # 5. finished: the record later stages and the sampler read
    if ema is not None:
        save_weights(path=run_dir.stage_dir(name) / "ema.safetensors", weights=ema)
    done = {"hash": stage_hash, "steps": stage.steps_taken, "final_loss": loss, "ledger": ledger.to_dict(),
            "extra": job.extra, "finished": True}
    run_dir.write_json(done_path, done)
    log.info("stage %s: done after %d steps (last loss %.4g)", name, stage.steps_taken, loss)
    return ledger, done
