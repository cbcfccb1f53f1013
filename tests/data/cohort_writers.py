"""Tiny random NIfTI cohorts in every layout, with label volumes of known voxel counts.

Every subject has the same label content at ED and ES, so the measured volumes are exact:
voxel volume 1.5 x 1.5 x 8 mm = 0.018 mL; ED: LV 40, MYO 20, RV 30 voxels; ES: LV 20, MYO 20, RV 12.
Tests reach the writers through the `cohorts` fixture (re-exported by conftest.py); tests/cli loads this file by path.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from synthshare.labels import LV, MYO, RV, to_convention

SHAPE = (8, 8, 2)
SPACING = (1.5, 1.5, 8.0)
FRAMES = 4
ED_COUNTS = {LV: 40, MYO: 20, RV: 30}
ES_COUNTS = {LV: 20, MYO: 20, RV: 12}
EXPECTED = {
    "lv_edv": 0.72,
    "lv_esv": 0.36,
    "lv_ef": 50.0,
    "rv_edv": 0.54,
    "rv_esv": 0.216,
    "rv_ef": 60.0,
    "myo_mass": 0.378,
}
# Fewest subjects that pass the cohort-size check with the DataConfig defaults:
# round(19 x 0.25) = 5 holdout + 14 train (18 gives round(4.5) = 4 holdout).
MIN_COHORT = 19


def label_volume(shape: tuple[int, int, int], counts: dict[int, int]) -> np.ndarray:
    """Internal-map labels with exactly counts[label] voxels of each label (filled in raster order)."""
    flat = np.zeros(int(np.prod(shape)), dtype=np.uint8)
    start = 0
    for label in (LV, MYO, RV):
        flat[start : start + counts[label]] = label
        start += counts[label]
    return flat.reshape(shape)


def write_nifti(path: Path, data: np.ndarray, spacing: tuple[float, float, float]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data), np.diag([*spacing, 1.0])), str(path))
    return path


def cine(shape: tuple[int, int, int], frames: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(100.0, 20.0, size=(*shape, frames)).astype(np.float32)


def frame_labels(frame: int, *, ed: int, es: int, shape: tuple[int, int, int]) -> np.ndarray:
    return label_volume(shape, ED_COUNTS if frame == ed else ES_COUNTS)


def write_acdc_subject(
    root: Path,
    pid: str,
    *,
    ed: int = 1,
    es: int = 3,
    frames: int = FRAMES,
    shape: tuple[int, int, int] = SHAPE,
    spacing: tuple[float, float, float] = SPACING,
    labels_convention: str = "acdc",
    ext: str = ".nii.gz",
    split: str = "training",
    group: str = "DCM",
    seed: int = 0,
) -> Path:
    """ACDC subject folder; ed/es are 1-based as in Info.cfg."""
    folder = root / split / pid if split else root / pid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Info.cfg").write_text(f"ED: {ed}\nES: {es}\nGroup: {group}\nHeight: 184.0\nNbFrame: {frames}\nWeight: 95.0\n")
    image = cine(shape, frames, seed)
    write_nifti(folder / f"{pid}_4d{ext}", image, spacing)
    for frame in (ed, es):
        labels = to_convention(frame_labels(frame, ed=ed, es=es, shape=shape), labels_convention)
        write_nifti(folder / f"{pid}_frame{frame:02d}{ext}", image[..., frame - 1], spacing)
        write_nifti(folder / f"{pid}_frame{frame:02d}_gt{ext}", labels, spacing)
    return folder


def write_acdc_cohort(root: Path, n: int = MIN_COHORT, **kwargs) -> Path:
    for i in range(n):
        write_acdc_subject(root, f"patient{i + 1:03d}", seed=i, **kwargs)
    return root


def write_mnms2_subject(
    root: Path,
    subject_id: str,
    *,
    ed: int = 0,
    es: int = 2,
    frames: int = FRAMES,
    shape: tuple[int, int, int] = SHAPE,
    spacing: tuple[float, float, float] = SPACING,
    ext: str = ".nii.gz",
    seed: int = 0,
) -> Path:
    """M&Ms-2 subject folder; ed/es are 0-based cine frames (the files do not state them)."""
    folder = root / "dataset" / subject_id
    image = cine(shape, frames, seed)
    write_nifti(folder / f"{subject_id}_SA_CINE{ext}", image, spacing)
    for name, frame in (("ED", ed), ("ES", es)):
        write_nifti(folder / f"{subject_id}_SA_{name}{ext}", image[..., frame], spacing)
        labels = to_convention(frame_labels(frame, ed=ed, es=es, shape=shape), "mnms")
        write_nifti(folder / f"{subject_id}_SA_{name}_gt{ext}", labels, spacing)
    return folder


def write_mnms2_cohort(root: Path, n: int = MIN_COHORT, *, padding_rows: int = 3, **kwargs) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "dataset_information.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SUBJECT_CODE", "DISEASE", "VENDOR", "SCANNER", "FIELD"])
        for i in range(n):
            writer.writerow([i + 1, "LV" if i % 2 else "NOR", "SIEMENS", "Avanto", "1.5"])
        for _ in range(padding_rows):
            writer.writerow(["", "", "", "", ""])
    for i in range(n):
        write_mnms2_subject(root, f"{i + 1:03d}", seed=i, **kwargs)
    return root


def write_generic_cohort(
    root: Path,
    n: int = MIN_COHORT,
    *,
    ed: int | None = 0,
    es: int | None = 2,
    label_es: int = 2,
    ext: str = ".nii.gz",
    spacing: tuple[float, float, float] = SPACING,
) -> Path:
    """Generic cohort; ed/es None leaves the CSV fields empty. Labels at frame 0 (ED) and label_es."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        subject_id = f"case{i:02d}"
        image = cine(SHAPE, FRAMES, i)
        write_nifti(root / "images" / f"{subject_id}{ext}", image, spacing)
        for frame in (0, label_es):
            write_nifti(root / "labels" / f"{subject_id}_frame{frame:02d}{ext}", frame_labels(frame, ed=0, es=label_es, shape=SHAPE), spacing)
        rows.append([subject_id, "HCM", "180", "80", "GE", "" if ed is None else ed, "" if es is None else es])
    with (root / "clinical.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "group", "height", "weight", "vendor", "ed", "es"])
        writer.writerows(rows)
    return root


def write_synthetic_cohort(root: Path, n: int = MIN_COHORT, *, es: int = 2) -> Path:
    """sample/release layout: 4D cine + 4D dseg (every frame labelled) + sidecar with es_frame."""
    for i in range(n):
        subject_id = f"sub-syn{i + 1:04d}"
        anat = root / subject_id / "anat"
        write_nifti(anat / f"{subject_id}_cine.nii.gz", cine(SHAPE, FRAMES, i), SPACING)
        dseg = np.stack([frame_labels(t, ed=0, es=es, shape=SHAPE) for t in range(FRAMES)], axis=-1)
        write_nifti(anat / f"{subject_id}_dseg.nii.gz", dseg, SPACING)
        (anat / f"{subject_id}_cine.json").write_text(json.dumps({"es_frame": es, "group": "NOR"}))
    return root


@pytest.fixture
def cohorts():
    """This module: its writers and constants (`from conftest import` is ambiguous across folders)."""
    return sys.modules[__name__]


@pytest.fixture
def acdc_root(tmp_path: Path) -> Path:
    return write_acdc_cohort(tmp_path / "acdc")


@pytest.fixture
def mnms2_root(tmp_path: Path) -> Path:
    return write_mnms2_cohort(tmp_path / "mnms2")


@pytest.fixture
def generic_root(tmp_path: Path) -> Path:
    return write_generic_cohort(tmp_path / "generic")


@pytest.fixture
def synthetic_root(tmp_path: Path) -> Path:
    return write_synthetic_cohort(tmp_path / "synthetic")
