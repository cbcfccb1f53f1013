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

Figures (2026-12-02, 2-core Ice Lake, float32), `--work W --sampling '{"ddim_steps":10}' --ddim-compare 20` with W/run
the seed-1 demo release's run; signed bias / r / MAE, plain -> calibrated (factors LV EDV 1.086, ESV 1.275, RV EDV
0.993, myocardial mass 0.924 from 40 draws in 33 s):
  prior (48): LV EDV +17.6 / 0.984 / 21.6 -> -3.8 / 0.982 / 12.2 mL;  LV ESV +30.1 / 0.989 / 30.4 -> -6.7 / 0.987 / 12.1
              LV EF -7.9 / 0.973 / 8.0 -> +1.8 / 0.969 / 5.2 points;  myo mass -9.5 / 0.986 / 11.7 -> +1.9 / 0.990 / 8.9 g
  grid (100): LV EDV +12.2 / 0.984 / 14.9 -> -10.2 / 0.984 / 12.8;    LV ESV +16.2 / 0.971 / 18.9 -> -18.2 / 0.961 / 18.5
              LV EF -3.9 / 0.929 / 5.4 -> +7.2 / 0.899 / 7.6 (off the prior the correction overshoots)
  the prior set at 20 DDIM steps: the same figures (LV EDV +17.7 / 0.984 / 21.8) in 65 s against 31 s at 10.
benchmarks/results/condition_calibration.json also holds a release pair on one seed-0 training (the same weights,
sampled both ways) and benchmarks/gate_margin.py on it: the memorisation criterion's tail grows when calibrated
(closer-to-train blocks 5/50 subsets against 2/50), which is why configs/demo.yaml leaves calibration off.
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
    if args.calibration_n < 1:
        parser.error("--calibration-n must be at least 1 (the bench compares plain with calibrated sampling)")
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
