"""The training loop of one stage, written out: skip if done, resume if started, else train.

With ema_decay > 0 an exponential moving average of the weights is kept (post-processing, so free
under DP), checkpointed with the state, and written as ema.safetensors at the end for sampling.
A stage is keyed by its hash (see run_dir.stage_hash). done.json with the same hash: skipped.
state.json with the same hash: resumed from its last checkpoint. Any other hash: retrained from
scratch (logged). Checkpoints every `save_every` steps and at the end, each with the ledger, so a
resumed run never under-counts the privacy spent.

Under torchrun (several ranks) every rank runs this same loop: the same batch of subjects, its
shard of the work, gradients summed over ranks (privacy/engine.py), so each update is the
one-process update of the examples drawn and the ledger is the one-process ledger. Only rank 0
writes. The random choices INSIDE an example (which frame, the diffusion timestep and noise) come
from per-rank streams: rank 0 keeps the single-process stream, rank r > 0 a stream forked from it
by r (so the weights of a 2-rank run are not those of a 1-rank run, only equally distributed);
every rank's stream state is gathered into the checkpoint, so a resume with the same number of
ranks replays exactly (another number: refused).

Under DP the subject sampler (and the DP-SGD noise, seeded from it in privacy/engine.py) starts from a
seed derived from the steward's secret key (synthshare.steward_keys), not from the public seed: a
release publishes its config, and known batches and noise would void the guarantee. Every rank reads
the same key file, so every rank draws the same batch and noise (the engine checks; fails closed).
A resume restores the generators' saved states over the freshly seeded ones, so it replays exactly.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from privacy import PrivacyLedger, plain_stage, private_stage, unwrap
from privacy.distributed import Shard, barrier, current_shard, gather_to_main
from synthshare.config import Config
from synthshare.models.device import default_device, to_compute_device
from synthshare.steward_keys import dp_noise_seed
from synthshare.train.checkpoint import load_checkpoint, save_checkpoint, save_weights
from synthshare.train.job import StageJob
from synthshare.train.run_dir import RunDir, RunDirError

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def lr_at(*, lr: float, schedule: str, step: int, steps: int) -> float:
    """The learning rate of the update that takes a stage from ``step`` to ``step + 1`` of ``steps``.

    cosine: lr x (1 + cos(pi step / steps)) / 2 (torch's CosineAnnealingLR to 0), lr at the first update,
    lr x (1 + cos(pi (steps - 1) / steps)) / 2 > 0 at the last. A function of the step alone: a resumed
    stage continues the schedule with nothing more in its checkpoint, and the schedule is public (it
    depends on the config only), so under DP it spends nothing.
    """
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
    raise ValueError(f"unknown lr schedule {schedule!r} (constant or cosine)")


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
    shard = current_shard()
    resume: tuple[dict[str, torch.Tensor], dict[str, Any], int] | None = None
    if state_path.exists():
        weights, state, step = load_checkpoint(weights_path=ckpt_path, state_path=state_path)
        if state.get("hash") == stage_hash:
            resume = (weights, state, step)
            ledger = PrivacyLedger.from_dict(state["ledger"])
            log.info("stage %s: resuming at step %d", name, step)
        else:
            log.warning("stage %s: inputs or config changed since the last run; retraining from scratch", name)
    barrier()  # every rank has read the old state before rank 0 removes it
    if resume is None and run_dir.stage_dir(name).exists() and shard.main:
        shutil.rmtree(run_dir.stage_dir(name))
    # 3. the stage: plain, or DP-SGD with the ledger recording every step taken
    module = to_compute_device(job.module)
    if resume is not None:
        module.load_state_dict(resume[0])
    optimizer = torch.optim.Adam(module.parameters(), lr=job.lr)
    sampler_gen = torch.Generator().manual_seed(seed + 3 if dp is None else dp_noise_seed(stage=name, seed=seed))
    if shard.distributed:
        _fork_example_rngs(job=job, shard=shard)
    if dp is None:
        stage = plain_stage(module=module, optimizer=optimizer, dataset=job.dataset, batch_size=job.batch_size,
                            generator=sampler_gen, shard=shard)
    else:
        stage = private_stage(
            module=module, optimizer=optimizer, dataset=job.dataset,
            expected_batch_size=min(job.batch_size, len(job.dataset)), noise_multiplier=dp.noise_multiplier,
            max_grad_norm=dp.max_grad_norm, generator=sampler_gen, mode=dp.mode, ledger=ledger, stage_name=name,
            shard=shard,
        )
    ema: dict[str, torch.Tensor] | None = None
    if ema_decay > 0:
        ema = {k: v.detach().clone() for k, v in unwrap(stage.module).state_dict().items()}
    if resume is not None:
        state = resume[1]
        stage.load_state_dict(state["stage"])
        own = _rank_state(state=state, shard=shard, stage=name)
        job.dataset.load_state_dict(own["dataset"])
        job.loss_generator.set_state(own["loss_rng"])
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
        if shard.distributed:  # a collective: every rank's example streams, written by rank 0
            ranks = gather_to_main({"dataset": state["dataset"], "loss_rng": state["loss_rng"]})
            if not shard.main:
                return
            state["ranks"] = ranks
        save_checkpoint(weights_path=ckpt_path, state_path=state_path, weights=unwrap(stage.module).state_dict(),
                        state=state, step=stage.steps_taken)

    # 4. the loop
    target = job.steps if stop_after is None else min(job.steps, stop_after)
    loss = float("nan")
    module.train()
    while stage.steps_taken < target:
        for group in optimizer.param_groups:  # the optimiser DP-SGD wraps shares these groups
            group["lr"] = lr_at(lr=job.lr, schedule=job.lr_schedule, step=stage.steps_taken, steps=job.steps)
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
        barrier()  # the checkpoint is on disk before any rank goes on
        return ledger, {"hash": stage_hash, "steps": stage.steps_taken, "finished": False}
    # 5. finished: the record later stages and the sampler read
    if ema is not None and shard.main:
        save_weights(path=run_dir.stage_dir(name) / "ema.safetensors", weights=ema)
    done = {"hash": stage_hash, "steps": stage.steps_taken, "final_loss": loss, "ledger": ledger.to_dict(),
            "extra": job.extra, "finished": True}
    run_dir.write_json(done_path, done)  # rank 0 only (RunDir.write_json)
    barrier()  # weights and done.json are on disk before any rank reads them for the next stage
    log.info("stage %s: done after %d steps (last loss %.4g)", name, stage.steps_taken, loss)
    return ledger, done


def _fork_example_rngs(*, job: StageJob, shard: Shard) -> None:
    """Rank r > 0 draws its examples' randomness from its own stream (rank 0 keeps the single-process one),
    so two ranks never give two subjects the same frame choice or diffusion noise."""
    if shard.main:
        return
    generators = [job.loss_generator]
    frames = getattr(job.dataset, "generator", None)
    if isinstance(frames, torch.Generator):
        generators.append(frames)
    for gen in generators:
        base = int(gen.initial_seed())
        gen.manual_seed(int(np.random.SeedSequence([base, shard.rank]).generate_state(1, dtype=np.uint64)[0] >> 1))


def _rank_state(*, state: dict[str, Any], shard: Shard, stage: str) -> dict[str, Any]:
    """This rank's example streams from a checkpoint; RunDirError if it was written by another number of ranks."""
    ranks = state.get("ranks")
    saved_world = 1 if ranks is None else len(ranks)
    if saved_world != shard.world:
        raise RunDirError(f"stage {stage!r} was checkpointed by a run with {saved_world} process(es) but this run has "
                          f"{shard.world}; resume with the same `torchrun --nproc_per_node` (or none for 1), or delete "
                          "that stage's folder to retrain it")
    return state if ranks is None else ranks[shard.rank]
