"""NIfTI files for release: a header built from scratch and deterministic gzip bytes.

Nothing is ever copied from a real file's header. The affine is diag(spacing) only, `descrip` and
`intent_name` mark the file SYNTHETIC, every other text field stays empty, and the gzip stream
carries mtime=0 and no file name, so the same arrays always give byte-identical files.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np

from synthshare import __version__
from synthshare.atomic import atomic_write_bytes
from synthshare.errors import BadInputError

SYNTHETIC_MARK = "SYNTHETIC"
DESCRIP = f"{SYNTHETIC_MARK} synthshare {__version__}"[:79]
# The prepared grid resamples the cycle to a fixed frame count, so the true frame duration is gone;
# a nominal value keeps pixdim[4] meaningful without carrying any scanner timing.
NOMINAL_FRAME_DURATION_S = 0.04
# Text fields of the NIfTI-1 header that must hold nothing but the synthetic marks.
TEXT_FIELDS: tuple[str, ...] = ("data_type", "db_name", "aux_file", "descrip", "intent_name")
_ALLOWED_DTYPES = (np.float32, np.uint8)


def synthetic_header(*, shape: tuple[int, ...], dtype: type, spacing: tuple[float, float, float]) -> nib.Nifti1Header:
    """A fresh NIfTI-1 header for a 3D or 4D (X, Y, Z[, T]) synthetic volume."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    affine = np.diag([float(spacing[0]), float(spacing[1]), float(spacing[2]), 1.0])
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    zooms = tuple(float(s) for s in spacing)
    if len(shape) == 4:
        zooms = zooms + (NOMINAL_FRAME_DURATION_S,)
    header.set_zooms(zooms)
    header.set_xyzt_units(xyz="mm", t="sec")
    header.set_intent("none", (), name=SYNTHETIC_MARK)
    header["descrip"] = DESCRIP
    return header


def nifti_bytes(*, array: np.ndarray, spacing: tuple[float, float, float]) -> bytes:
    """Uncompressed .nii bytes of a float32 image or uint8 label volume in NIfTI (X, Y, Z[, T]) order."""
    arr = np.asarray(array)
    if arr.ndim not in (3, 4):
        raise BadInputError(f"a release NIfTI must be 3D or 4D (X, Y, Z[, T]); got shape {arr.shape}")
    if arr.dtype.type not in _ALLOWED_DTYPES:
        raise BadInputError(f"a release NIfTI must be float32 (image) or uint8 (labels); got {arr.dtype}")
    if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise BadInputError(f"spacing must be three positive mm values; got {spacing}")
    header = synthetic_header(shape=arr.shape, dtype=arr.dtype.type, spacing=spacing)
    image = nib.Nifti1Image(np.ascontiguousarray(arr), affine=None, header=header)
    image.update_header()
    return image.to_bytes()


def gzip_deterministic(data: bytes) -> bytes:
    """gzip with mtime=0 and an empty file name: the output depends on ``data`` only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=6) as stream:
        stream.write(data)
    return buffer.getvalue()


def write_nifti(*, path: Path, array: np.ndarray, spacing: tuple[float, float, float]) -> Path:
    """Write ``array`` to ``path`` (.nii.gz) atomically with a scrubbed synthetic header."""
    path = Path(path)
    if not path.name.endswith(".nii.gz"):
        raise BadInputError(f"{path}: release NIfTI files are written as .nii.gz")
    return atomic_write_bytes(path=path, data=gzip_deterministic(nifti_bytes(array=array, spacing=spacing)))


def header_text_fields(header: nib.Nifti1Header) -> dict[str, str]:
    """The header's text fields decoded, for checks that nothing but the synthetic marks is set."""
    out = {}
    for name in TEXT_FIELDS:
        raw = header[name].item()
        out[name] = raw.decode("latin-1").rstrip("\x00") if isinstance(raw, bytes) else str(raw)
    return out


def is_marked_synthetic(header: nib.Nifti1Header) -> bool:
    fields = header_text_fields(header)
    return fields["intent_name"] == SYNTHETIC_MARK and fields["descrip"].startswith(SYNTHETIC_MARK)
