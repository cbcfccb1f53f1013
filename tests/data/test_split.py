"""Train / holdout split: seeded, stratified, order-independent, fails when too small."""

from __future__ import annotations

import hashlib

import pytest

from synthshare.data.split import split_subjects
from synthshare.errors import DataError

KEYS = [f"{i:064x}" for i in range(40)]
GROUPS = [("NOR", "MINF", "DCM", "HCM", "RV")[i % 5] for i in range(40)]


def _split(keys=KEYS, groups=GROUPS, seed=0, fraction=0.25, min_holdout=5, min_train=2):
    return split_subjects(keys=keys, groups=groups, holdout_fraction=fraction, seed=seed, min_holdout=min_holdout, min_train=min_train)


def test_partition_and_sizes() -> None:
    split = _split()
    assert len(split.holdout) == 10 and len(split.train) == 30
    assert set(split.train).isdisjoint(split.holdout) and set(split.train) | set(split.holdout) == set(KEYS)


def test_deterministic_order_independent_and_seed_dependent() -> None:
    a, b = _split(), _split(keys=KEYS[::-1], groups=GROUPS[::-1])
    assert a.holdout == b.holdout and a.train == b.train
    assert _split(seed=1).holdout != a.holdout  # negative control: another seed, another split


def test_stratified_by_group() -> None:
    split = _split()
    assert {g: c["holdout"] for g, c in split.group_counts.items()} == {g: 2 for g in ("DCM", "HCM", "MINF", "NOR", "RV")}
    group_of = dict(zip(KEYS, GROUPS))
    assert sorted(group_of[k] for k in split.holdout) == sorted(["NOR", "MINF", "DCM", "HCM", "RV"] * 2)


def test_uneven_groups_keep_the_total() -> None:
    groups = ["NOR"] * 7 + ["DCM"] * 2 + ["RV"] * 3
    split = _split(keys=KEYS[:12], groups=groups, fraction=0.5, min_holdout=2)
    assert len(split.holdout) == 6
    assert split.group_counts["NOR"]["holdout"] in (3, 4) and split.group_counts["DCM"]["holdout"] == 1


def test_to_dict_records_seed_and_hashes() -> None:
    split = _split(seed=3)
    record = split.to_dict()
    assert record["seed"] == 3 and record["n_holdout"] == 10
    assert record["holdout_sha256"] == hashlib.sha256("\n".join(sorted(split.holdout)).encode()).hexdigest()
    assert record["train_sha256"] != record["holdout_sha256"]
    assert not any(k in str(record) for k in KEYS)  # hashes, not the keys


def test_too_few_subjects_says_how_many_are_needed() -> None:
    with pytest.raises(DataError, match="provide at least 19 subjects"):
        _split(keys=KEYS[:18], groups=GROUPS[:18])  # round(18 * 0.25) = 4 holdout < 5
    _split(keys=KEYS[:19], groups=GROUPS[:19])  # exactly enough (round(4.75) = 5): no error


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(DataError, match="duplicate"):
        _split(keys=KEYS[:19] + KEYS[:1], groups=GROUPS[:20])
