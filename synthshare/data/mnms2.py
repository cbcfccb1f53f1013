"""M&Ms-2 layout reader.

ROOT/dataset_information.csv   SUBJECT_CODE, DISEASE, VENDOR, SCANNER, FIELD (padded with empty rows)
ROOT/dataset/NNN/NNN_SA_CINE.nii[.gz]               4D cine
                 NNN_SA_{ED,ES}.nii[.gz]            the ED / ES frames as 3D volumes
                 NNN_SA_{ED,ES}_gt.nii[.gz]         their labels, M&Ms map 1 LV, 2 MYO, 3 RV
The dataset does not state ED/ES frame numbers: each is the CINE frame closest to the 3D volume
(smallest mean absolute difference).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthshare.data.nifti import ProblemCollector, Volume, expected_name, find_nifti
from synthshare.data.reader_base import IndexedReader
from synthshare.data.subject import Subject
from synthshare.data.validate import parse_float, read_csv_rows
from synthshare.errors import DataError

INFO_CSV = "dataset_information.csv"
_FIX = "M&Ms-2 needs dataset_information.csv with a SUBJECT_CODE column next to dataset/"


def is_mnms2_root(root: Path) -> bool:
    return (root / INFO_CSV).is_file()


def subject_folder_name(code: str) -> str:
    """SUBJECT_CODE as the dataset's folder name: numeric codes are zero-padded to 3 digits.

    Numeric means ASCII digits: str.isdigit() also accepts '²' or Arabic-Indic digits, which int()
    either refuses or reads as a number the folder name does not show.
    """
    return f"{int(code):03d}" if code.isascii() and code.isdigit() else code


def closest_frame(*, cine: np.ndarray, volume: np.ndarray) -> int:
    """Index of the CINE frame (last axis) with the smallest mean absolute difference to volume."""
    diffs = np.abs(cine - volume[..., None]).reshape(-1, cine.shape[-1]).mean(axis=0)
    return int(np.argmin(diffs))


class Mnms2Reader(IndexedReader[dict[str, str]]):
    """Reads an M&Ms-2-layout cohort."""

    format = "mnms2"

    def _build_index(self) -> dict[str, dict[str, str]]:
        path = self.root / INFO_CSV
        rows: dict[str, dict[str, str]] = {}
        for row in read_csv_rows(path, required=("SUBJECT_CODE",), fix=_FIX):
            code = row.get("SUBJECT_CODE", "")
            if not code:
                raise DataError(f"{path}: a row has no SUBJECT_CODE ({row}); fill it in or delete the row")
            subject_id = subject_folder_name(code)
            if subject_id in rows:
                raise DataError(f"{path}: duplicate subject ID {subject_id} (SUBJECT_CODE {code}); keep one row per subject")
            rows[subject_id] = row
        if not rows:
            raise DataError(f"{path}: empty cohort, no subject rows; {_FIX}")
        return rows

    def load(self, subject_id: str) -> Subject:
        row = self._entry(subject_id, where=self.root / INFO_CSV)
        folder = self.root / "dataset" / subject_id
        problems = ProblemCollector(subject_id)

        def path_of(suffix: str) -> Path:
            stem = f"{subject_id}_SA_{suffix}"
            return find_nifti(folder, stem) or Path(expected_name(folder, stem))

        cine = problems.read_volume(path_of("CINE"), ndim=4)
        phases: dict[str, Volume | None] = {name: problems.read_volume(path_of(name), ndim=3) for name in ("ED", "ES")}
        problems.raise_if_any()
        frame_of: dict[str, int] = {}
        labels: dict[int, np.ndarray] = {}
        for name, volume in phases.items():
            if volume is None:
                continue
            if volume.data.shape != cine.data.shape[:3]:
                problems.add(
                    f"{volume.path}: shape {volume.data.shape} differs from {cine.path.name} frames {cine.data.shape[:3]}; "
                    f"the {name} volume must be a frame of the cine"
                )
                continue
            frame_of[name] = closest_frame(cine=cine.data, volume=volume.data)
            gt = problems.read_labels(path_of(f"{name}_gt"), convention="mnms", image=cine)
            if gt is not None:
                labels[frame_of[name]] = gt
        if len(frame_of) == 2 and frame_of["ED"] == frame_of["ES"]:
            problems.add(
                f"{path_of('ES')}: the ED and ES volumes both match cine frame {frame_of['ED']} of {cine.path.name}; "
                "check that SA_ED and SA_ES are the right files"
            )
        problems.raise_if_any()
        source = f"subject {subject_id}: {self.root / INFO_CSV}"
        clinical = {
            "group": row.get("DISEASE") or None,
            "vendor": row.get("VENDOR") or None,
            "scanner": row.get("SCANNER") or None,
            "field": parse_float(row.get("FIELD", ""), column="FIELD", source=source),
        }
        return Subject(
            id=subject_id,
            image=cine.data,
            spacing=cine.spacing,
            affine=cine.affine,
            labels=labels,
            ed=frame_of["ED"],
            es=frame_of["ES"],
            clinical=clinical,
            source=str(folder),
        )
