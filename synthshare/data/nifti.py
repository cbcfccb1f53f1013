"""Reading NIfTI volumes for one subject, with every failure turned into a DataError.

nibabel raises a zoo of exceptions on a missing, truncated or corrupt file (FileNotFoundError,
EOFError, zlib.error, ImageFileError, ...); the readers only ever see `SubjectDataError`, whose
message names the subject, the file, what is wrong and how to fix it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthshare.errors import DataError
from synthshare.labels import LabelConvention, LabelValueError, remap

NIFTI_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii")
# Relative tolerance between a label file's voxel size and its image's.
SPACING_RTOL = 1e-3


class SubjectDataError(DataError):
    """One or more problems with one subject's files; ``problems`` holds one line per problem."""

    def __init__(self, subject_id: str, problems: list[str]) -> None:
        self.subject_id = subject_id
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = f"subject {subject_id}: {self.problems[0]}"
        else:
            message = f"subject {subject_id}: {len(self.problems)} problems\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


@dataclass(frozen=True, kw_only=True)
class Volume:
    """A NIfTI volume as read: data in file axis order, voxel size from the header."""

    path: Path
    data: np.ndarray
    zooms: tuple[float, ...]
    affine: np.ndarray

    @property
    def spacing(self) -> tuple[float, float, float]:
        return (float(self.zooms[0]), float(self.zooms[1]), float(self.zooms[2]))


def find_nifti(folder: Path, stem: str) -> Path | None:
    """`folder/stem.nii.gz` or `folder/stem.nii`, whichever exists (gz first)."""
    for suffix in NIFTI_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def nifti_stem(path: Path) -> str | None:
    """File name without its NIfTI suffix, or None if it is not a NIfTI file."""
    for suffix in NIFTI_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def expected_name(folder: Path, stem: str) -> str:
    return str(folder / f"{stem}.nii.gz")


def read_volume(path: Path, *, subject_id: str, ndim: int, labels: bool = False) -> Volume:
    """Read one NIfTI file fully; 3D where 4D is needed, NaN/Inf and unreadable files are errors.

    A 4D file with a single frame counts as 3D when ndim is 3 (trailing singleton dims are dropped).
    """
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    if not path.is_file():
        raise SubjectDataError(subject_id, [f"{path}: file is missing; restore it or remove the subject from the cohort"])
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj) if labels else img.get_fdata(dtype=np.float32)
        zooms = tuple(float(z) for z in img.header.get_zooms())
        affine = np.asarray(img.affine, dtype=np.float64)
    except (OSError, EOFError, ValueError, zlib.error, ImageFileError) as err:
        raise SubjectDataError(
            subject_id,
            [f"{path}: cannot read the NIfTI file ({type(err).__name__}: {err}); it is truncated or corrupt, re-export or re-copy it"],
        ) from err
    while data.ndim > ndim and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != ndim:
        what = "a 4D (x, y, slices, frames) cine" if ndim == 4 else "a 3D (x, y, slices) volume"
        raise SubjectDataError(
            subject_id, [f"{path}: expected {what}, got {data.ndim}D shape {tuple(data.shape)}; point to the right file"]
        )
    if len(zooms) < 3 or not all(np.isfinite(zooms[:3])) or min(zooms[:3]) <= 0:
        raise SubjectDataError(subject_id, [f"{path}: invalid voxel size {zooms} in the header; fix the pixdim fields"])
    if data.dtype.kind == "f" and not labels:
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise SubjectDataError(subject_id, [f"{path}: {bad} NaN/Inf voxels; re-export the image or replace them"])
    return Volume(path=path, data=data, zooms=zooms, affine=affine)


def read_labels(path: Path, *, subject_id: str, convention: LabelConvention, image: Volume, ndim: int = 3) -> np.ndarray:
    """Read a label volume (3D one frame, or 4D every frame), check it against its image, remap it.

    Returns uint8 in the internal map, (X, Y, Z) or (X, Y, Z, T). Shape and voxel size must match
    the image. Every problem of the file is reported at once.
    """
    vol = read_volume(path, subject_id=subject_id, ndim=ndim, labels=True)
    expected = tuple(image.data.shape[:ndim])
    problems = []
    if tuple(vol.data.shape) != expected:
        problems.append(
            f"{path}: label shape {tuple(vol.data.shape)} differs from the image {image.path.name} shape {expected}; "
            "the labels must be on the image grid"
        )
    if not np.allclose(vol.spacing, image.spacing, rtol=SPACING_RTOL, atol=0.0):
        problems.append(
            f"{path}: label voxel size {vol.spacing} differs from the image {image.path.name} voxel size {image.spacing}; "
            "resample the labels onto the image grid or fix the header"
        )
    remapped = None
    try:
        remapped = remap(vol.data, convention)
    except LabelValueError as err:
        problems.append(f"{path}: {err}; relabel the file (this layout uses the {convention} label map, values 0-3)")
    if problems or remapped is None:
        raise SubjectDataError(subject_id, problems)
    return remapped


class ProblemCollector:
    """Gathers every problem of one subject so a reader reports them all at once, not the first."""

    def __init__(self, subject_id: str) -> None:
        self.subject_id = subject_id
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def read_labels(self, path: Path, *, convention: LabelConvention, image: Volume, ndim: int = 3) -> np.ndarray | None:
        try:
            return read_labels(path, subject_id=self.subject_id, convention=convention, image=image, ndim=ndim)
        except SubjectDataError as err:
            self.problems.extend(err.problems)
            return None

    def read_frame_labels(
        self, files: list[tuple[int, Path]], *, convention: LabelConvention, image: Volume, one_based: bool
    ) -> dict[int, np.ndarray]:
        """Per-frame label files (0-based frame, path) -> {frame: volume}; a frame outside the image is a problem."""
        frames = int(image.data.shape[3])
        labels: dict[int, np.ndarray] = {}
        for frame, path in files:
            if not 0 <= frame < frames:
                shown, base = (frame + 1, "") if one_based else (frame, " (0-based)")
                self.add(f"{path}: frame {shown} is outside the image's {frames} frames{base}; rename or remove the file")
                continue
            volume = self.read_labels(path, convention=convention, image=image)
            if volume is not None:
                labels[frame] = volume
        return labels

    def read_volume(self, path: Path, *, ndim: int) -> Volume | None:
        try:
            return read_volume(path, subject_id=self.subject_id, ndim=ndim)
        except SubjectDataError as err:
            self.problems.extend(err.problems)
            return None

    def raise_if_any(self) -> None:
        if self.problems:
            raise SubjectDataError(self.subject_id, self.problems)
