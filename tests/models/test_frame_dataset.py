"""VAEFrameDataset keeps read subjects in memory up to its budget, and yields the same items either way."""

from __future__ import annotations

import torch
from tiny_cohort import MemoryCohort

from synthshare.train.datasets import VAEFrameDataset


def _dataset(cohort: MemoryCohort, memory_bytes: int) -> tuple[VAEFrameDataset, list[str]]:
    reads: list[str] = []

    def load(key: str):
        reads.append(key)
        return cohort.load(key)

    return VAEFrameDataset(keys=cohort.keys[:4], load=load, generator=torch.Generator().manual_seed(3),
                           memory_bytes=memory_bytes), reads


def _items(dataset: VAEFrameDataset) -> list[dict[str, torch.Tensor]]:
    return [dataset[i % len(dataset)] for i in range(12)]


def test_subjects_are_read_once_within_the_budget_and_every_time_without(cohort):
    kept, kept_reads = _dataset(cohort, memory_bytes=1 << 30)
    uncached, uncached_reads = _dataset(cohort, memory_bytes=0)
    a, b = _items(kept), _items(uncached)
    assert len(kept_reads) == 4 and sorted(kept_reads) == sorted(cohort.keys[:4])
    assert len(uncached_reads) == 12
    for x, y in zip(a, b):
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def test_the_budget_caps_what_is_kept(cohort):
    one = cohort.load(cohort.keys[0])
    size = one.image.nbytes + one.labels.nbytes + one.labelled.nbytes
    dataset, reads = _dataset(cohort, memory_bytes=2 * size)
    _items(dataset)
    assert len(dataset._kept) == 2 and dataset._kept_bytes <= 2 * size
    assert len(reads) == 2 + 2 * 3  # two kept after one read each; the other two read on each of their 3 visits
