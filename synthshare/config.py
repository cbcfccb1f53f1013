"""Run configuration: YAML (yaml.safe_load) -> pydantic models with extra="forbid".

A bad config raises ConfigError listing every wrong field with its dotted path, at once.
Each section belongs to one stage; the resolved config is stored with every run and release.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthshare.errors import ConfigError

# The owner's layout keeps configs/ at the top of the repository; the project installs editable.
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

# Training precision of the generator (models/precision.py resolves it; defined here so config imports no torch)
Precision = Literal["auto", "float32", "bfloat16"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    spacing: tuple[float, float, float] = Field((1.5, 1.5, 10.0), description="target (row, col, slice) spacing in mm")
    crop: tuple[int, int] = Field((64, 64), description="in-plane crop (H, W) in voxels around the heart")
    slices: int = Field(8, ge=1, description="slice count after resampling/cropping (padded or cropped)")
    frames: int = Field(16, ge=2, description="frames after temporal resampling, ED at frame 0")
    intensity_percentiles: tuple[float, float] = (1.0, 99.0)
    holdout_fraction: float = Field(0.25, gt=0.0, lt=1.0)
    min_holdout: int = Field(5, ge=1, description="fewest holdout subjects an audit can use")
    min_train: int = Field(2, ge=1)


# The generator stages' learning-rate schedule (train/loop.py: lr_at), shared by the VAE and both denoisers.
LR_SCHEDULE_HELP = (
    "constant: lr at every step; cosine: lr x (1 + cos(pi step / steps)) / 2, from lr at the first step towards 0 at "
    "the last (a function of the step alone, so a resume continues it). Measured on the demo "
    "(benchmarks/results/generator_bench_lr_schedule.json, one training each): cosine did not buy back fewer steps; at "
    "500/500/250 steps LV EDV r 0.948 on the 100-subject grid against 0.931 for the demo's 600/600/300 constant (within "
    "run-to-run spread) and one systole 93% against 100%; at 300/300/150, 0.776"
)


class VAEConfig(_Strict):
    channels: tuple[int, ...] = (8, 16)
    latent_channels: int = Field(4, ge=1)
    norm_groups: int = Field(4, ge=1)
    num_res_blocks: int = Field(1, ge=1)
    kl_weight: float = Field(1e-6, ge=0.0)
    seg_weight: float = Field(1.0, ge=0.0)
    steps: int = Field(200, ge=1)
    batch_size: int = Field(4, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description=LR_SCHEDULE_HELP)

    @model_validator(mode="after")
    def _groups_divide(self) -> VAEConfig:
        bad = [c for c in self.channels if c % self.norm_groups]
        if bad:
            raise ValueError(f"channels {bad} are not divisible by norm_groups={self.norm_groups} (GroupNorm)")
        return self


class DiffusionConfig(_Strict):
    channels: tuple[int, ...] = (16, 32)
    norm_groups: int = Field(4, ge=1)
    num_res_blocks: int = Field(1, ge=1)
    num_train_timesteps: int = Field(1000, ge=2)
    steps: int = Field(400, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(5e-4, gt=0.0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description=LR_SCHEDULE_HELP)
    cond_dropout: float = Field(0.1, ge=0.0, lt=1.0, description="classifier-free guidance condition dropout")
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0, description="0 disables EMA")

    @model_validator(mode="after")
    def _groups_divide(self) -> DiffusionConfig:
        bad = [c for c in self.channels if c % self.norm_groups]
        if bad:
            raise ValueError(f"channels {bad} are not divisible by norm_groups={self.norm_groups} (GroupNorm)")
        return self


class MotionConfig(DiffusionConfig):
    """Stage 3: the residual motion LDM. Both layouts see every frame of a subject in one example."""

    layout: Literal["frames_in_channels", "time_axis"] = Field(
        "frames_in_channels",
        description="frames_in_channels: a 3-D UNet over (slice, row, col), the frames' residuals stacked in "
        "channels; time_axis: a 3-D UNet over (frame, row, col), the slices in channels, so convolutions run "
        "along the cardiac cycle with weights shared over time and zero padding where the ED residual is 0. "
        "time_axis draws more coherent, more varied curves but memorises with training (configs/demo.yaml: "
        "membership AUC upper bound 0.963 at 1200 steps, blocked by the gate)",
    )
    residual_norm: Literal["none", "stroke"] = Field(
        "none", description="stroke: the model sees each subject's residuals divided by cbrt(LV EDV) - cbrt(LV ESV) "
        "of its own conditions, and the sampler multiplies by that of the requested ones (models/residual_norm.py). Measured on the demo (benchmarks/results/"
        "generator_bench_residual_norm.json): one systole 92% vs 91%, motion membership AUC 0.54 vs 0.61",
    )
    velocity_weight: float = Field(
        0.0, ge=0.0, description="weight of a velocity loss on the denoiser's x0 estimate (Tevet et al. 2023, MDM): "
        "the mean squared error of its frame-to-frame differences around the closed cycle (the ED residual 0 at both "
        "ends), added to the v-prediction loss, so that errors which jerk between neighbouring frames cost more than "
        "errors shared by them; 0 = off. Measured on the demo (benchmarks/results/generator_bench_velocity_loss.json): "
        "one systole 90% at weights 1 and 4 vs 91% without",
    )
    context_noise: float = Field(
        0.0, ge=0.0, description="std of Gaussian noise added to the scaled z_ED context of every training example "
        "(conditioning augmentation, as in cascaded diffusion): the model cannot key a subject's motion on its exact "
        "anatomy, and sampling conditions on a generated z_ED anyway; 0 = off",
    )


class SamplingConfig(_Strict):
    ddim_steps: int = Field(20, ge=1)
    guidance_scale: float = Field(2.0, ge=0.0, description="classifier-free guidance of the anatomy (static) stage")
    motion_guidance_scale: float | None = Field(
        None, ge=0.0, description="guidance of the motion stage; None = guidance_scale. Guidance narrows what the "
        "conditions leave free (here the curve shape), so 1.0 keeps the motion diverse",
    )
    batch_size: int = Field(8, ge=1)
    n: int = Field(20, ge=1, description="synthetic subjects in a release")
    plausibility_tries: int = Field(
        1, ge=1, le=20, description="draws per subject until its generated LV volume curve is plausible: end-diastole "
        "at frame 0 and one systole per cycle (reports/curves.py); a subject still implausible after this many draws "
        "keeps its last draw and is counted in fidelity.json. A rule on the synthetic output alone: no privacy cost, "
        "and the audit judges the subjects released. 1 = every first draw is kept (no check)",
    )
    calibration_n: int = Field(
        0, ge=0, le=1000, description="draws from the released prior that measure how far the generator overshoots "
        "each requested volume (LV EDV/ESV, RV EDV, myocardial mass); every request is then divided by that factor "
        "(sample/calibration.py). Reads the generator's output only (no cost to the DP guarantee), but the audit's "
        "memorisation criteria move toward their limits (configs/demo.yaml). 0 = requests given as they are",
    )


class PrivacyConfig(_Strict):
    epsilon: float | None = Field(None, gt=0.0, description="total release budget; None = DP off")
    delta: float | None = Field(None, gt=0.0, lt=1.0, description="default: below 1/n_subjects")
    max_grad_norm: float = Field(1.0, gt=0.0)
    weights: dict[Literal["vae", "static", "motion", "stats"], float] = Field(
        default_factory=lambda: {"vae": 0.3, "static": 0.3, "motion": 0.3, "stats": 0.1}
    )
    clip_mode: Literal["auto", "hooks", "functorch", "ghost"] = "auto"
    fill_budget: bool = Field(
        True, description="scale every stage's sigma down together until the RDP-composed total reaches epsilon"
    )


# Fewest real training subjects a utility regime may train on: its Dice, HD95 and gain are released, and
# with fewer they are functions of one or two real subjects. Equal to synthshare.reports.curves.
# MIN_AGGREGATE_COUNT (tested); a constant here so that loading a config imports no numpy or report code.
MIN_REAL_TRAIN = 3


class UtilityConfig(_Strict):
    """The segmentation experiment of utility.json; every regime gets the same steps and augmentation."""

    enabled: bool = True
    channels: tuple[int, ...] = (8, 16, 32)
    steps: int = Field(200, ge=1, description="optimiser steps of every regime (one budget for all)")
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="per training phase")
    max_real_train: int = Field(20, ge=MIN_REAL_TRAIN, description="real training subjects for the scarce-data regime")
    scarcity: tuple[int, ...] = Field(
        (), description=f"fewer real training subjects (each >= {MIN_REAL_TRAIN} and < max_real_train, nested "
        "subsets) at which real and real+synthetic are trained again: the gain as real labels get scarcer "
        "(utility.json 'scarcity')",
    )
    train_seeds: int = Field(
        1, ge=1, description="trainings per regime (seeds seed, seed+1, ...); the report gives their mean: one "
                             "seed moves the real+synthetic gain by about +-1.5 Dice points"
    )
    combine: Literal["mix", "pretrain_finetune"] = Field(
        "mix", description="real+synthetic: mixed batches, or synthetic pretraining then real fine-tuning"
    )
    real_fraction: float = Field(0.5, gt=0.0, lt=1.0, description="mix: share of each batch drawn from real slices")
    finetune_fraction: float = Field(
        0.5, gt=0.0, lt=1.0, description="pretrain_finetune: share of the steps spent fine-tuning on real"
    )
    reference: bool = Field(
        False, description="also run real+synthetic's protocol with further real training subjects (outside the real "
        "subset, as many as the synthetic subjects where there are enough) in place of the synthetic ones: the gain a "
        "generator that drew new subjects from the cohort itself would give, the ceiling of the synthetic gain "
        "(utility.json 'reference')",
    )
    augment_flip: bool = Field(False, description="random flips of each slice (image and labels)")
    augment_rot90: bool = Field(False, description="random quarter turns of square slices (image and labels)")
    augment_intensity: float = Field(0.0, ge=0.0, lt=1.0, description="image scaled by 1 +- this, uniform")
    workers: int = Field(
        0, ge=0, description="processes that run the trainings side by side, each on one thread (the figures do "
                             "not depend on it); 0: one per available CPU core"
    )

    @model_validator(mode="after")
    def _two_phases_fit(self) -> UtilityConfig:
        if self.combine == "pretrain_finetune" and self.steps < 2:
            raise ValueError(f"steps={self.steps}: pretrain_finetune needs at least 2 steps (one per phase)")
        bad = [n for n in self.scarcity if not MIN_REAL_TRAIN <= n < self.max_real_train]
        if bad or len(set(self.scarcity)) != len(self.scarcity):
            raise ValueError(
                f"scarcity={list(self.scarcity)}: give distinct subject counts from {MIN_REAL_TRAIN} (fewer real "
                f"subjects would make the released Dice a function of one or two of them) to max_real_train - 1 "
                f"({self.max_real_train - 1}); max_real_train itself is the main regime"
            )
        return self


class ReleaseConfig(_Strict):
    license: str = Field("CC-BY-NC-SA-4.0", description="the data licence the source cohort imposes")
    nnunet_dataset_id: int = Field(501, ge=1, le=999)
    dataset_name: str = "SynthCine"


class PhantomConfig(_Strict):
    n: int = Field(40, ge=2, description="subjects in the embedded phantom cohort")
    seed: int = Field(0, ge=0)
    size: int = Field(96, ge=16, description="in-plane matrix of the phantom images")
    workers: int = Field(0, ge=0, description="processes rendering subjects side by side (the bytes do not depend "
                                              "on it); 0: one per available CPU core")


class Config(_Strict):
    name: str = "custom"
    seed: int = Field(0, ge=0, description="run seed (numpy and torch seeds must be non-negative)")
    precision: Precision = Field(
        "float32", description="training precision of the VAE and both denoisers (models/precision.py): bfloat16 "
        "autocast, float32, or auto = bfloat16 where the CPU or GPU computes it natively; DP-SGD always float32")
    data: DataConfig = DataConfig()
    vae: VAEConfig = VAEConfig()
    static: DiffusionConfig = DiffusionConfig()
    motion: MotionConfig = MotionConfig()
    sampling: SamplingConfig = SamplingConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    utility: UtilityConfig = UtilityConfig()
    release: ReleaseConfig = ReleaseConfig()
    phantom: PhantomConfig = PhantomConfig()

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        """Choices that are valid alone but fail together (all reported at once, before any work)."""
        problems = []
        multiple = 2 ** (len(self.vae.channels) - 1)  # the VAE halves H and W once per level after the first
        if any(size % multiple for size in self.data.crop):
            problems.append(f"data.crop {list(self.data.crop)} must be divisible by {multiple} (the VAE downsamples "
                            f"in-plane {len(self.vae.channels) - 1} time(s) with vae.channels {list(self.vae.channels)})")
        motion_scale = self.sampling.motion_guidance_scale
        for stage, scale in (("static", self.sampling.guidance_scale),
                             ("motion", self.sampling.guidance_scale if motion_scale is None else motion_scale)):
            if scale != 1.0 and getattr(self, stage).cond_dropout == 0.0:
                problems.append(f"{stage}.cond_dropout is 0, so the unconditional model of classifier-free guidance "
                                f"never trains, but its guidance scale is {scale:g}: set {stage}.cond_dropout > 0 "
                                f"(e.g. 0.1) or the guidance scale to 1.0")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    def sha256(self, *sections: str) -> str:
        """Hash of the resolved config (or of some sections): keys stage outputs for resume."""
        payload = self.to_dict() if not sections else {s: self.to_dict()[s] for s in sections}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def with_updates(self, updates: dict) -> Config:
        """A new validated config with nested updates applied (e.g. from CLI flags)."""
        return config_from_dict(_deep_merge(self.to_dict(), updates), source="<overrides>")


def _deep_merge(base: dict, updates: dict) -> dict:
    out = dict(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _problems(err: ValidationError) -> list[str]:
    problems = []
    for item in err.errors():
        path = ".".join(str(p) for p in item["loc"]) or "<root>"
        problems.append(f"{path}: {item['msg']}")
    return problems


def config_from_dict(data: dict, *, source: str) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: invalid config; fix these fields:", _problems(err)) from err


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path to a YAML file, or the name of a bundled preset (tiny, demo, acdc)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    bundled = CONFIG_DIR / f"{name_or_path}.yaml"
    if bundled.exists():
        return bundled
    presets = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    raise ConfigError(f"{name_or_path}: no such config file and no bundled preset by that name (presets: {', '.join(presets)})")


def load_config(name_or_path: str | Path) -> Config:
    path = resolve_config_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); save the config as UTF-8 YAML"
        ) from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config ({err.strerror}); pass an existing YAML file or a preset name") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}); fix the syntax") from err
    return config_from_dict(data or {}, source=str(path))
