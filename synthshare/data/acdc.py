"""ACDC layout reader.

ROOT/training/patientNNN/ and/or ROOT/testing/patientNNN/ (ROOT may also be the training folder):
  Info.cfg                       ED: 1 / ES: 12 / Group: DCM / Height / NbFrame / Weight (ED, ES 1-based)
  patientNNN_4d.nii[.gz]         4D cine (X, Y, Z, T)
  patientNNN_frameXX_gt.nii[.gz] labels of frame XX (1-based), ACDC map 1 RV, 2 MYO, 3 LV
Subjects load lazily, one at a time.
"""

from __future__ import annotations

import re
from pathlib import Path

from synthshare.data.nifti import (
    ProblemCollector,
    expected_name,
    find_nifti,
    nifti_stem,
)
from synthshare.data.reader_base import IndexedReader
from synthshare.data.subject import Subject
from synthshare.data.validate import check_frame_index, parse_float, parse_int
from synthshare.errors import DataError

SPLITS: tuple[str, ...] = ("training", "testing")
REQUIRED_INFO_KEYS: tuple[str, ...] = ("ED", "ES", "Group")
_PATIENT = re.compile(r"^patient\d+$")


def is_acdc_root(root: Path) -> bool:
    return bool(_patient_dirs(root))


def _patient_dirs(root: Path) -> list[Path]:
    folders = [root / split for split in SPLITS if (root / split).is_dir()] or [root]
    return [p for folder in folders for p in sorted(folder.iterdir()) if p.is_dir() and _PATIENT.match(p.name)]


def parse_info_cfg(path: Path, *, subject_id: str) -> dict[str, str]:
    """`Key: value` lines of an Info.cfg; DataError naming the file if missing or lacking a key."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as err:
        raise DataError(f"subject {subject_id}: {path}: Info.cfg is missing; restore it (keys {', '.join(REQUIRED_INFO_KEYS)})") from err
    except OSError as err:
        raise DataError(f"subject {subject_id}: {path}: cannot read Info.cfg ({err.strerror})") from err
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    missing = [k for k in REQUIRED_INFO_KEYS if not info.get(k)]
    if missing:
        raise DataError(
            f"subject {subject_id}: {path}: Info.cfg lacks {', '.join(missing)}; add lines like 'ED: 1', 'ES: 12', 'Group: NOR'"
        )
    return info


class AcdcReader(IndexedReader[Path]):
    """Reads an ACDC-layout cohort."""

    format = "acdc"

    def _build_index(self) -> dict[str, Path]:
        folders: dict[str, Path] = {}
        for folder in _patient_dirs(self.root):
            if folder.name in folders:
                raise DataError(
                    f"{self.root}: duplicate subject ID {folder.name} in {folders[folder.name]} and {folder}; "
                    "keep one copy (each subject may appear once)"
                )
            folders[folder.name] = folder
        if not folders:
            raise DataError(f"{self.root}: empty cohort, no patientNNN folders under training/ or testing/; point to the ACDC root")
        return folders

    def load(self, subject_id: str) -> Subject:
        folder = self._entry(subject_id)
        info_path = folder / "Info.cfg"
        info = parse_info_cfg(info_path, subject_id=subject_id)
        source = f"subject {subject_id}: {info_path}"
        ed = parse_int(info["ED"], column="ED", source=source)
        es = parse_int(info["ES"], column="ES", source=source)
        clinical = {
            "group": info["Group"],
            "height": parse_float(info.get("Height", ""), column="Height", source=source),
            "weight": parse_float(info.get("Weight", ""), column="Weight", source=source),
        }
        problems = ProblemCollector(subject_id)
        image_path = find_nifti(folder, f"{subject_id}_4d")
        image = problems.read_volume(image_path or Path(expected_name(folder, f"{subject_id}_4d")), ndim=4)
        problems.raise_if_any()
        frames = int(image.data.shape[3])
        nb_frame = parse_int(info.get("NbFrame", ""), column="NbFrame", source=source)
        if nb_frame is not None and nb_frame != frames:
            problems.add(f"{info_path}: NbFrame = {nb_frame} but {image.path.name} has {frames} frames; fix NbFrame")
        for name, value in (("ED", ed), ("ES", es)):
            problem = check_frame_index(name=name, value=int(value), frames=frames, one_based=True, source=str(info_path))
            if problem:
                problems.add(problem)
        labels = problems.read_frame_labels(_label_files(folder, subject_id), convention="acdc", image=image, one_based=True)
        for name, value in (("ED", ed), ("ES", es)):
            stem = f"{subject_id}_frame{int(value):02d}_gt"
            if 1 <= int(value) <= frames and find_nifti(folder, stem) is None:
                problems.add(f"{expected_name(folder, stem)}: the {name} label file is missing; restore it")
        problems.raise_if_any()
        return Subject(
            id=subject_id,
            image=image.data,
            spacing=image.spacing,
            affine=image.affine,
            labels=labels,
            ed=int(ed) - 1,
            es=int(es) - 1,
            clinical=clinical,
            source=str(folder),
        )


def _label_files(folder: Path, subject_id: str) -> list[tuple[int, Path]]:
    """(0-based frame, path) of every patientNNN_frameXX_gt file (.nii.gz preferred, as find_nifti)."""
    pattern = re.compile(rf"^{re.escape(subject_id)}_frame(\d+)_gt$")
    found: dict[int, Path] = {}
    for stem in sorted({s for p in folder.iterdir() if (s := nifti_stem(p))}):
        match = pattern.match(stem)
        path = find_nifti(folder, stem)
        if match and path is not None:
            found.setdefault(int(match.group(1)) - 1, path)
    return sorted(found.items())
