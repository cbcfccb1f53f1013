"""Preparing a cohort into the cache: one process against worker processes, side by side in one run.

    python benchmarks/prepare_bench.py [--data COHORT] [--phantom-n 100] [--config demo] [--workers 0] [--reps 1]

Prepares every subject of COHORT (default: a phantom cohort of --phantom-n subjects written to a temporary
folder, as `synthshare release` does) into fresh cache folders, alternately with one process (workers=1,
what every release did before 2026-12-03) and with --workers processes (0: one per core, the release's
setting), and prints the wall seconds of each, their ratio and whether the two caches hold the same entries.
Each repetition starts from an empty cache; the forkserver is started (and its imports made) before timing.

Measured 2026-12-03, 2-core Intel Xeon with AMX, demo config, on the 100-subject phantom of a release's work folder
(`python benchmarks/prepare_bench.py --reps 2 --data W/phantom-n100-seed0-size96`): one process 20.7 s (28.1 s on
the first repetition), 2 workers 11.9 s (12.0 s), 1.75x; the same keys in the same order.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _warm(shared: None, item: int) -> int:
    return item


def main() -> None:
    from synthshare.config import load_config
    from synthshare.data.cache import prepare_cohort
    from synthshare.data.cohort import open_cohort
    from synthshare.parallel import available_cpus, run_pieces

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--phantom-n", type=int, default=100)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    data = load_config(args.config).data
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            from synthshare.data.phantom_writers import write_phantom_cohort

            root = write_phantom_cohort(out=Path(tmp) / "phantom", n=args.phantom_n, seed=0)
        list(run_pieces(_warm, [1, 2], workers=2))  # the fork server is up and has made its imports
        times: dict[int, list[float]] = {1: [], args.workers: []}
        keys: dict[int, list[str]] = {}
        for rep in range(args.reps):
            for workers in (1, args.workers) if rep % 2 == 0 else (args.workers, 1):
                start = time.perf_counter()
                cohort = prepare_cohort(reader=open_cohort(root), data=data, cache_dir=Path(tmp) / f"cache-{workers}-{rep}",
                                        workers=workers)
                times[workers].append(time.perf_counter() - start)
                keys[workers] = cohort.keys
        one, many = min(times[1]), min(times[args.workers])
        print(f"cohort {root}: {len(keys[1])} subjects, config {args.config}, {available_cpus()} cores")
        print(f"one process: {one:.1f} s   workers={args.workers}: {many:.1f} s   ratio {one / many:.2f}x   "
              f"(best of {args.reps}; all: {[round(t, 1) for t in times[1]]} / {[round(t, 1) for t in times[args.workers]]})")
        print(f"same keys in the same order: {keys[1] == keys[args.workers]}")


if __name__ == "__main__":
    main()
