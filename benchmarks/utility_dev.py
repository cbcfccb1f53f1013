"""Choose the utility protocol on a development split of a finished release's work folder.

A release keeps its hospital-internal state in ``.RELEASE.work/`` (prepared cohort, run, split). This
script reloads the real train/holdout subjects and the trained generator from it, without any
retraining, and scores utility_report variants:
- ``--eval dev``: real training uses the same <= max_real_train subjects the release would use
  (utility._real_subset with the release seed); the remaining real *train* subjects are the test
  set. Protocol choices are made here. (The generator saw these subjects in training, so synthetic
  regimes may score a little higher here than on the holdout.)
- ``--eval holdout``: the real holdout, as utility.json reports it. Run it once, after choosing.

Synthetic subjects are sampled from the run (``--n-synthetic``, seed = the config seed, as the
release does) and cached as .npz beside the work folder (arrays only, no pickle), keyed by the run's
motion-stage hash.

    python benchmarks/utility_dev.py --work /tmp/utility_work/.rel.work --eval dev \\
        [--n-synthetic 40] [--seeds 0] [--set steps=600] [--set combine=pretrain_finetune] [--config demo]
        [--set reference=true] [--sampling guidance_scale=1.0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml


def load_real(work: Path, config) -> tuple[list, list]:
    from synthshare.train.prepare import prepare_and_split
    from synthshare.train.run_dir import RunDir

    p = config.phantom
    source = work / f"phantom-n{p.n}-seed{p.seed}-size{p.size}"
    cohort, split = prepare_and_split(data=source, config=config, run=RunDir(work / "run"))
    return [cohort.load(k) for k in split.train], [cohort.load(k) for k in split.holdout]


def load_synthetic(work: Path, n: int, seed: int, sampling: dict | None = None) -> list:
    import dataclasses
    import hashlib

    from synthshare.sample.generator import load_generator
    from synthshare.sample.sampler import sample_cohort, to_synthetic
    from synthshare.train.run_dir import RunDir

    # keyed by the run's motion-stage hash (which chains the VAE and anatomy stages) and the sampling overrides:
    # another run's or another setting's samples are never reused
    stage = RunDir(work / "run").done("motion").get("hash", "unfinished")[:12]
    tag = "" if not sampling else "-" + hashlib.sha256(json.dumps(sampling, sort_keys=True).encode()).hexdigest()[:8]
    cache = work.parent / f"synthetic-n{n}-seed{seed}-{stage}{tag}.npz"
    if not cache.exists():
        generator = load_generator(run_dir=work / "run")
        if sampling:
            generator = dataclasses.replace(generator, config=generator.config.with_updates({"sampling": sampling}))
        subjects = sample_cohort(run_dir=work / "run", n=n, seed=seed, generator=generator)
        np.savez_compressed(
            cache,
            images=np.stack([s.image for s in subjects]),
            labels=np.stack([s.labels for s in subjects]),
            spacing=np.asarray(subjects[0].spacing),
            seeds=np.asarray([s.seed for s in subjects]),
        )
    with np.load(cache, allow_pickle=False) as z:
        spacing = tuple(float(v) for v in z["spacing"])
        return [
            to_synthetic(key=f"syn{i + 1:04d}", image=z["images"][i], labels=z["labels"][i], spacing=spacing,
                         requested={}, seed=int(z["seeds"][i]))
            for i in range(z["images"].shape[0])
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--eval", choices=("dev", "holdout"), default="dev")
    parser.add_argument("--n-synthetic", type=int, default=40)
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds (the real subset stays the release's)")
    parser.add_argument("--config", default=None, help="take the utility section from this preset (default: the run's)")
    parser.add_argument("--set", action="append", default=[], help="utility.KEY=VALUE (YAML value)")
    parser.add_argument("--sampling", action="append", default=[],
                        help="sampling.KEY=VALUE (YAML value) for the synthetic subjects, e.g. guidance_scale=1.0")
    args = parser.parse_args()

    from synthshare.config import load_config
    from synthshare.reports.utility import _real_subset, utility_report
    from synthshare.train.run_dir import RunDir

    run_config = RunDir(args.work / "run").read_config()
    utility = (load_config(args.config) if args.config else run_config).utility
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    utility = type(utility).model_validate({**utility.model_dump(), **overrides})

    train, holdout = load_real(args.work, run_config)
    real = _real_subset(train, utility.max_real_train, run_config.seed)
    chosen = {s.key for s in real}
    test = [s for s in train if s.key not in chosen] if args.eval == "dev" else holdout
    sampling = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.sampling)}
    synthetic = load_synthetic(args.work, args.n_synthetic, run_config.seed, sampling)

    for seed in (int(s) for s in args.seeds.split(",")):
        t0 = time.perf_counter()
        # dev: real_train = exactly the release's real subset (the report's own subset draw keeps it whole; the other
        # training subjects are the test set). holdout: every training subject, as the release passes them, so that
        # reference=true has further real subjects (the subset is the release's at the release's seed)
        report = utility_report(real_train=real if args.eval == "dev" else train, synthetic=synthetic, real_test=test,
                                config=utility, seed=seed, progress=False)
        seconds = time.perf_counter() - t0
        dice = report["dice"]
        print(json.dumps({  # a benchmark script: its stdout is its output
            "eval": args.eval, "n_test": report["n_test"], "n_real": len(real), "n_synthetic": len(synthetic),
            "seed": seed, "set": overrides, "sampling": sampling, "seconds": round(seconds, 1),
            "dice": {r: {k: round(v, 4) for k, v in (dice[r] or {}).items()} for r in dice},
            "hd95": {r: {k: round(v, 2) for k, v in (report["hd95"][r] or {}).items()} for r in report["hd95"]},
            "gain_points": round(100 * (dice["real+synthetic"]["mean"] - dice["real"]["mean"]), 2),
            "scarcity_gain_points": {row["n_real"]: _points(row["gain_points"]) for row in report["scarcity"]},
            # --set reference=true: the same protocol with further real training subjects in place of the synthetic ones
            "reference_gain_points": None if report["reference"] is None else {
                row["n_real"]: _points(row["gain_points"])
                for row in [{"n_real": len(real), **report["reference"]}, *report["reference"]["scarcity"]]
            },
        }))


def _points(gain: dict | None) -> float | None:
    return None if gain is None else round(gain["mean"], 2)


if __name__ == "__main__":
    main()
