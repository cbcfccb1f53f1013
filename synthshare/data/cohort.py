"""Opening a cohort: layout detection and the reader protocol every layout implements.

Readers are lazy: `ids()` only lists the cohort, `load(id)` reads one subject, so a real cohort
(~66 MB per 4D ACDC subject) streams with bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol, get_args

from synthshare.data.acdc import AcdcReader, is_acdc_root
from synthshare.data.generic import GenericReader, is_generic_root
from synthshare.data.mnms2 import Mnms2Reader, is_mnms2_root
from synthshare.data.subject import Subject
from synthshare.data.synthetic_layout import SyntheticLayoutReader, is_synthetic_root
from synthshare.errors import DataError

Format = Literal["acdc", "mnms2", "generic", "synthshare"]
FORMATS: tuple[str, ...] = get_args(Format)


class CohortReader(Protocol):
    format: str
    root: Path

    def ids(self) -> list[str]:
        """Subject IDs, sorted and unique (duplicates and an empty cohort raise DataError)."""
        ...

    def load(self, subject_id: str) -> Subject:
        """One validated subject, labels remapped to the internal map (DataError naming the file if not)."""
        ...


# Detection order matters: a release folder or a CSV-indexed layout is recognised before the
# ACDC fallback, which also accepts ROOT being the training folder itself.
_LAYOUTS: tuple[tuple[Format, Callable[[Path], bool], Callable[[Path], CohortReader], str], ...] = (
    ("synthshare", is_synthetic_root, SyntheticLayoutReader, "sub-*/anat/sub-*_cine.nii.gz (+ _dseg, _cine.json)"),
    ("mnms2", is_mnms2_root, Mnms2Reader, "dataset_information.csv + dataset/NNN/NNN_SA_CINE.nii.gz"),
    ("generic", is_generic_root, GenericReader, "clinical.csv (id column) + images/<id>.nii.gz [+ labels/<id>_frameNN.nii.gz]"),
    ("acdc", is_acdc_root, AcdcReader, "training/patientNNN/ and/or testing/patientNNN/ with Info.cfg + patientNNN_4d.nii.gz"),
)


def _accepted() -> str:
    return "; ".join(f"{name}: {layout}" for name, _, _, layout in _LAYOUTS)


def detect_format(root: Path) -> Format:
    """The layout of a cohort folder; DataError naming the folder and the accepted layouts if unknown."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; pass a cohort folder (accepted layouts: {_accepted()})")
    for name, detect, _, _ in _LAYOUTS:
        if detect(root):
            return name
    raise DataError(f"{root}: unknown cohort layout; expected one of: {_accepted()}. Or pass --format")


def open_cohort(root: Path, *, format: Format | None = None) -> CohortReader:
    """A lazy reader for the cohort at root; `format` overrides detection."""
    root = Path(root)
    if format is None:
        format = detect_format(root)
    elif not root.is_dir():
        raise DataError(f"{root}: no such folder; pass a cohort folder")
    for name, _, reader, _ in _LAYOUTS:
        if name == format:
            return reader(root)
    raise DataError(f"unknown cohort format {format!r}; choose one of {', '.join(FORMATS)}")
