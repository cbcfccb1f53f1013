"""Clinical volume measures from masks at their real voxel spacing.

Volume = voxel count x voxel volume; EF = (EDV - ESV) / EDV in percent;
myocardial mass = myocardial volume x 1.05 g/mL (measured at ED, as is clinical practice).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from synthshare.labels import LV, MYO, RV

MYOCARDIAL_DENSITY_G_PER_ML = 1.05


@dataclass(frozen=True, kw_only=True)
class Measures:
    lv_edv: float  # mL
    lv_esv: float
    lv_sv: float
    lv_ef: float  # percent
    rv_edv: float
    rv_esv: float
    rv_sv: float
    rv_ef: float
    myo_mass: float  # g

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def voxel_volume_ml(spacing: tuple[float, float, float] | np.ndarray) -> float:
    sx, sy, sz = (float(s) for s in spacing)
    return sx * sy * sz / 1000.0


def label_volume_ml(labels: np.ndarray, label: int, spacing: tuple[float, float, float]) -> float:
    """Volume of one structure in mL."""
    return float(np.count_nonzero(labels == label)) * voxel_volume_ml(spacing)


def _ef(edv: float, esv: float) -> float:
    return 100.0 * (edv - esv) / edv if edv > 0 else float("nan")


def measure(*, ed_labels: np.ndarray, es_labels: np.ndarray, spacing: tuple[float, float, float]) -> Measures:
    """Measures from internal-map label volumes of the ED and ES frames."""
    lv_edv = label_volume_ml(ed_labels, LV, spacing)
    lv_esv = label_volume_ml(es_labels, LV, spacing)
    rv_edv = label_volume_ml(ed_labels, RV, spacing)
    rv_esv = label_volume_ml(es_labels, RV, spacing)
    myo_mass = label_volume_ml(ed_labels, MYO, spacing) * MYOCARDIAL_DENSITY_G_PER_ML
    return Measures(
        lv_edv=lv_edv,
        lv_esv=lv_esv,
        lv_sv=lv_edv - lv_esv,
        lv_ef=_ef(lv_edv, lv_esv),
        rv_edv=rv_edv,
        rv_esv=rv_esv,
        rv_sv=rv_edv - rv_esv,
        rv_ef=_ef(rv_edv, rv_esv),
        myo_mass=myo_mass,
    )


def volume_curve_ml(labels_4d: np.ndarray, label: int, spacing: tuple[float, float, float], *, frame_axis: int = -1) -> np.ndarray:
    """Volume of one structure per frame (mL), e.g. the LV volume curve over the cardiac cycle."""
    moved = np.moveaxis(np.asarray(labels_4d), frame_axis, 0)
    counts = np.count_nonzero(moved.reshape(moved.shape[0], -1) == label, axis=1)
    return counts.astype(np.float64) * voxel_volume_ml(spacing)
