"""One synthetic subject written BIDS-style: 4D cine image, 4D segmentation, JSON sidecar.

    out_dir/sub-<key>/anat/sub-<key>_cine.nii.gz   float32 (X, Y, Z, T)
    out_dir/sub-<key>/anat/sub-<key>_dseg.nii.gz   uint8   (X, Y, Z, T), 0 bg 1 LV 2 MYO 3 RV
    out_dir/sub-<key>/anat/sub-<key>_cine.json     conditions, measures, seed, frames, spacing, label map

Only synthetic values are written: the subject's release key, its sampling conditions and seed,
and measures of the generated segmentation.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from synthshare import __version__
from synthshare.atomic import write_json
from synthshare.data.prepared import PREPARED_TO_NIFTI, SyntheticSubject
from synthshare.errors import BadInputError
from synthshare.labels import LABEL_NAMES, NUM_CLASSES
from synthshare.release.nifti_out import NOMINAL_FRAME_DURATION_S, write_nifti

# BIDS labels are alphanumeric; release keys look like "syn0001".
_KEY = re.compile(r"[A-Za-z0-9]+")  # used with fullmatch: "$" would accept a trailing newline


def subject_dir(*, key: str) -> Path:
    """The subject's folder relative to the release root: sub-<key>/anat."""
    return Path(f"sub-{key}") / "anat"


def check_synthetic_subject(subject: SyntheticSubject) -> None:
    """Raise BadInputError naming the subject and every problem found with it."""
    problems: list[str] = []
    if not isinstance(subject.key, str) or not _KEY.fullmatch(subject.key):
        problems.append(f"key {subject.key!r} must be alphanumeric (e.g. 'syn0001')")
    image, labels = np.asarray(subject.image), np.asarray(subject.labels)
    if image.ndim != 4:
        problems.append(f"image must be (T, S, H, W); got shape {image.shape}")
    if labels.shape != image.shape:
        problems.append(f"labels shape {labels.shape} differs from image shape {image.shape}")
    if image.size and not np.isfinite(image).all():
        problems.append("image holds NaN or infinite values")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        problems.append(f"labels must be in 0..{NUM_CLASSES - 1}; got {labels.min()}..{labels.max()}")
    if image.ndim == 4 and not 0 <= subject.es_frame < image.shape[0]:
        problems.append(f"es_frame {subject.es_frame} is outside 0..{image.shape[0] - 1}")
    if len(subject.spacing) != 3 or not all(float(s) > 0 for s in subject.spacing):
        problems.append(f"spacing must be three positive mm values; got {subject.spacing}")
    if problems:
        raise BadInputError(f"synthetic subject {subject.key!r} cannot be released: " + "; ".join(problems))


def sidecar(subject: SyntheticSubject) -> dict:
    """The JSON sidecar of the cine image: everything a partner needs to use the subject."""
    frames = int(np.asarray(subject.image).shape[0])
    return {
        "synthetic": True,
        "generated_by": {"name": "synthshare", "version": __version__},
        "subject": subject.key,
        "seed": int(subject.seed),
        # sampling.plausibility_tries: the draws made and whether the kept one passed (null: no check ran)
        "sampler_draws": int(subject.draws),
        "plausible_volume_curve": subject.plausible,
        "requested_conditions": dict(subject.requested),
        # what the networks were given: the request with its volumes divided by the generator's measured
        # overshoot (sampling.calibration_n); equal to requested_conditions without calibration. The seed
        # reproduces the subject with these.
        "model_conditions": dict(subject.requested if subject.model_conditions is None else subject.model_conditions),
        "measured": subject.measured.as_dict(),
        "measured_units": {"volumes": "mL", "ef": "percent", "myo_mass": "g"},
        "ed_frame": 0,
        "es_frame": int(subject.es_frame),
        "frames": frames,
        "frame_duration_s_nominal": NOMINAL_FRAME_DURATION_S,
        "spacing_mm": [float(s) for s in subject.spacing],
        "axes": "X (row), Y (column), Z (short-axis slice), T (frame); frame 0 is end-diastole",
        "label_map": {str(k): v for k, v in LABEL_NAMES.items()},
    }


def write_synthetic_subject(*, subject: SyntheticSubject, out_dir: Path) -> list[Path]:
    """Write one subject's image, segmentation and sidecar under ``out_dir``; return the paths."""
    check_synthetic_subject(subject)
    anat = Path(out_dir) / subject_dir(key=subject.key)
    stem = f"sub-{subject.key}"
    spacing = tuple(float(s) for s in subject.spacing)
    image = np.asarray(subject.image, dtype=np.float32).transpose(PREPARED_TO_NIFTI)
    labels = np.asarray(subject.labels).astype(np.uint8).transpose(PREPARED_TO_NIFTI)
    return [
        write_nifti(path=anat / f"{stem}_cine.nii.gz", array=image, spacing=spacing),
        write_nifti(path=anat / f"{stem}_dseg.nii.gz", array=labels, spacing=spacing),
        write_json(path=anat / f"{stem}_cine.json", value=sidecar(subject)),
    ]
