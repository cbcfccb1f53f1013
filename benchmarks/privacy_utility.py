"""Privacy-utility trade-off: the same release path at several privacy budgets, side by side.

    OMP_NUM_THREADS=1 python benchmarks/privacy_utility.py [--config demo] [--epsilons none,8,4,1] [--work DIR] [--out F.json]

For each budget (``none`` = DP off) on one phantom cohort and one split:
1. train the cascade (resumable: runs live in --work/run-eps<E>, keyed by their config hash, so a
   second call only re-evaluates),
2. sample the config's ``sampling.n`` subjects from the (DP-released) condition prior,
3. measure what a partner gets: controllability (Pearson r and MAE, requested vs measured LV EDV,
   ESV, EF), segmentation utility on the real holdout (Dice/HD95 per regime, utility.py's protocol),
4. audit under the default policy (does the gate pass?) and record the composed epsilon.
Prints one table; --out writes the figures as JSON.

Measured 2026-11-23 (demo config, 70 train / 30 holdout phantoms, 40 synthetic, delta 1e-3, default
policy; `--epsilons none,8` and `--epsilons 4,1` as two processes, 1 thread each, beside other jobs;
benchmarks/results/privacy_utility.json). Real-only Dice is 0.878 in every row.
  epsilon  r EDV  r ESV  r EF    Dice synthetic  real+synthetic - real  gate  DP training
  off      0.957  0.970  0.950   0.828           -0.2 points            pass  -
  8        0.434  0.225  0.029   0.240           -1.7                   pass  432 s
  4        0.287  0.157  -0.425  0.048           -1.6                   pass  413 s
  1        0.253  0.579  -0.667  0.015           -2.6                   pass  385 s
DP-SGD at these budgets destroys this generator on 70 subjects (sigma 2-5 at q 0.11-0.17 over 300
steps per stage); a useful epsilon needs far more subjects or public pretraining.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from synthshare.config import CONFIG_DIR, load_config


def _budget(token: str) -> float | None:
    return None if token.strip().lower() in {"none", "off", "inf"} else float(token)


def run_one(*, epsilon: float | None, config, cohort_dir: Path, work: Path, policy: Path) -> dict:
    from synthshare.audit_glue import run_audit
    from synthshare.privacy_statement import dp_section
    from synthshare.release.pipeline import _write_candidates
    from synthshare.reports.fidelity import fidelity_report
    from synthshare.reports.utility import utility_report
    from synthshare.sample.sampler import sample_cohort
    from synthshare.train.prepare import prepare_and_split
    from synthshare.train.run_dir import RunDir
    from synthshare.train.trainer import train_run

    cfg = config.with_updates({"privacy": {"epsilon": epsilon}})
    name = "none" if epsilon is None else f"{epsilon:g}"
    run = RunDir(work / f"run-eps{name}")
    times: dict[str, float] = {}

    t = time.perf_counter()
    cohort, split = prepare_and_split(data=cohort_dir, config=cfg, run=run)
    ledger = train_run(cohort=cohort, train_keys=split.train, config=cfg, run_dir=run, progress=None)
    times["train_s"] = time.perf_counter() - t

    t = time.perf_counter()
    synthetic = sample_cohort(run_dir=run.root, n=cfg.sampling.n, seed=cfg.seed)
    times["sample_s"] = time.perf_counter() - t

    t = time.perf_counter()
    holdout = [cohort.load(k) for k in split.holdout]
    train = [cohort.load(k) for k in split.train]
    fidelity = fidelity_report(real=holdout, synthetic=synthetic, real_reference=train, seed=cfg.seed)
    utility = utility_report(real_train=train, synthetic=synthetic, real_test=holdout, config=cfg.utility,
                             seed=cfg.seed, progress=False)
    times["reports_s"] = time.perf_counter() - t

    t = time.perf_counter()
    samples_dir = _write_candidates(work=work / f"audit-eps{name}", synthetic=synthetic)
    verdict = run_audit(run_dir=run.root, samples_dir=samples_dir, policy_path=policy,
                        out_dir=work / f"audit-eps{name}" / "report", progress=False)
    times["audit_s"] = time.perf_counter() - t

    dp = dp_section(ledger.to_dict())
    return {
        "epsilon_budget": epsilon,
        "epsilon_spent": dp.get("epsilon"),
        "delta": dp.get("delta"),
        "sigmas": {s: v.get("noise_multiplier") for s, v in (dp.get("ledger") or {}).get("stages", {}).items()}
        if dp["enabled"] else None,
        "controllability": {m: fidelity["controllability"][m] for m in ("lv_edv", "lv_esv", "lv_ef")},
        "dice_mean": {r: (utility["dice"][r] or {}).get("mean") for r in ("real", "synthetic", "real+synthetic")},
        "dice": utility["dice"],
        "hd95_mean": {r: (utility["hd95"][r] or {}).get("mean") for r in ("real", "synthetic", "real+synthetic")},
        "gate_passed": bool(verdict.passed),
        "gate_failed": [c.name for c in verdict.criteria if not c.passed],
        "n_train": len(split.train),
        "n_holdout": len(split.holdout),
        "seconds": times,
    }


def _fmt(v, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="demo")
    parser.add_argument("--epsilons", default="none,8,4,1", help="comma-separated budgets; none = DP off")
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthshare-privacy-utility"))
    parser.add_argument("--policy", type=Path, default=CONFIG_DIR / "policy" / "default.yaml")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from synthshare.data.phantom import write_phantom_cohort

    config = load_config(args.config)
    p = config.phantom
    args.work.mkdir(parents=True, exist_ok=True)
    cohort_dir = args.work / f"phantom-n{p.n}-seed{p.seed}-size{p.size}"
    if not cohort_dir.exists():
        write_phantom_cohort(out=cohort_dir, n=p.n, seed=p.seed, layout="acdc", size=(p.size, p.size))

    rows = []
    for token in args.epsilons.split(","):
        row = run_one(epsilon=_budget(token), config=config, cohort_dir=cohort_dir, work=args.work, policy=args.policy)
        rows.append(row)
        print(json.dumps(row, default=float), flush=True)

    print(f"\nconfig {args.config}: {rows[0]['n_train']} train / {rows[0]['n_holdout']} holdout phantom subjects, "
          f"{config.sampling.n} synthetic, policy {args.policy.name}")
    print("| epsilon (spent) | r EDV | r ESV | r EF | MAE EF | Dice real | Dice syn | Dice real+syn | gain (pts) | gate | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c, d = r["controllability"], r["dice_mean"]
        gain = None if d["real"] is None or d["real+synthetic"] is None else 100 * (d["real+synthetic"] - d["real"])
        eps = "off" if r["epsilon_budget"] is None else f"{r['epsilon_budget']:g} ({r['epsilon_spent']:.3f})"
        print(f"| {eps} | {_fmt(c['lv_edv']['pearson_r'])} | {_fmt(c['lv_esv']['pearson_r'])} | "
              f"{_fmt(c['lv_ef']['pearson_r'])} | {_fmt(c['lv_ef']['mae'], '.1f')} | {_fmt(d['real'])} | "
              f"{_fmt(d['synthetic'])} | {_fmt(d['real+synthetic'])} | {_fmt(gain, '+.1f')} | "
              f"{'pass' if r['gate_passed'] else 'BLOCKED: ' + ','.join(r['gate_failed'])} | {r['seconds']['train_s']:.0f} |")
    if args.out:
        args.out.write_text(json.dumps({"config": args.config, "rows": rows}, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
