"""Train / holdout split by subject: stratified by group, seeded, independent of input order.

The holdout never trains: the audits and the utility evaluation use it as non-members.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from synthshare.errors import DataError


@dataclass(frozen=True, kw_only=True)
class Split:
    train: list[str]
    holdout: list[str]
    seed: int
    holdout_fraction: float
    group_counts: dict[str, dict[str, int]]  # group -> {"train": n, "holdout": n}

    def to_dict(self) -> dict:
        """Provenance record: the seed, the counts and sha256 of the sorted key lists (not the keys)."""
        return {
            "seed": self.seed,
            "holdout_fraction": self.holdout_fraction,
            "n_train": len(self.train),
            "n_holdout": len(self.holdout),
            "train_sha256": _keys_sha256(self.train),
            "holdout_sha256": _keys_sha256(self.holdout),
            "groups": self.group_counts,
        }


def _keys_sha256(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def _holdout_size(n: int, fraction: float) -> int:
    return int(round(n * fraction))


def _needed(*, fraction: float, min_holdout: int, min_train: int) -> int:
    """Fewest subjects for which the split meets both minimums."""
    n = min_holdout + min_train
    while not (_holdout_size(n, fraction) >= min_holdout and n - _holdout_size(n, fraction) >= min_train):
        n += 1
    return n


def _allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Holdout count per group summing to `total`, proportional to group size (largest remainder)."""
    n = sum(sizes.values())
    exact = {g: total * size / n for g, size in sizes.items()}
    counts = {g: math.floor(v) for g, v in exact.items()}
    by_remainder = sorted(sizes, key=lambda g: (-(exact[g] - counts[g]), g))
    for group in by_remainder[: total - sum(counts.values())]:
        counts[group] += 1
    return counts


def split_subjects(
    *, keys: list[str], groups: list[str], holdout_fraction: float, seed: int, min_holdout: int, min_train: int
) -> Split:
    """Seeded, group-stratified split of subject keys; DataError if either side would be too small."""
    if len(keys) != len(groups):
        raise DataError(f"split: {len(keys)} keys but {len(groups)} groups; pass one group per subject")
    if len(set(keys)) != len(keys):
        raise DataError("split: duplicate subject keys; each subject may appear once (identical subjects leak holdout into train)")
    if not 0.0 < holdout_fraction < 1.0:
        raise DataError(f"split: holdout_fraction = {holdout_fraction}; choose a value strictly between 0 and 1")
    n = len(keys)
    total = _holdout_size(n, holdout_fraction)
    if total < min_holdout or n - total < min_train:
        needed = _needed(fraction=holdout_fraction, min_holdout=min_holdout, min_train=min_train)
        raise DataError(
            f"split: {n} subjects give {total} holdout and {n - total} training subjects, but at least {min_holdout} "
            f"holdout and {min_train} training subjects are needed; provide at least {needed} subjects "
            f"(holdout_fraction {holdout_fraction})"
        )
    by_group: dict[str, list[str]] = {}
    for key, group in sorted(zip(keys, groups)):
        by_group.setdefault(group, []).append(key)
    rng = np.random.default_rng(seed)
    counts = _allocate({g: len(k) for g, k in sorted(by_group.items())}, total)
    train: list[str] = []
    holdout: list[str] = []
    group_counts: dict[str, dict[str, int]] = {}
    for group in sorted(by_group):
        members = by_group[group]
        order = rng.permutation(len(members))
        chosen = [members[i] for i in order[: counts[group]]]
        rest = [members[i] for i in order[counts[group] :]]
        holdout += chosen
        train += rest
        group_counts[group] = {"train": len(rest), "holdout": len(chosen)}
    return Split(
        train=sorted(train), holdout=sorted(holdout), seed=seed, holdout_fraction=holdout_fraction, group_counts=group_counts
    )
