"""Audit time for N synthetic vs M real subject embeddings (N = M = 100, 1,000, 10,000).

Times `audits.run_audits` (data-side attack with its bootstrap CI, memorisation: three chunked
nearest-neighbour searches) plus `evaluate_gate`, on random unit embeddings of the default size
(4 x 4 x 8 x 8 = 1024 dimensions), real subjects split 75% train / 25% holdout.
Goal: 10k x 10k under 60 s on a 2-core CPU.

    python benchmarks/audit_scaling.py [--sizes 100 1000 10000] [--dim 1024] [--n-bootstrap 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from audits import AuditParams, evaluate_gate, policy_from_bytes, run_audits

POLICY = b"name: bench\nmax_auc: 0.85\nmax_copy_fraction: 0.4\nwaive: ['*']\n"


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def bench(*, n: int, dim: int, n_bootstrap: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    real, synthetic = _unit(rng, n, dim), _unit(rng, n, dim)
    n_holdout = n // 4
    policy = policy_from_bytes(data=POLICY, source="benchmark")
    start = time.perf_counter()
    results = run_audits(
        params=AuditParams(n_bootstrap=n_bootstrap),
        train_embeddings=real[n_holdout:],
        holdout_embeddings=real[:n_holdout],
        synthetic_embeddings=synthetic,
    )
    evaluate_gate(policy=policy, results=results)
    elapsed = time.perf_counter() - start
    if results.errors:
        raise RuntimeError(f"audit errors: {results.errors}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'N synthetic':>12} {'M real':>8} {'dim':>6} {'seconds':>9}")
    for n in args.sizes:
        print(f"{n:>12} {n:>8} {args.dim:>6} {bench(n=n, dim=args.dim, n_bootstrap=args.n_bootstrap):>9.2f}", flush=True)


if __name__ == "__main__":
    main()
