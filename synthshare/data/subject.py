"""The one in-memory model of a cohort subject, whatever layout it was read from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Diagnosis groups the conditioning knows by name; anything else maps to "OTHER".
GROUPS: tuple[str, ...] = ("NOR", "MINF", "DCM", "HCM", "RV")


@dataclass(frozen=True, kw_only=True)
class Subject:
    """One subject at native resolution.

    image:  float32 (X, Y, Z, T), NIfTI axis order (Z = short-axis slices, T = frames).
    labels: frame index (0-based) -> uint8 (X, Y, Z) in the internal map (0 bg, 1 LV, 2 MYO, 3 RV).
            Real cohorts label only ED and ES.
    spacing: voxel size (x, y, z) in mm, read from the file, never assumed.
    ed, es: 0-based frame indices.
    clinical: group, height, weight, vendor, ... (None where unknown).
    id: the cohort's own identifier. It is real-identifying: it never leaves the hospital.
    source: the folder or file the subject was read from, for error messages.
    """

    id: str
    image: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    labels: dict[int, np.ndarray]
    ed: int
    es: int
    clinical: dict[str, str | float | None] = field(default_factory=dict)
    source: str = ""

    @property
    def frames(self) -> int:
        return int(self.image.shape[3])

    @property
    def slices(self) -> int:
        return int(self.image.shape[2])

    @property
    def group(self) -> str:
        value = self.clinical.get("group")
        return str(value) if value not in (None, "") else "UNKNOWN"
