"""Training the cascade top-down: conditioning prior -> VAE -> static LDM -> motion LDM.

Every stage is keyed by a hash chained through its upstream (stats -> vae -> static -> motion),
so the ledger, which composes along the same chain, is never short of an upstream stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Protocol

import torch

from privacy import PrivacyLedger, StageSpec, default_delta, plan_budget
from privacy.distributed import barrier
from privacy.plan import BudgetPlan, check_delta_for_cohort
from synthshare.config import Config
from synthshare.data.prepared import PreparedSubject
from synthshare.models.conditioning import ConditionCodec, prior_space, subject_conditions
from synthshare.models.device import to_compute_device
from synthshare.models.encode import encode_subjects
from synthshare.models.residual_norm import stroke_scale
from synthshare.steward_keys import key_id, load_key
from synthshare.train.checkpoint import load_weights
from synthshare.train.conditions_stage import release_conditions
from synthshare.train.latent_stage import motion_job, static_job
from synthshare.train.loop import DPParams, Progress, run_job
from synthshare.train.run_dir import (
    STAGES,
    RunDir,
    RunDirError,
    Stage,
    chain_hashes,
    keys_fingerprint,
)
from synthshare.train.vae_stage import build_vae, vae_job

log = logging.getLogger(__name__)


class SubjectSource(Protocol):
    def load(self, key: str) -> PreparedSubject: ...


def conditions_fingerprint(*, cohort: SubjectSource, train_keys: list[str]) -> str:
    """sha256 of the train subjects' conditions (group and measures), by key.

    A subject key hashes its image and labels only: correcting a subject's diagnosis group changes the
    released prior and the condition vectors without changing any key, so the chain hashes this too.
    """
    rows = sorted(([key, subject_conditions(subject=cohort.load(key))] for key in train_keys), key=lambda row: row[0])
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def stage_hashes(*, config: Config, train_keys: list[str], conditions_sha256: str) -> dict[str, str]:
    """Hash of every stage (and of the statistics release) for these inputs.

    conditions_sha256: `conditions_fingerprint` of the train subjects (their groups are not in their keys).
    The statistics depend on the data grid (the `slices` condition) and, under DP, on the steward's
    dp-noise key (its id, not the key): a new key retrains the whole chain, so a run is never
    finished with noise from a key other than the one its provenance names.
    A run released before the log-scale prior (models/conditioning.py: prior_space) re-releases it and so
    retrains: the denoisers' standardisation comes from the release.
    """
    payload: dict[str, Any] = {"stage": "stats", "privacy": config.to_dict()["privacy"], "data": config.to_dict()["data"],
                               "seed": config.seed, "train_keys": keys_fingerprint(train_keys),
                               "conditions": conditions_sha256,
                               "prior_space": prior_space(private=config.privacy.epsilon is not None)}
    if config.privacy.epsilon is not None:
        payload["dp_noise_key"] = key_id(load_key("dp-noise"))
    stats = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return {"stats": stats, **chain_hashes(config=config, train_keys_sha256=keys_fingerprint(train_keys), stats_hash=stats)}


_PLANS: dict[tuple[str, int], tuple[dict[str, DPParams], float | None, float]] = {}


def privacy_plan(*, config: Config, n_train: int) -> tuple[dict[str, DPParams], float | None, float] | None:
    """(DP parameters per stage, stats noise multiplier, delta), or None when DP is off.

    Memoised per (config, n_train): the planner's bisection takes seconds and every stage asks.
    """
    p = config.privacy
    if p.epsilon is None:
        return None
    memo_key = (config.sha256("privacy", "vae", "static", "motion"), n_train)
    if memo_key not in _PLANS:
        _PLANS[memo_key] = _plan(config=config, epsilon=p.epsilon, n_train=n_train)
    return _PLANS[memo_key]


def _plan(*, config: Config, epsilon: float, n_train: int) -> tuple[dict[str, DPParams], float | None, float]:
    p = config.privacy
    plan, delta = budget_plan(config=config, epsilon=epsilon, n_train=n_train)
    dp = {name: DPParams(noise_multiplier=plan.stage(name).noise_multiplier, max_grad_norm=p.max_grad_norm, mode=p.clip_mode)
          for name in ("vae", "static", "motion")}
    return dp, plan.stage("stats").noise_multiplier, delta


def budget_plan(*, config: Config, epsilon: float, n_train: int, delta: float | None = None) -> tuple[BudgetPlan, float]:
    """The one budget split that training uses and `synthshare privacy plan` prints: (plan, delta)."""
    p = config.privacy
    delta = delta if delta is not None else (p.delta if p.delta is not None else default_delta(n_train))
    check_delta_for_cohort(delta=delta, n_subjects=n_train)
    sections = {"vae": config.vae, "static": config.static, "motion": config.motion}
    specs = {name: StageSpec(sample_rate=min(s.batch_size, n_train) / n_train, steps=s.steps, max_grad_norm=p.max_grad_norm)
             for name, s in sections.items()}
    plan = plan_budget(epsilon=epsilon, delta=delta, stages=specs, weights=dict(p.weights), fill=p.fill_budget)
    return plan, delta


def _initial_ledger(*, config: Config, n_train: int) -> PrivacyLedger:
    plan = privacy_plan(config=config, n_train=n_train)
    return PrivacyLedger.disabled() if plan is None else PrivacyLedger(delta=plan[2])


def train_conditions(
    *, cohort: SubjectSource, train_keys: list[str], config: Config, run_dir: RunDir, conditions_sha256: str | None = None,
) -> tuple[dict, PrivacyLedger]:
    """Release the conditioning statistics (skipped when conditions.json has the same hash).

    conditions_sha256: `conditions_fingerprint(cohort, train_keys)` when the caller has it (else computed).
    """
    if conditions_sha256 is None:
        conditions_sha256 = conditions_fingerprint(cohort=cohort, train_keys=train_keys)
    h = stage_hashes(config=config, train_keys=train_keys, conditions_sha256=conditions_sha256)["stats"]
    if run_dir.conditions_json.exists():
        existing = run_dir.read_json(run_dir.conditions_json)
        if existing.get("hash") == h:
            return existing, PrivacyLedger.from_dict(run_dir.field(run_dir.conditions_json, existing, "ledger"))
    plan = privacy_plan(config=config, n_train=len(train_keys))
    ledger = _initial_ledger(config=config, n_train=len(train_keys))
    conditions = [subject_conditions(subject=cohort.load(k)) for k in train_keys]
    payload, ledger = release_conditions(conditions=conditions, noise_multiplier=None if plan is None else plan[1],
                                         ledger=ledger, seed=config.seed,
                                         space=prior_space(private=config.privacy.epsilon is not None))
    payload["hash"] = h
    payload["train_keys_sha256"] = keys_fingerprint(train_keys)  # what `stale_stages` chains the stage hashes from
    run_dir.write_json(run_dir.conditions_json, payload)
    return payload, ledger


def _upstream_ledger(*, stage: Stage, run_dir: RunDir, hashes: dict[str, str]) -> PrivacyLedger:
    if stage == "vae":
        record = run_dir.read_json(run_dir.conditions_json)
        key = "stats"
    else:
        key = STAGES[STAGES.index(stage) - 1]
        record = run_dir.done(key)
    if record.get("hash") != hashes[key]:
        name, target = ("the conditioning prior (conditions.json)", "vae") if key == "stats" else (f"stage {key!r}", key)
        raise RunDirError(f"{run_dir.root}: {name} is out of date for stage {stage!r}; train it first "
                          f"(`synthshare train --data DATA --config CONFIG --run {run_dir.root} --stage {target}`)")
    path = run_dir.conditions_json if key == "stats" else run_dir.done_json(key)
    return PrivacyLedger.from_dict(run_dir.field(path, record, "ledger"))


def _train_latents(*, cohort: SubjectSource, train_keys: list[str], config: Config, run_dir: RunDir) -> torch.Tensor:
    vae = build_vae(config=config)
    vae.load_state_dict(load_weights(weights_path=run_dir.checkpoint("vae")))
    return encode_subjects(vae=to_compute_device(vae), keys=train_keys, load=cohort.load)


def train_stage(
    *,
    stage: Stage,
    cohort: SubjectSource,
    train_keys: list[str],
    config: Config,
    run_dir: RunDir,
    progress: Progress | None = None,
    stop_after: int | None = None,
    conditions_sha256: str | None = None,
) -> tuple[PrivacyLedger, dict[str, Any]]:
    """Train (or skip / resume) one stage; its upstream stages must be done. Returns (ledger, done record).

    conditions_sha256: `conditions_fingerprint(cohort, train_keys)` when the caller has it (else computed).
    """
    if conditions_sha256 is None:
        conditions_sha256 = conditions_fingerprint(cohort=cohort, train_keys=train_keys)
    hashes = stage_hashes(config=config, train_keys=train_keys, conditions_sha256=conditions_sha256)
    ledger = _upstream_ledger(stage=stage, run_dir=run_dir, hashes=hashes)
    plan = privacy_plan(config=config, n_train=len(train_keys))
    dp = None if plan is None else plan[0][stage]
    private = plan is not None
    seed = config.seed + 1000 * (STAGES.index(stage) + 1)
    if stage == "vae":
        job = vae_job(config=config, train_keys=train_keys, load=cohort.load, seed=seed)
    else:
        done = run_dir.done_json(stage)
        if done.exists() and (record := run_dir.read_json(done)).get("hash") == hashes[stage]:
            return PrivacyLedger.from_dict(run_dir.field(done, record, "ledger")), record
        codec = ConditionCodec.from_dict(run_dir.field(run_dir.conditions_json, run_dir.read_json(run_dir.conditions_json), "codec"))
        conditions = [subject_conditions(subject=cohort.load(k)) for k in train_keys]
        cond = torch.from_numpy(codec.encode(conditions))
        latents = _train_latents(cohort=cohort, train_keys=train_keys, config=config, run_dir=run_dir)
        if stage == "static":
            job = static_job(config=config, latents=latents, cond=cond, private=private, seed=seed)
        else:
            scale = float(run_dir.field(run_dir.done_json("static"), run_dir.done("static"), "extra.latent_scale"))
            job = motion_job(config=config, latents=latents, cond=cond, latent_scale=scale, private=private, seed=seed,
                             stroke=stroke_scale(conditions, mode=config.motion.residual_norm))
    ema_decay = 0.0 if stage == "vae" else getattr(config, stage).ema_decay
    return run_job(job=job, stage_hash=hashes[stage], ema_decay=ema_decay, run_dir=run_dir, config=config, ledger=ledger, dp=dp,
                   seed=seed, progress=progress, stop_after=stop_after)


def train_run(
    *, cohort: SubjectSource, train_keys: list[str], config: Config, run_dir: RunDir,
    until: Stage = "motion", progress: Progress | None = None,
) -> PrivacyLedger:
    """The whole cascade up to `until`, skipping finished stages; returns the composed ledger."""
    if not train_keys:
        raise RunDirError("no training subjects: the split left the train set empty; add subjects or lower holdout_fraction")
    run_dir.root.mkdir(parents=True, exist_ok=True)
    run_dir.write_json(run_dir.config_json, config.to_dict())
    fingerprint = conditions_fingerprint(cohort=cohort, train_keys=train_keys)
    _, ledger = train_conditions(cohort=cohort, train_keys=train_keys, config=config, run_dir=run_dir,
                                 conditions_sha256=fingerprint)
    barrier()  # under torchrun: rank 0 has written conditions.json before any rank reads it
    for stage in STAGES[: STAGES.index(until) + 1]:
        ledger, _ = train_stage(stage=stage, cohort=cohort, train_keys=train_keys, config=config, run_dir=run_dir,
                                progress=progress, conditions_sha256=fingerprint)
    return ledger
