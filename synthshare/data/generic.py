"""Generic layout reader: a folder of 4D NIfTI + optional per-frame labels + a clinical CSV.

ROOT/clinical.csv                      column id (required); optional patient_id, group, height,
                                       weight, vendor, ed, es (0-based frame indices)
ROOT/images/<id>.nii[.gz]              4D cine (X, Y, Z, T)
ROOT/labels/<id>_frameNN.nii[.gz]      optional labels of frame NN (0-based), internal label map
Without ed/es: ED = 0 and ES = the labelled frame with the smallest LV volume.

One row = one scan = one PATIENT. Each row becomes one subject, and the subject is the privacy unit
(DP-SGD samples subjects) and the unit of the train/holdout split; two scans of one patient would
count that patient twice in the privacy guarantee and could put them in both train and holdout.
So a cohort with repeat scans is refused when a patient_id (or patient) column shows them: keep one
scan per patient. Without such a column the steward vouches that the ids are distinct patients.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from synthshare.data.nifti import (
    ProblemCollector,
    expected_name,
    find_nifti,
    nifti_stem,
)
from synthshare.data.reader_base import IndexedReader
from synthshare.data.subject import Subject
from synthshare.data.validate import (
    check_frame_index,
    parse_float,
    parse_int,
    read_csv_rows,
)
from synthshare.errors import DataError
from synthshare.labels import LV

log = logging.getLogger(__name__)

CLINICAL_CSV = "clinical.csv"
PATIENT_COLUMNS: tuple[str, ...] = ("patient_id", "patient")
_FIX = "the generic layout needs clinical.csv with an id column next to images/"


def is_generic_root(root: Path) -> bool:
    return (root / CLINICAL_CSV).is_file() and (root / "images").is_dir()


class GenericReader(IndexedReader[dict[str, str]]):
    """Reads a generic NIfTI + CSV cohort."""

    format = "generic"

    def _build_index(self) -> dict[str, dict[str, str]]:
        path = self.root / CLINICAL_CSV
        rows: dict[str, dict[str, str]] = {}
        for row in read_csv_rows(path, required=("id",), fix=_FIX):
            subject_id = row.get("id", "")
            if not subject_id:
                raise DataError(f"{path}: a row has no id ({row}); fill it in or delete the row")
            if subject_id in rows:
                raise DataError(f"{path}: duplicate subject ID {subject_id}; keep one row per subject")
            rows[subject_id] = row
        if not rows:
            raise DataError(f"{path}: empty cohort, no subject rows; {_FIX}")
        _check_one_scan_per_patient(path, rows)
        return rows

    def load(self, subject_id: str) -> Subject:
        row = self._entry(subject_id, where=self.root / CLINICAL_CSV)
        csv_path = self.root / CLINICAL_CSV
        source = f"subject {subject_id}: {csv_path}"
        clinical = {
            "group": row.get("group") or None,
            "height": parse_float(row.get("height", ""), column="height", source=source),
            "weight": parse_float(row.get("weight", ""), column="weight", source=source),
            "vendor": row.get("vendor") or None,
        }
        ed = parse_int(row.get("ed", ""), column="ed", source=source)
        es = parse_int(row.get("es", ""), column="es", source=source)
        problems = ProblemCollector(subject_id)
        images = self.root / "images"
        image = problems.read_volume(find_nifti(images, subject_id) or Path(expected_name(images, subject_id)), ndim=4)
        problems.raise_if_any()
        frames = int(image.data.shape[3])
        for name, value in (("ed", ed), ("es", es)):
            if value is None:
                continue
            problem = check_frame_index(name=name, value=value, frames=frames, one_based=False, source=str(csv_path))
            if problem:
                problems.add(problem)
        labels = problems.read_frame_labels(_label_files(self.root / "labels", subject_id), convention="internal", image=image, one_based=False)
        problems.raise_if_any()
        ed = 0 if ed is None else ed
        if es is None:
            es = _smallest_lv_frame(labels, default=ed)
            log.debug("subject %s: no es in %s, ES = frame %d (smallest LV volume)", subject_id, csv_path, es)
        return Subject(
            id=subject_id,
            image=image.data,
            spacing=image.spacing,
            affine=image.affine,
            labels=labels,
            ed=ed,
            es=es,
            clinical=clinical,
            source=str(image.path),
        )


def _check_one_scan_per_patient(path: Path, rows: dict[str, dict[str, str]]) -> None:
    """DataError listing every patient with more than one scan (row), if the CSV has a patient column."""
    column = next((c for c in PATIENT_COLUMNS if any(c in row for row in rows.values())), None)
    if column is None:
        return
    scans: dict[str, list[str]] = {}
    unnamed = []
    for subject_id, row in rows.items():
        patient = row.get(column, "")
        if patient:
            scans.setdefault(patient, []).append(subject_id)
        else:
            unnamed.append(subject_id)
    repeats = {patient: ids for patient, ids in scans.items() if len(ids) > 1}
    problems = [f"{column} {patient}: scans {', '.join(ids)}" for patient, ids in sorted(repeats.items())]
    if unnamed:
        problems.append(f"empty {column} in the row(s) of {', '.join(unnamed)}")
    if problems:
        raise DataError(
            f"{path}: one scan per patient is needed (the patient is the privacy and split unit); keep one scan per "
            f"{column} and fill every {column}:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _label_files(folder: Path, subject_id: str) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(subject_id)}_frame(\d+)$")
    found: dict[int, Path] = {}
    for stem in sorted({s for p in folder.iterdir() if (s := nifti_stem(p))}):
        match = pattern.match(stem)
        path = find_nifti(folder, stem)
        if match and path is not None:
            found.setdefault(int(match.group(1)), path)
    return sorted(found.items())


def _smallest_lv_frame(labels: dict[int, np.ndarray], *, default: int) -> int:
    """Labelled frame with the fewest LV voxels (ties: the earliest); default if none is labelled."""
    if not labels:
        return default
    return min(sorted(labels), key=lambda frame: int(np.count_nonzero(labels[frame] == LV)))
