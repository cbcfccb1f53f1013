"""Reader for the layout `synthshare sample` and a release write (so a release can be checked,
measured and audited like any cohort).

ROOT/sub-synNNNN/anat/sub-synNNNN_cine.nii.gz   4D image, ED at frame 0
                      sub-synNNNN_dseg.nii.gz   4D labels, internal map, every frame labelled
                      sub-synNNNN_cine.json     sidecar with "es_frame" (0-based)
"""

from __future__ import annotations

import json
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
from synthshare.data.validate import check_frame_index
from synthshare.errors import DataError


def _subject_dirs(root: Path) -> list[Path]:
    return [
        folder
        for folder in sorted(root.glob("sub-*"))
        if folder.is_dir() and any(nifti_stem(p) == f"{folder.name}_cine" for p in (folder / "anat").glob("*_cine.nii*"))
    ]


def is_synthetic_root(root: Path) -> bool:
    return bool(_subject_dirs(root))


def _read_sidecar(path: Path, *, subject_id: str) -> dict:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(f"subject {subject_id}: {path}: sidecar is missing; restore it (it holds es_frame)") from err
    except UnicodeDecodeError as err:
        raise DataError(
            f"subject {subject_id}: {path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); "
            "restore the sidecar from the release"
        ) from err
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"subject {subject_id}: {path}: not readable JSON ({err}); restore the sidecar from the release") from err
    es_frame = payload.get("es_frame") if isinstance(payload, dict) else None
    if not isinstance(es_frame, int) or isinstance(es_frame, bool):
        raise DataError(f"subject {subject_id}: {path}: needs an integer \"es_frame\"; restore the sidecar from the release")
    return payload


def _group(sidecar: dict) -> str | None:
    """The group a release sidecar requested (release/bids.py: requested_conditions.group); a top-level "group"
    or "requested" block is read too."""
    requested = sidecar.get("requested_conditions", sidecar.get("requested"))
    value = sidecar.get("group") or (requested.get("group") if isinstance(requested, dict) else None)
    return str(value) if value else None


class SyntheticLayoutReader(IndexedReader[Path]):
    """Reads a synthetic cohort / release (IDs are the release ids, e.g. sub-syn0001)."""

    format = "synthshare"

    def _build_index(self) -> dict[str, Path]:
        folders = {folder.name: folder for folder in _subject_dirs(self.root)}
        if not folders:
            raise DataError(f"{self.root}: empty cohort, no sub-*/anat/sub-*_cine.nii.gz files; point to a sample or release folder")
        return folders

    def load(self, subject_id: str) -> Subject:
        folder = self._entry(subject_id)
        anat = folder / "anat"
        sidecar_path = anat / f"{subject_id}_cine.json"
        sidecar = _read_sidecar(sidecar_path, subject_id=subject_id)
        problems = ProblemCollector(subject_id)
        image_stem, dseg_stem = f"{subject_id}_cine", f"{subject_id}_dseg"
        image = problems.read_volume(find_nifti(anat, image_stem) or Path(expected_name(anat, image_stem)), ndim=4)
        problems.raise_if_any()
        dseg_path = find_nifti(anat, dseg_stem) or Path(expected_name(anat, dseg_stem))
        dseg = problems.read_labels(dseg_path, convention="internal", image=image, ndim=4)
        es = int(sidecar["es_frame"])
        frames = int(image.data.shape[3])
        problem = check_frame_index(name="es_frame", value=es, frames=frames, one_based=False, source=str(sidecar_path))
        if problem:
            problems.add(problem)
        problems.raise_if_any()
        labels = {t: np.ascontiguousarray(dseg[..., t]) for t in range(dseg.shape[3])}
        return Subject(
            id=subject_id,
            image=image.data,
            spacing=image.spacing,
            affine=image.affine,
            labels=labels,
            ed=0,
            es=es,
            clinical={"group": _group(sidecar)},
            source=str(folder),
        )
