"""Time and score the release reports at demo sizes on fresh phantom subjects.

Real subjects are phantom hearts labelled at ED and ES only (as real cohorts are); the "synthetic"
cohort is a second, independent set of phantom hearts labelled on every frame: an ideal generator.
The figure to watch is utility_s (the utility report must fit well inside the 10-minute release
budget on 2 CPU cores) and the Dice of the three regimes.

    python benchmarks/utility_bench.py [--config demo] [--real-train 8] [--synthetic 20] [--test 10] [--seed 0]
                                       [--workers 1,0]

--workers: the utility report is run once per listed worker count (utility.workers; 0 = one per CPU
core) on the same subjects; utility_s_by_workers gives each time, speedup the first's time over each
other's, and identical whether every report equals the first (it must: each training runs on one
thread wherever it runs). The reported Dice are those of the first.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from synthshare.config import load_config
from synthshare.data.phantom import (
    draw_phantom_params,
    phantom_groups,
    render_phantom_subject,
)
from synthshare.data.prepared import PreparedSubject, SyntheticSubject
from synthshare.data.preprocess import prepare_subject
from synthshare.data.subject import Subject
from synthshare.parallel import resolve_workers
from synthshare.reports import (
    fidelity_report,
    render_report_html,
    utility_report,
    volume_curve_band,
)


def phantom_prepared(*, n: int, seed: int, all_frames: bool, data) -> list[PreparedSubject]:
    rng = np.random.default_rng(seed)
    out = []
    for i, group in enumerate(phantom_groups(n)):
        params = draw_phantom_params(rng=rng, group=group, size=(64, 64))
        image, labels, spacing = render_phantom_subject(params)
        frames = range(params.frames) if all_frames else (params.ed, params.es)
        subject = Subject(
            id=f"bench{seed}-{i}", image=image, spacing=spacing, affine=np.diag([*spacing, 1.0]),
            labels={t: labels[..., t] for t in frames}, ed=params.ed, es=params.es, clinical={"group": group},
        )
        out.append(prepare_subject(subject=subject, data=data))
    return out


def as_synthetic(subjects: list[PreparedSubject]) -> list[SyntheticSubject]:
    return [
        SyntheticSubject(
            key=f"syn{i + 1:04d}", image=s.image, labels=s.labels, spacing=s.spacing,
            requested={"group": s.group, "lv_edv": s.measures.lv_edv, "lv_esv": s.measures.lv_esv, "lv_ef": s.measures.lv_ef},
            measured=s.measures, seed=i, es_frame=s.es_frame,
        )
        for i, s in enumerate(subjects)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="demo")
    parser.add_argument("--real-train", type=int, default=8)
    parser.add_argument("--synthetic", type=int, default=20)
    parser.add_argument("--test", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", default="1,0", help="comma list of utility.workers values to time side by side")
    args = parser.parse_args()
    config = load_config(args.config)

    t0 = time.perf_counter()
    real_train = phantom_prepared(n=args.real_train, seed=args.seed + 1, all_frames=False, data=config.data)
    real_test = phantom_prepared(n=args.test, seed=args.seed + 2, all_frames=False, data=config.data)
    synthetic = as_synthetic(phantom_prepared(n=args.synthetic, seed=args.seed + 3, all_frames=True, data=config.data))
    t1 = time.perf_counter()
    by_workers: dict[str, float] = {}
    reports = []
    for workers in (int(w) for w in args.workers.split(",")):
        start = time.perf_counter()
        reports.append(utility_report(real_train=real_train, synthetic=synthetic, real_test=real_test,
                                      config=config.utility.model_copy(update={"workers": workers}), seed=args.seed,
                                      progress=False))
        by_workers[f"{workers} ({resolve_workers(workers, 10**6)} processes)" if workers == 0 else str(workers)] = (
            time.perf_counter() - start)
    utility = reports[0]
    first = next(iter(by_workers.values()))
    t2 = time.perf_counter()
    fidelity = fidelity_report(real=real_test, synthetic=synthetic, real_reference=real_train, seed=args.seed)
    t3 = time.perf_counter()
    privacy = {"dp": {"enabled": False}, "gate": {"passed": None}}
    html = render_report_html(fidelity=fidelity, utility=utility, privacy=privacy, synthetic=synthetic, real_curves=volume_curve_band(subjects=real_test))
    t4 = time.perf_counter()
    result = {
        "config": args.config,
        "shape_TSHW": list(real_test[0].image.shape),
        "n": {"real_train": len(real_train), "synthetic": len(synthetic), "test": len(real_test)},
        "utility_steps": config.utility.steps,
        "utility_protocol": utility["protocol"]["real+synthetic"],
        "seconds": {"phantoms": t1 - t0, "utility": first, "fidelity": t3 - t2, "html": t4 - t3},
        "utility_s_by_workers": by_workers,
        "speedup": {k: first / v for k, v in by_workers.items()},
        "identical": all(r == utility for r in reports),
        "dice_mean": {k: (v or {}).get("mean") for k, v in utility["dice"].items()},
        "hd95_mean_mm": {k: (v or {}).get("mean") for k, v in utility["hd95"].items()},
        "fidelity": {
            "frechet_ratio": fidelity["feature_distances"]["frechet"]["ratio"],
            "lv_ef_r": fidelity["controllability"]["lv_ef"]["pearson_r"],
            "synthetic_single_systole": fidelity["temporal"]["synthetic"]["single_systole_fraction"],
        },
        "html_bytes": len(html.encode()),
    }
    print(json.dumps(result, indent=2))  # a benchmark script: its stdout is its output


if __name__ == "__main__":
    main()
