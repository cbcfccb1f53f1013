"""The one internal label map of the code base, and remapping from the public datasets.

Internal: 0 background, 1 LV cavity, 2 myocardium, 3 RV.
ACDC files use 1 RV, 2 MYO, 3 LV; M&Ms-1/2 files use 1 LV, 2 MYO, 3 RV.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

BACKGROUND, LV, MYO, RV = 0, 1, 2, 3
NUM_CLASSES = 4
LABEL_NAMES: dict[int, str] = {BACKGROUND: "background", LV: "LV", MYO: "MYO", RV: "RV"}

LabelConvention = Literal["internal", "acdc", "mnms"]

# index = label value in the file, value = internal label
_TABLES: dict[str, np.ndarray] = {
    "internal": np.array([BACKGROUND, LV, MYO, RV], dtype=np.uint8),
    "acdc": np.array([BACKGROUND, RV, MYO, LV], dtype=np.uint8),
    "mnms": np.array([BACKGROUND, LV, MYO, RV], dtype=np.uint8),
}


class LabelValueError(ValueError):
    """A label volume holds values outside {0, 1, 2, 3}."""

    def __init__(self, bad_values: list[float]) -> None:
        self.bad_values = bad_values
        super().__init__(f"label values outside the map {{0,1,2,3}}: {bad_values[:10]}")

    def __reduce__(self) -> tuple:  # picklable with its field (the default passes the message only)
        return type(self), (self.bad_values,)


def remap(labels: np.ndarray, convention: LabelConvention) -> np.ndarray:
    """Map a label volume from a file convention to the internal map (uint8, same shape).

    Raises LabelValueError on any value that is not an integer in 0..3 (the caller names the file).
    """
    arr = np.asarray(labels)
    rounded = np.rint(arr)
    if arr.dtype.kind == "f" and not np.array_equal(rounded, arr, equal_nan=False):
        bad = np.unique(arr[rounded != arr])
        raise LabelValueError([float(v) for v in bad])
    ints = rounded.astype(np.int64)
    outside = (ints < 0) | (ints >= NUM_CLASSES)
    if outside.any():
        raise LabelValueError([float(v) for v in np.unique(ints[outside])])
    return _TABLES[convention][ints]


def to_convention(labels: np.ndarray, convention: LabelConvention) -> np.ndarray:
    """Inverse of `remap`: internal labels written in a file convention (used by the phantom)."""
    table = _TABLES[convention]
    inverse = np.argsort(table).astype(np.uint8)
    return inverse[np.asarray(labels, dtype=np.int64)]
