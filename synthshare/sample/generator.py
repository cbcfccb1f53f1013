"""A trained run loaded for inference: the three networks, the latent scales, the prior."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthshare.config import Config
from synthshare.models.conditioning import ConditionCodec
from synthshare.models.denoiser import LatentDenoiser
from synthshare.models.device import default_device
from synthshare.models.vae import SegVAE
from synthshare.train.checkpoint import load_weights
from synthshare.train.latent_stage import build_motion, build_static
from synthshare.train.run_dir import STAGES, RunDir, RunDirError
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
    """Everything needed to sample; RunDirError naming the missing stage if training is unfinished."""
    run = RunDir(Path(run_dir))
    config = run.read_config()
    records = {}
    for stage in STAGES:
        record = run.done(stage)
        if not record.get("finished"):
            raise RunDirError(f"{run.root}: stage {stage!r} has not finished; run `synthshare train --run {run.root}` again")
        records[stage] = record
    prior = run.read_json(run.conditions_json)
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
        net.to(default_device()).train(False)
    return TrainedGenerator(
        config=config, vae=vae, static=static, motion=motion, codec=ConditionCodec.from_dict(prior["codec"]), prior=prior,
        latent_scale=float(records["static"]["extra"]["latent_scale"]),
        residual_scale=float(records["motion"]["extra"]["residual_scale"]), ledger=records["motion"]["ledger"],
    )
