"""Generator benchmark: controllability, temporal coherence and speed on a phantom cohort.

    python benchmarks/generator_bench.py [--config demo] [--n-edv 10] [--n-ef 10] [--coherence 20] [--work DIR]

1. writes the phantom cohort of the config (its truth is the ground truth for controllability),
2. prepares, splits and trains the cascade (train split only; resumes inside --work),
3. samples a grid of requested LV EDV x EF (>= 100 subjects by default) and measures the
   generated segmentations: Pearson r and MAE, requested vs measured, for LV EDV, ESV, EF,
4. temporal coherence: second-difference energy of the LV volume curve, sum_t (v[t+1]-2v[t]+v[t-1])^2 / EDV^2,
   for the joint motion model vs per-frame independent sampling (each frame's residual from its own draw),
5. network evaluations per subject and subjects per second.

Measured (OMP_NUM_THREADS=1 python benchmarks/generator_bench.py --config demo; 2 shared CPU cores,
60 phantom subjects, 42 train, 100 sampled on a 10 x 10 EDV x EF grid):
  LV EDV r 0.984 MAE 14.1 mL; LV ESV r 0.977 MAE 25.2 mL; LV EF r 0.975 MAE 12.2 points;
  second-difference energy joint 0.085 vs per-frame 0.079 (no measurable gain on the phantom, whose
  motion is nearly a function of anatomy and EF); 88 network evaluations per subject; 1.67 subjects/s;
  training 199 s. With eps-prediction instead of v the same run gave EDV r 0.15 (see schedulers.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from synthshare.config import load_config
from synthshare.data.measures import volume_curve_ml
from synthshare.labels import LV
from synthshare.sample.conditions import complete
from synthshare.sample.generator import load_generator
from synthshare.sample.sampler import network_evaluations_per_subject, sample_batch, sample_cohort, subject_seed
from synthshare.train.run_dir import RunDir
from synthshare.train.trainer import train_run


def second_difference_energy(labels: np.ndarray, spacing: tuple[float, float, float]) -> float:
    v = volume_curve_ml(labels, LV, spacing, frame_axis=0)
    if v[0] <= 0:
        return float("nan")
    return float(np.sum(np.diff(v, n=2) ** 2) / v[0] ** 2)


def agreement(requested: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(requested) & np.isfinite(measured)
    r = float(np.corrcoef(requested[ok], measured[ok])[0, 1]) if ok.sum() > 2 and measured[ok].std() > 0 else float("nan")
    return {"pearson_r": r, "mae": float(np.mean(np.abs(requested[ok] - measured[ok])))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--n-edv", type=int, default=10)
    parser.add_argument("--n-ef", type=int, default=10)
    parser.add_argument("--coherence", type=int, default=20, help="subjects for the joint vs per-frame comparison")
    parser.add_argument("--work", type=Path, default=None, help="work folder (kept; a rerun resumes training)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from synthshare.train.prepare import prepare_and_split
    from synthshare.data.phantom_writers import write_phantom_cohort

    config = load_config(args.config)
    work = args.work or Path(tempfile.mkdtemp(prefix="generator_bench."))
    work.mkdir(parents=True, exist_ok=True)
    phantom = work / "phantom"
    if not phantom.exists():
        write_phantom_cohort(out=phantom, n=config.phantom.n, seed=config.phantom.seed, size=(config.phantom.size, config.phantom.size))
    run = RunDir(work / "run")
    cohort, split = prepare_and_split(data=phantom, config=config, run=run)
    t0 = time.perf_counter()
    train_run(cohort=cohort, train_keys=split.train, config=config, run_dir=run)
    train_s = time.perf_counter() - t0

    generator = load_generator(run_dir=run.root)
    train_edv = np.array([cohort.load(k).measures.lv_edv for k in split.train])
    edvs = np.linspace(np.percentile(train_edv, 10), np.percentile(train_edv, 90), args.n_edv)
    efs = np.linspace(25.0, 65.0, args.n_ef)
    grid = [complete(condition={"group": "NOR" if ef >= 50 else "DCM", "lv_edv": float(edv), "lv_esv": float(edv * (1 - ef / 100))},
                     prior=generator.prior) for edv in edvs for ef in efs]
    t0 = time.perf_counter()
    subjects = sample_cohort(run_dir=run.root, n=len(grid), seed=0, conditions=grid, generator=generator)
    sample_s = time.perf_counter() - t0

    figures: dict[str, object] = {"config": config.name, "n_train": len(split.train), "n_sampled": len(subjects),
                                  "train_seconds": round(train_s, 1), "sample_seconds": round(sample_s, 1),
                                  "subjects_per_second": len(subjects) / sample_s,
                                  "network_evaluations_per_subject": network_evaluations_per_subject(generator=generator)}
    for field in ("lv_edv", "lv_esv", "lv_ef"):
        req = np.array([float(s.requested[field]) for s in subjects])
        mea = np.array([float(getattr(s.measured, field)) for s in subjects])
        figures[field] = agreement(req, mea)

    # temporal coherence: the same conditions and seeds, joint motion vs per-frame independent residuals
    m = min(args.coherence, len(grid))
    conds, seeds = grid[:m], [subject_seed(seed=0, index=i) for i in range(m)]
    spacing = tuple(float(v) for v in config.data.spacing)
    energies = {}
    for name, independent in (("joint", False), ("per_frame", True)):
        _, labels = sample_batch(generator=generator, conditions=conds, seeds=seeds, independent_frames=independent)
        energies[name] = float(np.nanmean([second_difference_energy(lab, spacing) for lab in labels]))
    figures["temporal_second_difference_energy"] = energies

    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
