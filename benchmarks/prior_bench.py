"""The released conditioning prior, log-normal volumes against the earlier normal-in-mL prior: how far its
draws sit from held-out real subjects, with no generator in the way.

    python benchmarks/prior_bench.py [--n 100] [--seed 0] [--splits 20] [--draws 400] [--noise-multiplier S] [--json F]

The cohort is the embedded phantom's (n subjects, its seed), measured from its drawn parameters (the rendered
volumes equal them to voxel rounding). Each split holds out 30% of every diagnosis group, as `release` does;
the rest are released through the training's own path (train/conditions_stage.release_conditions; exact, or with
--noise-multiplier S the Gaussian mechanism at that sigma, from a throwaway DP-noise key) on each scale, and --draws conditions are drawn from each with the sampler's draw_conditions. Printed per
measure: the Wasserstein-1 distance of the draws to the held-out subjects (mean over the splits), beside the
distance of the training subjects themselves to the held-out ones (the floor a perfect prior would sit near);
and the 1st percentile of the drawn LV ESV of the smallest-hearted group (HCM) against its real minimum.

Measured 2026-12-02 (`python benchmarks/prior_bench.py`, 12 s), W1 mean over 20 splits:
                                  lv_edv    lv_esv     lv_ef    rv_edv  myo_mass
  training subjects (floor)         9.08      7.57      2.29      9.11     10.09
  prior, normal in mL              10.13     10.20      3.91     10.18     14.56
  prior, log-normal volumes         9.19      8.48      2.71     11.04     10.72
  HCM LV ESV, 1st percentile of the draws: linear 4.0 mL, log-normal 21.7 mL (the cohort's smallest: 19.5 mL)
The log-normal prior closes most of the gap to the floor for LV EDV, ESV, EF and the mass; RV EDV moves the other
way by about 1 mL. `--n 2000 --splits 5`: floor 2.48 / 1.92 / 0.48 / 1.90 / 2.16, linear 8.19 / 8.66 / 3.75 / 5.63 /
10.05, log-normal 5.96 / 5.82 / 1.63 / 4.65 / 4.31. Under DP noise the order flips (`--noise-multiplier 2.38`, the
demo's statistics noise at epsilon 8; one throwaway key per run): at n 100 linear 121.85 / 48.12 / 20.23 / 146.26 /
113.26 against log-normal 163.67 / 63.67 / 22.02 / 194.03 / 148.03; at n 2000 (5 splits) linear 12.15 / 12.12 / 8.72
/ 18.38 / 12.13 against 30.35 / 15.38 / 7.03 / 36.86 / 27.49. So training releases the log-normal prior without DP
and the linear one under DP (models/conditioning.py: prior_space). What a generator makes of the draws is measured on releases: benchmarks/results/log_prior.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import wasserstein_distance

from privacy import PrivacyLedger
from synthshare.data.measures import MYOCARDIAL_DENSITY_G_PER_ML
from synthshare.data.phantom import draw_phantom_params, phantom_groups
from synthshare.models.conditioning import PRIOR_SPACE
from synthshare.sample.conditions import draw_conditions
from synthshare.train.conditions_stage import release_conditions

FIELDS = ("lv_edv", "lv_esv", "lv_ef", "rv_edv", "myo_mass")
SPACES = ("linear", PRIOR_SPACE)


def phantom_conditions(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)  # the draws write_phantom_cohort makes
    rows = []
    for group in phantom_groups(n):
        p = draw_phantom_params(rng=rng, group=group)
        rows.append({"group": group, "lv_edv": p.lv_edv, "lv_esv": p.lv_esv, "lv_ef": p.lv_ef, "rv_edv": p.rv_edv,
                     "myo_mass": p.myo_volume * MYOCARDIAL_DENSITY_G_PER_ML, "slices": float(p.slices)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--noise-multiplier", type=float, default=None,
                        help="DP statistics noise (the demo at --epsilon 8 plans 2.38: `synthshare privacy plan`)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.noise_multiplier is not None:  # DP noise is keyed by the steward's secret: use a throwaway one
        os.environ["SYNTHSHARE_HOME"] = tempfile.mkdtemp(prefix="prior_bench_key_")

    rows = phantom_conditions(args.n, args.seed)
    groups = np.array([r["group"] for r in rows])
    values = {f: np.array([r[f] for r in rows]) for f in FIELDS}
    w1: dict[str, list[list[float]]] = {name: [] for name in ("real", *SPACES)}
    low: dict[str, list[float]] = {space: [] for space in SPACES}
    for split in range(args.splits):
        rng = np.random.default_rng(1000 + split)
        held = np.zeros(len(rows), dtype=bool)
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            held[rng.choice(members, int(round(0.3 * members.size)), replace=False)] = True
        train = [r for r, h in zip(rows, held) if not h]
        w1["real"].append([wasserstein_distance(values[f][~held], values[f][held]) for f in FIELDS])
        for space in SPACES:
            prior, _ = release_conditions(conditions=train, noise_multiplier=args.noise_multiplier,
                                          ledger=PrivacyLedger.disabled() if args.noise_multiplier is None else
                                          PrivacyLedger(delta=1e-3), seed=split, space=space)
            draws = draw_conditions(prior=prior, n=args.draws, rng=rng)
            w1[space].append([wasserstein_distance([d[f] for d in draws], values[f][held]) for f in FIELDS])
            low[space].append(float(np.percentile([d["lv_esv"] for d in draws if d["group"] == "HCM"], 1)))
    summary = {name: dict(zip(FIELDS, np.mean(v, axis=0).round(2).tolist())) for name, v in w1.items()}
    hcm_min = float(values["lv_esv"][groups == "HCM"].min())
    noise = "exact" if args.noise_multiplier is None else f"DP noise multiplier {args.noise_multiplier:g}"
    print(f"W1 to the held-out subjects, mean over {args.splits} splits (n {args.n}, seed {args.seed}, {args.draws} draws, "
          f"{noise}):")
    print("  " + "".ljust(28) + "".join(f.rjust(10) for f in FIELDS))
    for name, label in (("real", "training subjects (floor)"), ("linear", "prior, normal in mL"),
                        (PRIOR_SPACE, "prior, log-normal volumes")):
        print("  " + label.ljust(28) + "".join(f"{summary[name][f]:10.2f}" for f in FIELDS))
    print(f"  HCM LV ESV, 1st percentile of the draws: linear {np.mean(low['linear']):.1f} mL, "
          f"log-normal {np.mean(low[PRIOR_SPACE]):.1f} mL (the cohort's smallest: {hcm_min:.1f} mL)")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "w1": summary,
                                         "hcm_esv_p1": {s: float(np.mean(v)) for s, v in low.items()},
                                         "hcm_esv_min": hcm_min}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
