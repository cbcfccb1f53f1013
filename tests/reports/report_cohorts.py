"""Tiny phantom-like cohorts for the report tests: a beating LV disc, a myocardial ring, an RV blob."""

from __future__ import annotations

import numpy as np

from synthshare.data.measures import measure
from synthshare.data.prepared import PreparedSubject, SyntheticSubject

SPACING = (3.0, 3.0, 10.0)


def blob_cine(
    *, rng: np.random.Generator, frames: int = 4, slices: int = 2, size: int = 16, noise: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """(image, labels), both (T, S, H, W): LV radius shrinks to ES near 35-50% of the cycle and recovers."""
    r_ed = rng.uniform(3.5, 5.0)
    ef = rng.uniform(0.25, 0.6)
    cy, cx = size / 2 + rng.uniform(-1, 1), size / 2 + rng.uniform(-1, 1)
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    image = np.zeros((frames, slices, size, size), np.float32)
    labels = np.zeros((frames, slices, size, size), np.uint8)
    for t in range(frames):
        squeeze = np.sin(np.pi * t / frames) ** 2
        r_lv = r_ed * np.sqrt(1.0 - ef * squeeze)
        for z in range(slices):
            taper = 1.0 - 0.25 * z / max(slices - 1, 1)
            d = np.hypot(yy - cy, xx - cx)
            lab = np.zeros((size, size), np.uint8)
            lab[(d > r_lv * taper) & (d <= r_lv * taper + 1.5)] = 2
            lab[d <= r_lv * taper] = 1
            lab[(np.hypot(yy - cy, xx - (cx - r_ed - 2.5)) <= 2.5 * taper) & (lab == 0)] = 3
            labels[t, z] = lab
            img = np.choose(lab, [0.1, 0.9, 0.35, 0.75]).astype(np.float32)
            image[t, z] = img + rng.normal(0, noise, img.shape).astype(np.float32)
    return image, labels


def make_prepared(
    n: int, *, seed: int, all_labelled: bool = False, frames: int = 4, slices: int = 2, size: int = 16, noise: float = 0.03
) -> list[PreparedSubject]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        image, labels = blob_cine(rng=rng, frames=frames, slices=slices, size=size, noise=noise)
        es = int(np.argmin((labels == 1).sum(axis=(1, 2, 3))))
        labelled = np.ones(frames, bool) if all_labelled else np.isin(np.arange(frames), [0, es])
        labels = labels * labelled[:, None, None, None].astype(np.uint8)
        out.append(
            PreparedSubject(
                key=f"r{seed}-{i}",
                image=image,
                labels=labels,
                labelled=labelled,
                spacing=SPACING,
                measures=measure(ed_labels=labels[0], es_labels=labels[es], spacing=SPACING),
                group="NOR",
                es_frame=es,
            )
        )
    return out


def make_synthetic(n: int, *, seed: int, frames: int = 4, slices: int = 2, size: int = 16) -> list[SyntheticSubject]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        image, labels = blob_cine(rng=rng, frames=frames, slices=slices, size=size)
        es = int(np.argmin((labels == 1).sum(axis=(1, 2, 3))))
        m = measure(ed_labels=labels[0], es_labels=labels[es], spacing=SPACING)
        out.append(
            SyntheticSubject(
                key=f"syn{i + 1:04d}",
                image=image,
                labels=labels,
                spacing=SPACING,
                requested={"group": "NOR", "lv_edv": m.lv_edv, "lv_esv": m.lv_esv, "lv_ef": m.lv_ef},
                measured=m,
                seed=seed + i,
                es_frame=es,
            )
        )
    return out
