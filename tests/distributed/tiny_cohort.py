"""Tiny prepared subjects built in memory: a disc LV whose radius sets the subject's volumes.

Shared by tests/models (through its conftest) and tests/distributed, whose spawned ranks import it
by this unique module name (they cannot import a conftest)."""

from __future__ import annotations

import hashlib

import numpy as np

from synthshare.data.measures import measure
from synthshare.data.prepared import PreparedSubject

SPACING = (3.0, 3.0, 10.0)


def make_subject(*, index: int, radius: float, frames: int = 4, slices: int = 4, size: int = 16) -> PreparedSubject:
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2.0
    dist = np.sqrt(yy**2 + xx**2)
    labels = np.zeros((frames, slices, size, size), dtype=np.uint8)
    for t in range(frames):
        r = radius * (1.0 - 0.3 * np.sin(np.pi * t / frames))
        plane = np.where(dist <= r, 1, np.where(dist <= r + 1.5, 2, 0)).astype(np.uint8)
        plane[(xx > r + 2.0) & (np.abs(yy) < r)] = 3
        labels[t, 1:-1] = plane
    image = (0.2 + 0.6 * (labels == 1) + 0.3 * (labels == 3) + 0.05 * rng.standard_normal(labels.shape)).astype(np.float32)
    es = int(np.argmin([(labels[t] == 1).sum() for t in range(frames)]))
    labelled = np.zeros(frames, dtype=bool)
    labelled[[0, es]] = True
    return PreparedSubject(
        key=hashlib.sha256(f"subject-{index}".encode()).hexdigest()[:16], image=image,
        labels=np.where(labelled[:, None, None, None], labels, 0).astype(np.uint8), labelled=labelled, spacing=SPACING,
        measures=measure(ed_labels=labels[0], es_labels=labels[es], spacing=SPACING),
        group=("NOR", "DCM", "HCM")[index % 3], es_frame=es,
    )


class MemoryCohort:
    """An in-memory cohort; by default 8 subjects with LV radii 2.5-5 voxels."""

    def __init__(self, subjects: list[PreparedSubject] | None = None) -> None:
        if subjects is None:
            subjects = [make_subject(index=i, radius=2.5 + 0.5 * (i % 6)) for i in range(8)]
        self.by_key = {s.key: s for s in subjects}
        self.keys = [s.key for s in subjects]

    def load(self, key: str) -> PreparedSubject:
        return self.by_key[key]
