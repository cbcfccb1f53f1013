"""A trained run loaded for inference: the three networks, the latent scales, the prior."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthshare.config import Config
from synthshare.models.conditioning import ConditionCodec, prior_log_mask
from synthshare.models.denoiser import LatentDenoiser
from synthshare.models.device import to_compute_device
from synthshare.models.vae import SegVAE
from synthshare.train.checkpoint import load_weights
from synthshare.train.latent_stage import build_motion, build_static
from synthshare.train.run_dir import STAGES, RunDir, RunDirError, retrain_command, stale_stages
from synthshare.train.vae_stage import build_vae


@dataclass(frozen=True)
class TrainedGenerator:
    config: Config
    vae: SegVAE
    static: LatentDenoiser
    motion: LatentDenoiser
    codec: ConditionCodec
    prior: dict
    latent_scale: float
    residual_scale: float
    ledger: dict


def load_generator(*, run_dir: Path) -> TrainedGenerator:
    """Everything needed to sample; RunDirError naming the stage if one is unfinished or out of date.

    Out of date: its done record was made from other inputs than the run's config.json, split.json and
    conditions.json give now (say `train --stage vae` retrained the VAE under a changed config: the
    anatomy and motion models would then be decoded by a VAE they were never trained with).
    """
    run = RunDir(Path(run_dir))
    config = run.read_config()
    records = {}
    for stage in STAGES:
        record = run.done(stage)
        if not record.get("finished"):
            raise RunDirError(f"{run.root}: stage {stage!r} has not finished; run `{retrain_command(run.root)}` again")
        records[stage] = record
    stale = stale_stages(run=run)
    if stale:
        names = ", ".join("stats (conditions.json)" if s == "stats" else s for s in stale)
        raise RunDirError(
            f"{run.root}: {names} out of date: trained from other inputs (config, train subjects, their conditions or an "
            f"upstream stage) than {run.config_json.name}, {run.split_json.name} and {run.conditions_json.name} hold now, "
            f"e.g. after `train --stage vae` with a changed config; retrain them (finished stages that are up to date "
            f"are kept): `{retrain_command(run.root)}`"
        )
    prior = run.read_json(run.conditions_json)
    codec = run.field(run.conditions_json, prior, "codec")
    for field in ("statistics.counts", "statistics.means", "statistics.covariance", "statistics.lower", "statistics.upper"):
        run.field(run.conditions_json, prior, field)
    try:
        prior_log_mask(prior["statistics"].get("space"))
    except ValueError as err:
        raise RunDirError(f"{run.conditions_json}: 'statistics.space': {err}; retrain the run with this version: "
                          f"`{retrain_command(run.root)}`") from err
    try:
        codec = ConditionCodec.from_dict(codec)
    except (KeyError, TypeError, ValueError) as err:
        raise RunDirError(f"{run.conditions_json}: unusable 'codec' ({type(err).__name__}: {err}); retrain the run: "
                          f"`{retrain_command(run.root)}`") from err
    latent_scale = _number(run, "static", records["static"], "extra.latent_scale")
    residual_scale = _number(run, "motion", records["motion"], "extra.residual_scale")
    ledger = run.field(run.done_json("motion"), records["motion"], "ledger")

    def weights(stage: str) -> dict:
        ema = run.stage_dir(stage) / "ema.safetensors"  # the moving average, when the stage kept one
        return load_weights(weights_path=ema if ema.exists() else run.checkpoint(stage))

    vae = build_vae(config=config)
    vae.load_state_dict(load_weights(weights_path=run.checkpoint("vae")))
    c = config.vae.latent_channels
    static = build_static(config=config, latent_channels=c)
    static.load_state_dict(weights("static"))
    motion = build_motion(config=config, latent_channels=c)
    motion.load_state_dict(weights("motion"))
    for net in (vae, static, motion):
        to_compute_device(net).train(False)
    return TrainedGenerator(
        config=config, vae=vae, static=static, motion=motion, codec=codec, prior=prior,
        latent_scale=latent_scale, residual_scale=residual_scale, ledger=ledger,
    )


def _number(run: RunDir, stage: str, record: dict, dotted: str) -> float:
    value = run.field(run.done_json(stage), record, dotted)
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise RunDirError(f"{run.done_json(stage)}: {dotted} = {value!r} is not a number; delete {run.stage_dir(stage)} "
                          f"and retrain: `{retrain_command(run.root)}`") from err
