"""utility.json: does the synthetic cohort help a segmentation model on real data?

The same small UNet (segnet.py) is trained three times, from the same seeded initialisation, for the
same number of optimiser steps (``steps``) with the same augmentation, so the regimes differ only in
what they see:
- ``real``: real subjects only, at most ``max_real_train`` of them (the scarce-data regime);
- ``synthetic``: synthetic subjects only (its gap to ``real`` is the generator's gap);
- ``real+synthetic``: per ``combine``, either ``mix`` (each batch element real with probability
  ``real_fraction``, else synthetic) or ``pretrain_finetune`` (pretrain on synthetic, then fine-tune
  the same weights on the real subjects; the two phases share the one step budget, so real+synthetic
  sees fewer real batches than ``real`` does, never more compute).
The tiny net is step-limited at short budgets, and mixing halves its real exposure; pretraining then
fine-tuning is the standard way synthetic data helps when real labels are scarce. utility.json
records the protocol in words (``protocol``). The demo preset's choice was made on a development
split (real training subjects outside the real subset; benchmarks/utility_dev.py), not on the
holdout reported here.
Each model is tested on the labelled frames of the real test subjects, frame by frame in 3-D:
- Dice per class (LV, MYO, RV) with monai DiceMetric; a class absent from the ground truth of a
  frame is left out of that frame (ignore_empty), a class the model misses scores 0.
- HD95 in mm as monai HausdorffDistanceMetric(percentile=95) defines it, at the real (slice, row,
  col) spacing (reports/surface.py computes it without monai's crop-and-pad transforms; tested to
  agree). A class absent from the ground truth is left out; a class present in the ground truth
  but absent from the prediction scores the frame's diagonal in mm (the largest distance the grid
  allows) instead of an infinity, so the mean stays finite and still penalises the miss.
``mean`` is the mean of the three class means. Real training subjects use their labelled frames;
synthetic subjects are labelled on every frame and all frames are used.
``gain_points`` is real+synthetic minus real in Dice points. The training losses are logged, never
reported: the last step's loss is a function of the few real slices of its batch.
``privacy_guarantee`` states the release's guarantee, which does not cover this report. ``scarcity`` repeats real and
real+synthetic with fewer real subjects (nested subsets of the real subset): synthetic data helps
most where real labels are scarcest, and one figure at one size hides that curve.
``reference`` (``utility.reference``) is the ceiling a gain is read against: real+synthetic's protocol
run again with further real training subjects (outside the real subset; as many as the synthetic
subjects where there are enough; their labelled frames) in place of the synthetic ones, i.e. a
generator that drew new subjects from the cohort itself. Where 20 real subjects already saturate the
segmenter, even that gain is small, and a synthetic gain is judged against it, not against zero.

How the trainings run. They are independent, so they are cut into work units (one regime, one
training seed; under ``pretrain_finetune`` one unit pretrains once on synthetic and fine-tunes a copy
for every real subset size, since that pretraining is the same for all of them) and run in
``workers`` processes side by side. Every unit computes on one thread, in the parent too when
``workers`` is 1, so the figures do not depend on how many workers there were (tested). The small
UNet gains little from a second thread, two processes nearly twice the work:
benchmarks/utility_bench.py times 1 and 2 workers side by side (1.75x on 2 cores).
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from synthshare.config import UtilityConfig
from synthshare.data.prepared import PreparedSubject, SyntheticSubject
from synthshare.errors import DataError
from synthshare.labels import LABEL_NAMES, NUM_CLASSES
from synthshare.parallel import resolve_workers, run_pieces
from synthshare.privacy_statement import guarantee_statement
from synthshare.reports import segnet
from synthshare.reports.jsonsafe import jsonable
from synthshare.reports.surface import hd95

logger = logging.getLogger(__name__)

REGIMES = ("real", "synthetic", "real+synthetic")
REFERENCE = "real+reference"  # real+synthetic's protocol with further real subjects in place of the synthetic ones
_COMBINED = ("real+synthetic", REFERENCE)
CLASSES = tuple(LABEL_NAMES[c] for c in range(1, NUM_CLASSES))  # LV, MYO, RV


def _labelled_frames(subject: PreparedSubject | SyntheticSubject) -> list[int]:
    if isinstance(subject, SyntheticSubject):
        return list(range(subject.labels.shape[0]))
    return [int(t) for t in np.flatnonzero(np.asarray(subject.labelled, dtype=bool))]


def _pool(subjects: Sequence[PreparedSubject | SyntheticSubject]) -> segnet.SlicePool:
    images, labels = [], []
    for s in subjects:
        for t in _labelled_frames(s):
            images.append(s.image[t])
            labels.append(s.labels[t])
    return segnet.slice_pool(images=images, labels=labels, subjects=len(subjects))


def _check_grid(groups: dict[str, Sequence[PreparedSubject | SyntheticSubject]]) -> None:
    shapes = {(name, s.key): tuple(s.image.shape[-2:]) for name, subs in groups.items() for s in subs}
    distinct = sorted(set(shapes.values()))
    if len(distinct) > 1:
        first = {shape: key for key, shape in reversed(list(shapes.items()))}
        examples = ", ".join(f"{k[0]} subject {k[1]} has {shape}" for shape, k in first.items())
        raise DataError(f"utility_report: subjects have different in-plane sizes ({examples}); prepare them with one data.crop")
    for name, subs in groups.items():
        for s in subs:
            if s.labels.shape != s.image.shape:
                raise DataError(f"utility_report: {name} subject {s.key}: labels {s.labels.shape} != image {s.image.shape}")


def _one_hot(labels: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(labels.astype(np.int64))
    return torch.nn.functional.one_hot(t, NUM_CLASSES).permute(3, 0, 1, 2)[None].float()


def _evaluate(model: torch.nn.Module, test: Sequence[PreparedSubject], config: UtilityConfig) -> dict:
    from monai.metrics import DiceMetric

    dice_metric = DiceMetric(include_background=False, reduction="none", ignore_empty=True)
    dices, hds = [], []
    for s in test:
        row, col, slc = (float(v) for v in s.spacing)
        spacing = (slc, row, col)  # array order (S, H, W)
        diagonal = float(np.sqrt(sum((n * d) ** 2 for n, d in zip(s.image.shape[1:], spacing))))
        for t in _labelled_frames(s):
            labels = segnet.predict_volume(model=model, image=s.image[t], config=config)
            truth = _one_hot(s.labels[t])
            dice = dice_metric(y_pred=_one_hot(labels), y=truth)[0].numpy().astype(np.float64)
            # monai's HausdorffDistanceMetric(percentile=95), computed directly (reports/surface.py)
            hd = np.array([hd95(pred=labels == c, truth=s.labels[t] == c, spacing=spacing) for c in range(1, NUM_CLASSES)])
            gt_present = truth[0, 1:].flatten(1).any(dim=1).numpy()
            hd = np.where(gt_present, hd, np.nan)
            hd = np.where(gt_present & ~np.isfinite(hd), diagonal, hd)
            dices.append(dice)
            hds.append(hd)
    return {"dice": _summarise(np.asarray(dices)), "hd95": _summarise(np.asarray(hds))}


def _summarise(values: np.ndarray) -> dict:
    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN class: stays NaN -> null + note
        per_class = np.nanmean(values, axis=0) if values.size else np.full(len(CLASSES), np.nan)
        out["mean"] = float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan")
    for name, value in zip(CLASSES, per_class):
        out[name] = float(value)
    return out


def _mean_over_runs(summaries: list[dict]) -> dict:
    """Key-wise mean of per-run summaries (a NaN stays NaN: a class missed in every run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {key: float(np.nanmean([run[key] for run in summaries])) for key in summaries[0]}


def _real_subset(real_train: Sequence[PreparedSubject], limit: int, seed: int) -> list[PreparedSubject]:
    if len(real_train) <= limit:
        return list(real_train)
    chosen = np.sort(np.random.default_rng(seed).choice(len(real_train), size=limit, replace=False))
    return [real_train[int(i)] for i in chosen]


def phase_steps(config: UtilityConfig) -> tuple[int, int]:
    """(pretraining steps on synthetic, fine-tuning steps on real) of ``combine: pretrain_finetune``."""
    finetune = min(config.steps - 1, max(1, round(config.steps * config.finetune_fraction)))
    return config.steps - finetune, finetune


def pretrain(*, model: torch.nn.Module, synthetic: segnet.SlicePool, config: UtilityConfig, seed: int, progress: bool,
             name: str = "real+synthetic") -> None:
    """``pretrain_finetune``'s first phase, in place: synthetic slices only."""
    segnet.train_unet(model=model, pools=[synthetic], config=config, seed=seed, progress=progress,
                      steps=phase_steps(config)[0], name=f"{name} pretrain")


def finetune(*, model: torch.nn.Module, real: segnet.SlicePool, config: UtilityConfig, seed: int, progress: bool,
             name: str = "real+synthetic") -> float:
    """``pretrain_finetune``'s second phase, in place: real slices only, fresh optimiser; the last loss."""
    return segnet.train_unet(model=model, pools=[real], config=config, seed=seed, progress=progress,
                             steps=phase_steps(config)[1], name=f"{name} fine-tune")


def train_regime(
    *, regime: str, real: segnet.SlicePool, synthetic: segnet.SlicePool, config: UtilityConfig, seed: int, progress: bool
) -> tuple[torch.nn.Module, float]:
    """A fresh UNet (same initialisation in every regime) trained ``config.steps`` steps in all; (model, last loss)."""
    model = segnet.build_unet(config=config, seed=seed)
    train = {"model": model, "config": config, "seed": seed, "progress": progress}
    if regime == "real":
        loss = segnet.train_unet(**train, pools=[real], name=regime)
    elif regime == "synthetic":
        loss = segnet.train_unet(**train, pools=[synthetic], name=regime)
    elif regime == "real+synthetic" and config.combine == "mix":
        weights = [config.real_fraction, 1.0 - config.real_fraction]
        loss = segnet.train_unet(**train, pools=[real, synthetic], weights=weights, name=regime)
    elif regime == "real+synthetic":
        pretrain(model=model, synthetic=synthetic, config=config, seed=seed, progress=progress)
        loss = finetune(model=model, real=real, config=config, seed=seed, progress=progress)
    else:
        raise ValueError(f"unknown utility regime {regime!r}; expected one of {REGIMES}")
    return model, loss


def protocol(config: UtilityConfig) -> dict:
    """What each regime was trained on, in words and figures, for utility.json."""
    if config.combine == "mix":
        combined = (
            f"{config.steps} steps, each batch element drawn from real slices with probability "
            f"{config.real_fraction:g}, else from synthetic slices"
        )
    else:
        pretrain_steps, finetune_steps = phase_steps(config)
        combined = (
            f"{pretrain_steps} steps on synthetic slices (pretraining), then {finetune_steps} steps on real slices "
            "(fine-tuning from the pretrained weights, fresh optimiser)"
        )
    parts = [
        name
        for name, on in (
            ("random flips", config.augment_flip),
            ("random quarter turns", config.augment_rot90),
            (f"intensity scale 1 +- {config.augment_intensity:g}", config.augment_intensity > 0),
        )
        if on
    ]
    return {
        "steps_per_regime": config.steps,
        "real": f"{config.steps} steps on real slices of at most {config.max_real_train} real training subjects",
        "synthetic": f"{config.steps} steps on synthetic slices",
        "real+synthetic": combined,
        "augmentation": ", ".join(parts) + " (image and labels alike; every regime)" if parts else "none",
        "optimiser": f"Adam lr {config.lr:g}, {config.lr_schedule} schedule per phase, batch {config.batch_size}",
        "initialisation": "the same seeded initialisation in every regime",
        "repeats": f"{config.train_seeds} training(s) per regime with consecutive seeds; dice and hd95 are their mean",
        "scarcity": (
            f"real and real+synthetic trained again, as above, on nested subsets of {sorted(config.scarcity)} of the "
            "real training subjects (the same synthetic subjects and test set)" if config.scarcity else "none"
        ),
        "gain_points": "100 x (real+synthetic - real) mean Dice, per training seed and their mean",
        "reference": (
            "real+synthetic's protocol (and scarcity sizes) again with further real training subjects, outside the "
            "real subset and with their labelled frames only, in place of the synthetic subjects; its gain_points is "
            "100 x (real+reference - real)" if config.reference else "none"
        ),
    }


_SOURCES = {"real": ("real",), "synthetic": ("synthetic",), "real+synthetic": ("real", "synthetic")}


# -- the trainings as independent work units ----------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """One regime at one training seed, scored at each of ``sizes`` (numbers of real training subjects).

    Only ``pretrain_finetune`` real+synthetic (and real+reference) units hold several sizes: the pretraining
    is shared and each size fine-tunes its own copy of it. ``synthetic`` units ignore the sizes."""

    regime: str
    seed: int
    sizes: tuple[int, ...]

    def steps(self, config: UtilityConfig) -> int:
        if self.regime in _COMBINED and config.combine == "pretrain_finetune":
            pretrain_steps, finetune_steps = phase_steps(config)
            return pretrain_steps + finetune_steps * len(self.sizes)
        return config.steps


@dataclass(frozen=True)
class _Scored:
    regime: str
    size: int
    seed: int
    evaluation: dict
    final_loss: float


@dataclass(frozen=True)
class _Inputs:
    """What every unit reads: the real pools by subject count, the synthetic pool, the test subjects, and the
    further real subjects of ``reference`` (None: not run)."""

    real: dict[int, segnet.SlicePool]
    synthetic: segnet.SlicePool
    test: list[PreparedSubject]
    config: UtilityConfig
    reference: segnet.SlicePool | None = None


def _run_unit(inputs: _Inputs, unit: _Unit) -> list[_Scored]:
    """Train and score one unit (run_pieces calls it with the shared inputs first)."""
    config = inputs.config
    # real+reference is real+synthetic's training with the further real subjects as its second source
    synthetic = inputs.reference if unit.regime == REFERENCE else inputs.synthetic
    regime = "real+synthetic" if unit.regime == REFERENCE else unit.regime
    if regime == "real+synthetic" and config.combine == "pretrain_finetune":
        pretrained = segnet.build_unet(config=config, seed=unit.seed)
        pretrain(model=pretrained, synthetic=synthetic, config=config, seed=unit.seed, progress=False, name=unit.regime)
        out = []
        for n in unit.sizes:  # train_regime's fine-tuning, each size from its own copy of the shared pretraining
            model = copy.deepcopy(pretrained)
            loss = finetune(model=model, real=inputs.real[n], config=config, seed=unit.seed, progress=False,
                            name=unit.regime)
            out.append(_Scored(unit.regime, n, unit.seed, _evaluate(model, inputs.test, config), loss))
        return out
    (n,) = unit.sizes
    model, loss = train_regime(regime=regime, real=inputs.real[n], synthetic=synthetic, config=config,
                               seed=unit.seed, progress=False)
    return [_Scored(unit.regime, n, unit.seed, _evaluate(model, inputs.test, config), loss)]


def _run_units(units: list[_Unit], inputs: _Inputs, progress: bool) -> list[_Scored]:
    """Every unit's scores (synthshare.parallel); longest units first so that the workers finish together."""
    order = sorted(units, key=lambda u: -u.steps(inputs.config))
    workers = resolve_workers(inputs.config.workers, len(order))
    if progress:
        trainings = sum(len(u.sizes) if u.regime in _COMBINED else 1 for u in order)
        logger.info("utility: %d trainings in %d work units on %d worker process(es)", trainings, len(order), workers)
    done: list[_Scored] = []
    for k, scored in enumerate(run_pieces(_run_unit, order, workers=workers, shared=inputs), start=1):
        done.extend(scored)
        if progress:
            for s in scored:
                logger.info("utility[%s, %d real, seed %d]: mean Dice %.3f (%d/%d units)", s.regime, s.size, s.seed,
                            s.evaluation["dice"]["mean"], k, len(order))
    return done


def _units(*, inputs: _Inputs, sizes: list[int], seed: int) -> list[_Unit]:
    """The work units of a report: real at every size, synthetic once, real+synthetic (and real+reference) at
    every size."""
    config = inputs.config
    seeds = [seed + k for k in range(config.train_seeds)]
    has_real, has_synthetic = bool(len(inputs.real[sizes[0]])), bool(len(inputs.synthetic))
    combined = [regime for regime, pool in (("real+synthetic", inputs.synthetic), (REFERENCE, inputs.reference))
                if has_real and pool is not None and len(pool)]
    units: list[_Unit] = []
    for s in seeds:
        if has_real:
            units += [_Unit("real", s, (n,)) for n in sizes]
        if has_synthetic:
            units.append(_Unit("synthetic", s, (sizes[0],)))
        for regime in combined:
            if config.combine == "pretrain_finetune":
                units.append(_Unit(regime, s, tuple(sizes)))
            else:
                units += [_Unit(regime, s, (n,)) for n in sizes]
    return units


def _collect(scored: list[_Scored], *, regime: str, size: int, seeds: list[int]) -> dict | None:
    """The seeds' runs of one regime at one size, as the report gives them; None if it was not trained."""
    by_seed = {s.seed: s for s in scored if s.regime == regime and s.size == size}
    if not by_seed:
        return None
    runs = [by_seed[k] for k in seeds]
    return {
        "dice": _mean_over_runs([r.evaluation["dice"] for r in runs]),
        "hd95": _mean_over_runs([r.evaluation["hd95"] for r in runs]),
        "dice_mean_per_seed": [r.evaluation["dice"]["mean"] for r in runs],
        "final_loss": float(np.mean([r.final_loss for r in runs])),  # logged only, never reported
    }


def _gain(per_seed: dict, combined: str = "real+synthetic") -> dict | None:
    """``combined`` (real+synthetic) minus real mean Dice in points (x100), per training seed and their mean; None if
    either is missing."""
    real, both = per_seed.get("real"), per_seed.get(combined)
    if real is None or both is None:
        return None
    diffs = [100.0 * (b - r) for r, b in zip(real, both)]
    return {"mean": float(np.mean(diffs)), "per_seed": diffs}


def _reference_subjects(*, real_train: Sequence[PreparedSubject], real: Sequence[PreparedSubject], n: int, seed: int,
                        config: UtilityConfig, notes: list[str]) -> list[PreparedSubject]:
    """``reference``'s further real subjects: up to ``n`` (the synthetic count) real training subjects outside the
    real subset, a seeded draw; [] (with a note) when it is off or there are none."""
    if not config.reference:
        return []
    chosen = {s.key for s in real}
    further = [s for s in real_train if s.key not in chosen]
    if not further or not n:
        notes.append(f"reference: {len(further)} real training subjects outside the real subset and {n} synthetic "
                     "subjects; not run")
        return []
    if len(further) < n:
        notes.append(f"reference: only {len(further)} real training subjects outside the real subset, fewer than the "
                     f"{n} synthetic subjects it stands in for")
    return _real_subset(further, n, seed + 1)


def _reference_report(scored: list[_Scored], *, reference: Sequence[PreparedSubject], sizes: list[int],
                      seeds: list[int], real_per_seed: dict[int, list[float] | None]) -> dict | None:
    """utility.json's ``reference`` block: real+reference at every size and its gain over real; None if not run."""
    if not reference:
        return None
    rows = []
    for n in sizes:
        result = _collect(scored, regime=REFERENCE, size=n, seeds=seeds)
        if result is None:  # no real subjects: nothing to add further subjects to
            return None
        per_seed = {"real": real_per_seed.get(n), REFERENCE: result["dice_mean_per_seed"]}
        rows.append({"n_real": n, "dice": result["dice"], "hd95": result["hd95"],
                     "dice_mean_per_seed": result["dice_mean_per_seed"], "gain_points": _gain(per_seed, REFERENCE)})
    main, *scarcity = rows
    for row in rows:
        if row["gain_points"] is not None:
            logger.info("utility: %d real subjects: real+reference - real = %+.2f Dice points (the ceiling)",
                        row["n_real"], row["gain_points"]["mean"])
    return {"n_subjects": len(reference), "frames": "labelled frames only", **{k: v for k, v in main.items()
                                                                              if k != "n_real"},
            "scarcity": scarcity}


def utility_report(
    *,
    real_train: Sequence[PreparedSubject],
    synthetic: Sequence[SyntheticSubject],
    real_test: Sequence[PreparedSubject],
    config: UtilityConfig,
    seed: int,
    progress: bool,
    dp: Mapping[str, Any] | None = None,
) -> dict:
    """Dice and HD95 on ``real_test`` of the UNet trained on real, synthetic and real + synthetic.

    A regime without training data (no real or no synthetic subjects) is reported as null with a
    note. ``progress`` logs the losses at INFO level (logger ``synthshare.reports``). ``dp`` is
    privacy.json's ``dp`` block; its guarantee becomes ``privacy_guarantee`` (None: "no formal
    privacy guarantee").
    """
    test = [s for s in real_test if _labelled_frames(s)]
    if not test:
        raise DataError("utility_report: no real test subject has a labelled frame; pass holdout subjects with ED/ES labels")
    _check_grid({"real_train": real_train, "synthetic": synthetic, "real_test": test})
    real = _real_subset(real_train, config.max_real_train, seed)
    notes: list[str] = []
    sizes = [len(real)]
    for n in sorted(config.scarcity, reverse=True):
        if n >= len(real):
            notes.append(f"scarcity {n}: only {len(real)} real training subjects; not run")
        else:
            sizes.append(n)
    reference = _reference_subjects(real_train=real_train, real=real, n=len(synthetic), seed=seed, config=config,
                                    notes=notes)
    # nested subsets: each smaller one drawn from the real subset, as a report on that subset alone would
    inputs = _Inputs(real={n: _pool(real if n == len(real) else _real_subset(real, n, seed)) for n in sizes},
                     synthetic=_pool(synthetic), test=list(test), config=config,
                     reference=_pool(reference) if reference else None)
    scored = _run_units(_units(inputs=inputs, sizes=sizes, seed=seed), inputs, progress)
    seeds = [int(seed) + k for k in range(config.train_seeds)]

    report: dict = {"privacy_guarantee": guarantee_statement(dp), "dice": {}, "hd95": {}, "dice_mean_per_seed": {},
                    "n_train": {}}
    n_train = {"real": inputs.real[len(real)].subjects, "synthetic": inputs.synthetic.subjects}
    for regime in REGIMES:
        report["n_train"][regime] = sum(n_train[src] for src in _SOURCES[regime])
        result = _collect(scored, regime=regime, size=len(real), seeds=seeds)
        if result is None:
            notes.append(f"{regime}: no training slices (no subjects in one of its sources); not trained")
        for key in ("dice", "hd95", "dice_mean_per_seed"):
            report[key][regime] = None if result is None else result[key]
        if result is not None:
            logger.info("utility[%s]: mean Dice %.3f, last training loss %.4f, over %d training seed(s)", regime,
                        result["dice"]["mean"], result["final_loss"], config.train_seeds)
    report["gain_points"] = _gain(report["dice_mean_per_seed"])
    report["scarcity"] = []
    for n in sizes[1:]:
        row: dict = {"n_real": n, "dice": {}, "hd95": {}, "dice_mean_per_seed": {}}
        for regime in ("real", "real+synthetic"):
            result = _collect(scored, regime=regime, size=n, seeds=seeds)
            for key in ("dice", "hd95", "dice_mean_per_seed"):
                row[key][regime] = None if result is None else result[key]
        row["gain_points"] = _gain(row["dice_mean_per_seed"])
        report["scarcity"].append(row)
        if row["gain_points"] is not None:
            logger.info("utility: %d real subjects: real+synthetic - real = %+.2f Dice points", n, row["gain_points"]["mean"])
    report["reference"] = _reference_report(scored, reference=reference, sizes=sizes, seeds=seeds,
                                            real_per_seed={row["n_real"]: row["dice_mean_per_seed"]["real"]
                                                           for row in report["scarcity"]}
                                            | {len(real): report["dice_mean_per_seed"]["real"]})
    report.update(
        {
            "n_test": len(test),
            "n_test_frames": sum(len(_labelled_frames(s)) for s in test),
            "steps": config.steps,
            "batch_size": config.batch_size,
            "protocol": protocol(config),
            "seed": int(seed),
            "train_seeds": [int(seed) + k for k in range(config.train_seeds)],
            "model": f"monai UNet 2-D, channels {list(config.channels)}, instance norm, Dice+CE loss, Adam lr {config.lr}",
            "empty_handling": (
                "class absent from the ground truth: excluded; present in truth but not predicted: "
                "Dice 0 and HD95 = the frame's diagonal in mm"
            ),
        }
    )
    clean = jsonable(report, notes=notes)
    clean["notes"] = notes
    return clean
