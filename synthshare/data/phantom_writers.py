"""Write a phantom cohort in the REAL public layouts, so the readers ingest it like a real cohort.

ACDC:   OUT/training/patientNNN/{Info.cfg, patientNNN_4d.nii.gz, patientNNN_frameXX[_gt].nii.gz}
        (ED and ES frames only, 1-based XX, labels 1 RV 2 MYO 3 LV)
M&Ms-2: OUT/dataset_information.csv (+ empty padding rows, as in the real file)
        OUT/dataset/NNN/NNN_SA_{CINE,ED,ES}[_gt].nii.gz (labels 1 LV 2 MYO 3 RV)
Both:   OUT/phantom_truth.csv, requested and measured (from the rendered labels) volumes per subject
        and the drawn volume-curve shape (`CurveShape` fields, so the true curve can be replayed);
        `ed`, `es` there are 0-based frame indices (as `Subject.ed`), unlike Info.cfg's 1-based ones.
The DISEASE column of M&Ms-2 holds the phantom's own group codes (NOR, MINF, DCM, HCM, RV).
Images are stored as int16 like the public files. The cohort is built in a temporary folder beside
OUT and renamed into place, so OUT is either complete or absent. Subjects are rendered and written
in ``workers`` processes side by side (synthshare.parallel): every subject's parameters, noise seed
included, are drawn here first, so the bytes do not depend on the number of workers (tested).
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np

from synthshare.data.measures import measure
from synthshare.data.phantom import (
    CURVE_SHAPE_RANGES,
    VENDORS,
    PhantomParams,
    draw_phantom_params,
    phantom_groups,
    render_phantom_subject,
)
from synthshare.errors import BadInputError
from synthshare.labels import to_convention
from synthshare.parallel import resolve_workers, run_pieces

log = logging.getLogger(__name__)

TRUTH_CSV = "phantom_truth.csv"
TRUTH_COLUMNS: tuple[str, ...] = (
    "id", "group", "lv_edv", "lv_esv", "lv_ef", "rv_edv", "rv_esv", "rv_ef", "myo_mass", "frames", "slices", "ed", "es",
    "requested_lv_edv", "requested_lv_esv", "requested_lv_ef", "requested_rv_edv", "requested_rv_esv", "requested_rv_ef",
    "requested_myo_mass", *CURVE_SHAPE_RANGES,
)  # fmt: skip
_INT16_MAX = 32767


def _affine(spacing: tuple[float, float, float]) -> np.ndarray:
    affine = np.diag([spacing[0], spacing[1], spacing[2], 1.0])
    affine[:3, 3] = (-100.0, -100.0, -50.0)
    return affine


def _save(path: Path, data: np.ndarray, spacing: tuple[float, float, float], frame_ms: float | None = None) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(data, _affine(spacing))
    img.header.set_xyzt_units("mm", "msec")
    if frame_ms is not None:
        img.header.set_zooms((*spacing, frame_ms))
    img.header["descrip"] = b"synthshare phantom"
    nib.save(img, str(path))


def _as_int16(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, _INT16_MAX).astype(np.int16)


def _truth_row(subject_id: str, params: PhantomParams, labels: np.ndarray, spacing: tuple[float, float, float]) -> dict:
    m = measure(ed_labels=labels[..., params.ed], es_labels=labels[..., params.es], spacing=spacing)
    return {
        "id": subject_id,
        "group": params.group,
        "lv_edv": m.lv_edv, "lv_esv": m.lv_esv, "lv_ef": m.lv_ef,
        "rv_edv": m.rv_edv, "rv_esv": m.rv_esv, "rv_ef": m.rv_ef,
        "myo_mass": m.myo_mass,
        "frames": params.frames, "slices": params.slices, "ed": params.ed, "es": params.es,
        "requested_lv_edv": params.lv_edv, "requested_lv_esv": params.lv_esv, "requested_lv_ef": params.lv_ef,
        "requested_rv_edv": params.rv_edv, "requested_rv_esv": params.rv_esv, "requested_rv_ef": params.rv_ef,
        "requested_myo_mass": params.myo_volume * 1.05,
        **{name: getattr(params.curve, name) for name in CURVE_SHAPE_RANGES},
    }  # fmt: skip


def _write_acdc_subject(root: Path, index: int, params: PhantomParams, image: np.ndarray, labels: np.ndarray) -> str:
    subject_id = f"patient{index:03d}"
    folder = root / "training" / subject_id
    folder.mkdir(parents=True, exist_ok=True)  # inside the build folder: a piece re-run after a dead worker overwrites
    info = (
        f"ED: {params.ed + 1}\nES: {params.es + 1}\nGroup: {params.group}\nHeight: {params.height}\n"
        f"NbFrame: {params.frames}\nWeight: {params.weight}\n"
    )
    (folder / "Info.cfg").write_text(info)
    stored = _as_int16(image)
    _save(folder / f"{subject_id}_4d.nii.gz", stored, params.spacing, frame_ms=900.0 / params.frames)
    for frame in sorted({params.ed, params.es}):
        stem = f"{subject_id}_frame{frame + 1:02d}"
        _save(folder / f"{stem}.nii.gz", stored[..., frame], params.spacing)
        _save(folder / f"{stem}_gt.nii.gz", to_convention(labels[..., frame], "acdc"), params.spacing)
    return subject_id


def _write_mnms2_subject(root: Path, index: int, params: PhantomParams, image: np.ndarray, labels: np.ndarray) -> str:
    subject_id = f"{index:03d}"
    folder = root / "dataset" / subject_id
    folder.mkdir(parents=True, exist_ok=True)  # inside the build folder: a piece re-run after a dead worker overwrites
    stored = _as_int16(image)
    _save(folder / f"{subject_id}_SA_CINE.nii.gz", stored, params.spacing, frame_ms=900.0 / params.frames)
    for name, frame in (("ED", params.ed), ("ES", params.es)):
        _save(folder / f"{subject_id}_SA_{name}.nii.gz", stored[..., frame], params.spacing)
        _save(folder / f"{subject_id}_SA_{name}_gt.nii.gz", to_convention(labels[..., frame], "mnms"), params.spacing)
    return subject_id


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict], padding: int = 0) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
        for _ in range(padding):
            writer.writerow({})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInputError(f"{out}: already exists and is not empty; choose a new folder or remove it first")
    if not out.parent.is_dir():
        raise BadInputError(f"{out.parent}: the parent folder does not exist; create it first")


def _render_and_write(shared: tuple[Path, str], piece: tuple[int, PhantomParams]) -> tuple[dict, dict | None]:
    """Render subject ``index`` and write it under the build folder; (truth row, M&Ms-2 information row)."""
    (root, layout), (index, p) = shared, piece
    image, labels, spacing = render_phantom_subject(p)
    if layout == "acdc":
        return _truth_row(_write_acdc_subject(root, index, p, image, labels), p, labels, spacing), None
    subject_id = _write_mnms2_subject(root, index, p, image, labels)
    vendor, scanner, field, _, _ = VENDORS[p.vendor]
    info = {"SUBJECT_CODE": index, "DISEASE": p.group, "VENDOR": vendor, "SCANNER": scanner, "FIELD": str(field)}
    return _truth_row(subject_id, p, labels, spacing), info


def write_phantom_cohort(
    *, out: Path, n: int, seed: int, layout: Literal["acdc", "mnms2"] = "acdc", size: tuple[int, int] = (96, 96),
    workers: int = 0,
) -> Path:
    """Render n phantom subjects (round-robin over the five groups) into OUT; returns OUT.

    ``workers``: processes rendering side by side; 0 is one per available CPU core."""
    out = Path(out)
    if n < 1:
        raise BadInputError(f"phantom: n = {n}; ask for at least one subject")
    if layout not in ("acdc", "mnms2"):
        raise BadInputError(f"phantom: layout {layout!r} is unknown; use acdc or mnms2")
    _check_out(out)
    rng = np.random.default_rng(seed)
    params = [draw_phantom_params(rng=rng, group=group, size=size) for group in phantom_groups(n)]
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the cohort gets ordinary permissions
        truth, info = [], []
        pieces = list(enumerate(params, start=1))
        for index, (row, info_row) in enumerate(
            run_pieces(_render_and_write, pieces, workers=resolve_workers(workers, n), shared=(tmp, layout)), start=1
        ):
            truth.append(row)
            if info_row is not None:
                info.append(info_row)
            log.debug("phantom subject %d/%d written", index, n)
        if layout == "mnms2":
            _write_csv(tmp / "dataset_information.csv", ("SUBJECT_CODE", "DISEASE", "VENDOR", "SCANNER", "FIELD"), info, padding=3)
        _write_csv(tmp / TRUTH_CSV, TRUTH_COLUMNS, truth)
        if out.exists():
            out.rmdir()  # empty (checked above): os.replace needs the name free or an empty folder
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
