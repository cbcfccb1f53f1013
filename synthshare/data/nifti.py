"""Reading NIfTI volumes for one subject, with every failure turned into a DataError.

nibabel raises a zoo of exceptions on a missing, truncated, corrupt or crafted file
(FileNotFoundError, EOFError, zlib.error, ImageFileError, HeaderDataError, MemoryError for absurd
dims, OverflowError for negative ones, ...); the readers only ever see `SubjectDataError`, whose
message names the subject, the file, what is wrong and how to fix it. The header is checked before
any voxel is read: complex data (get_fdata would silently drop the imaginary part), a dimension
below 1 and more than MAX_VOXELS voxels are refused.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthshare.errors import DataError
from synthshare.labels import LabelConvention, LabelValueError, remap

NIFTI_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii")
# Relative tolerance between a label file's voxel size and its image's.
SPACING_RTOL = 1e-3
# Most voxels one file may declare: 2**29 (2 GiB as float32) is ten times a large 4D cine
# (512 x 512 x 20 slices x 50 frames = 2.6e8 voxels); more means a corrupt or crafted header.
MAX_VOXELS = 2**29


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

    def __reduce__(self) -> tuple:  # crosses from a preparing worker intact (the default passes the message only)
        return type(self), (self.subject_id, self.problems)


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


def nifti_read_errors() -> tuple[type[BaseException], ...]:
    """Every exception nibabel/numpy raise on an unreadable or crafted NIfTI file (for `except`)."""
    from nibabel.filebasedimages import ImageFileError
    from nibabel.spatialimages import HeaderDataError, HeaderTypeError, ImageDataError

    # nibabel's header errors subclass Exception only; MemoryError / OverflowError come from numpy
    # mapping a header whose dims are absurd or negative (the header check below catches most first)
    return (OSError, EOFError, ValueError, zlib.error, struct.error, ImageFileError, HeaderDataError, HeaderTypeError,
            ImageDataError, MemoryError, OverflowError)


def header_problem(path: Path, *, shape: tuple[int, ...], dtype: np.dtype) -> str | None:
    """A problem line if the header's shape or data type cannot be a cine or label volume, else None."""
    if dtype.kind == "c":
        return f"{path}: complex-valued data ({dtype}); synthshare needs real magnitude images, export the magnitude"
    if dtype.kind not in "biuf":
        return f"{path}: data type {dtype} is not numeric; re-export the image as integers or floats"
    if not shape or min(shape) < 1:
        return f"{path}: the header declares shape {shape} with a dimension below 1; the header is corrupt, re-export the file"
    voxels = math.prod(shape)
    if voxels > MAX_VOXELS:
        return (
            f"{path}: the header declares shape {shape} = {voxels:.3g} voxels, more than the {MAX_VOXELS:.3g} synthshare "
            "reads; the header is corrupt (re-export the file) or crop the cine before ingest"
        )
    return None


def read_volume(path: Path, *, subject_id: str, ndim: int, labels: bool = False) -> Volume:
    """Read one NIfTI file fully; 3D where 4D is needed, NaN/Inf and unreadable files are errors.

    A 4D file with a single frame counts as 3D when ndim is 3 (trailing singleton dims are dropped).
    """
    import nibabel as nib

    read_errors = nifti_read_errors()
    if not path.is_file():
        raise SubjectDataError(subject_id, [f"{path}: file is missing; restore it or remove the subject from the cohort"])
    try:
        img = nib.load(str(path))
        problem = header_problem(path, shape=tuple(int(d) for d in img.shape), dtype=img.get_data_dtype())
        if problem:
            raise SubjectDataError(subject_id, [problem])
        data = np.asanyarray(img.dataobj) if labels else img.get_fdata(dtype=np.float32)
        zooms = tuple(float(z) for z in img.header.get_zooms())
        affine = np.asarray(img.affine, dtype=np.float64)
    except read_errors as err:
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
