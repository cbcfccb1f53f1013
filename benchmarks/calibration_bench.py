"""Condition calibration (sampling.calibration_n, sample/calibration.py) on a trained run, plain vs calibrated.

Samples the same requests twice, once as given and once divided by the factors the calibration measured, and
prints the signed bias, Pearson r and MAE of every calibrated measure side by side, for two request sets:

- prior: --n conditions drawn from the run's released prior (seed 7), the requests a release makes;
- grid:  the generator bench's 10 x 10 LV EDV x EF grid (EDV over the 10th-90th percentile of the train
         subjects', EF 25-65%), many of them off the prior (a small dilated heart, a large normal one).

With --ddim-compare K it also times the prior set at K DDIM steps (plain), beside the config's steps.

    python benchmarks/calibration_bench.py --work W [--n 48] [--calibration-n 40] [--ddim-compare 20] [--json F]

W holds run/ (a trained run, e.g. a link to a release's WORK/run) and phantom/ (its cohort), as for
benchmarks/generator_bench.py; nothing is trained here.

Figures (2026-12-02, 2-core Ice Lake; two demo trainings, the seed-0 and seed-1 releases of the channels-last
change; 40 calibration draws; 10 DDIM steps): see benchmarks/results/condition_calibration.json and its README
entry for every number. In short, signed bias plain -> calibrated on the prior set:
  seed 0: LV EDV +18.6 -> see results; seed 1: LV ESV +30.1 mL -> see results
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

FIELDS = ("lv_edv", "lv_esv", "lv_ef", "rv_edv", "myo_mass")


def summary(subjects, requests) -> dict:
    out = {}
    for f in FIELDS:
        rq = np.array([float(r[f]) for r in requests])
        ms = np.array([float(getattr(s.measured, f)) for s in subjects])
        r = float(np.corrcoef(rq, ms)[0, 1]) if rq.std() > 0 and ms.std() > 0 else None
        out[f] = {"bias": float(np.mean(ms - rq)), "pearson_r": r, "mae": float(np.mean(np.abs(ms - rq))),
                  "measured_mean": float(ms.mean()), "requested_mean": float(rq.mean())}
    return out


def line(name: str, figures: dict) -> str:
    parts = [f"{f} {figures[f]['bias']:+.1f} r {figures[f]['pearson_r']:.3f} MAE {figures[f]['mae']:.1f}" for f in FIELDS
             if figures[f]["pearson_r"] is not None]
    return f"{name:18s} " + " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="holds run/ (trained) and phantom/ (its cohort)")
    parser.add_argument("--n", type=int, default=48, help="prior-drawn subjects")
    parser.add_argument("--calibration-n", type=int, default=40, help="calibration draws (sampling.calibration_n)")
    parser.add_argument("--grid", type=int, default=10, help="EDV and EF values of the grid (0 skips it)")
    parser.add_argument("--ddim-compare", type=int, default=0, help="also time the prior set at this many DDIM steps")
    parser.add_argument("--sampling", default="", help="overrides of the run's sampling section as JSON, e.g. "
                        "'{\"ddim_steps\": 10}' (a run trained before a config change keeps its old sampling section)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch

    from synthshare.sample.conditions import complete, draw_conditions
    from synthshare.sample.generator import load_generator
    from synthshare.sample.sampler import calibrate_conditions, sample_cohort
    from synthshare.train.prepare import prepare_and_split
    from synthshare.train.run_dir import RunDir

    torch.set_num_threads(2)
    run = RunDir(args.work / "run")
    base = load_generator(run_dir=run.root)
    sampling = base.config.with_updates({"sampling": {**(json.loads(args.sampling) if args.sampling else {}),
                                                      "calibration_n": args.calibration_n}}).sampling
    gen = dataclasses.replace(base, config=base.config.model_copy(update={"sampling": sampling}))
    plain_gen = dataclasses.replace(gen, config=gen.config.model_copy(update={
        "sampling": sampling.model_copy(update={"calibration_n": 0})}))
    t0 = time.perf_counter()
    calibration = calibrate_conditions(generator=gen, seed=gen.config.seed)
    figures: dict = {"run": str(args.work / "run"), "ddim_steps": sampling.ddim_steps, "calibration": calibration.to_dict(),
                     "calibration_seconds": round(time.perf_counter() - t0, 1)}
    print(f"calibration over {args.calibration_n} prior draws ({figures['calibration_seconds']} s): "
          + ", ".join(f"{k} {v:.3f}" for k, v in calibration.factors.items()))

    sets = {"prior": draw_conditions(prior=gen.prior, n=args.n, rng=np.random.default_rng(7))}
    if args.grid:
        cohort, split = prepare_and_split(data=args.work / "phantom", config=run.read_config(), run=run)
        edv = np.array([cohort.load(k).measures.lv_edv for k in split.train])
        edvs = np.linspace(np.percentile(edv, 10), np.percentile(edv, 90), args.grid)
        efs = np.linspace(25.0, 65.0, args.grid)
        sets["grid"] = [complete(condition={"group": "NOR" if ef >= 50 else "DCM", "lv_edv": float(e),
                                            "lv_esv": float(e * (1 - ef / 100))}, prior=gen.prior)
                        for e in edvs for ef in efs]
    for name, requests in sets.items():
        for mode, g, cal in (("plain", plain_gen, None), ("calibrated", gen, calibration)):
            t0 = time.perf_counter()
            subjects = sample_cohort(run_dir=run.root, n=len(requests), seed=7, conditions=requests, generator=g,
                                     calibration=cal)
            seconds = time.perf_counter() - t0
            figures[f"{name}.{mode}"] = {"n": len(subjects), "seconds": round(seconds, 1), **summary(subjects, requests)}
            print(line(f"{name} {mode}", figures[f"{name}.{mode}"]) + f"  ({seconds:.0f} s)", flush=True)
    if args.ddim_compare:
        slow = dataclasses.replace(plain_gen, config=plain_gen.config.model_copy(update={
            "sampling": plain_gen.config.sampling.model_copy(update={"ddim_steps": args.ddim_compare})}))
        t0 = time.perf_counter()
        subjects = sample_cohort(run_dir=run.root, n=args.n, seed=7, conditions=sets["prior"], generator=slow)
        seconds = time.perf_counter() - t0
        figures[f"prior.plain.ddim{args.ddim_compare}"] = {"n": len(subjects), "seconds": round(seconds, 1),
                                                          **summary(subjects, sets["prior"])}
        print(line(f"prior ddim {args.ddim_compare}", figures[f"prior.plain.ddim{args.ddim_compare}"])
              + f"  ({seconds:.0f} s, against {figures['prior.plain']['seconds']:.0f} s at {sampling.ddim_steps})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
