"""Training-ready subjects: preprocessed, pseudonymous, on a common grid.

This is the interface between the data layer and the generator, audits and reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthshare.data.measures import Measures


@dataclass(frozen=True, kw_only=True)
class PreparedSubject:
    """One subject after preprocessing.

    key:      pseudonymous per-subject fingerprint (sha256 of the subject's content); never the real id.
    image:    float32 (T, S, H, W), intensity-normalised to about [0, 1], ED at frame 0,
              T = configured frame count, S = slices, H x W = in-plane crop.
    labels:   uint8 (T, S, H, W) internal map; zeros on frames that have no label.
    labelled: bool (T,), which frames carry labels (the resampled ED and ES frames for real cohorts).
    spacing:  (in-plane row, in-plane column, slice) mm of the prepared grid.
    measures: clinical measures from the source labels at native spacing (the conditioning truth).
    group:    diagnosis group (NOR, MINF, DCM, HCM, RV, or another cohort's code).
    es_frame: index of ES after temporal resampling.
    """

    key: str
    image: np.ndarray
    labels: np.ndarray
    labelled: np.ndarray
    spacing: tuple[float, float, float]
    measures: Measures
    group: str
    es_frame: int


@dataclass(frozen=True, kw_only=True)
class SyntheticSubject:
    """One generated subject, on the prepared grid (same axis order as PreparedSubject).

    key:       release id, "syn0001", ...; the only identifier a synthetic subject ever has.
    image:     float32 (T, S, H, W), ED at frame 0.
    labels:    uint8 (T, S, H, W), the generated segmentation, every frame labelled.
    spacing:   (row, col, slice) mm.
    requested: the conditions it was sampled with (group, lv_edv, lv_esv, lv_ef, rv_edv, myo_mass, slices).
    measured:  measures from the generated segmentation (ED = frame 0, ES = frame of smallest LV volume).
    seed:      the seed that reproduces it (with its model_conditions).
    draws:     how many draws the sampler made for it (sampling.plausibility_tries; 1 without the check).
    plausible: its LV volume curve passed the sampler's plausibility check; None when no check ran.
    model_conditions: what the networks were given: `requested` with its volumes divided by the generator's
               measured overshoot (sampling.calibration_n, sample/calibration.py); None = `requested`.
    """

    key: str
    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]
    requested: dict[str, float | str]
    measured: Measures
    seed: int
    es_frame: int
    draws: int = 1
    plausible: bool | None = None
    model_conditions: dict[str, float | str] | None = None


# Axis convention: prepared arrays are (T, S, H, W); NIfTI arrays are (X, Y, Z, T) with X = H (row),
# Y = W (column), Z = S (slice). nifti -> prepared: arr.transpose(3, 2, 0, 1);
# prepared -> nifti: arr.transpose(2, 3, 1, 0).
NIFTI_TO_PREPARED = (3, 2, 0, 1)
PREPARED_TO_NIFTI = (2, 3, 1, 0)
