"""HD95: the 95th-percentile symmetric Hausdorff distance between two masks, in mm.

The same definition as monai's HausdorffDistanceMetric(percentile=95) on the CPU: edge voxels are
each mask minus its binary erosion (scipy's default cross structure, outside the grid counts as
background), every edge voxel's distance to the nearest edge voxel of the other mask (a KD-tree over
voxel coordinates times the spacing), and the larger of the two directions' 95th percentiles
(linear interpolation). monai reaches it through its crop-and-pad transforms, which cost more than
the distances on these small frames: 37 s of a demo release's utility report went there (29 ms a
frame, profiled), and benchmarks/hd95_bench.py measures 4.5-5.6x per mask pair once monai is warm.
This reaches it directly; tests/reports/test_surface.py checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import binary_erosion
from scipy.spatial import KDTree


def _edges(mask: np.ndarray) -> np.ndarray:
    return mask ^ binary_erosion(mask)


def hd95(*, pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float:
    """HD95 in mm between boolean masks of one grid: NaN when ``truth`` is empty, inf when only ``pred`` is."""
    if pred.shape != truth.shape:
        raise ValueError(f"hd95: prediction {pred.shape} and truth {truth.shape} differ in shape")
    if not truth.any():
        return float("nan")
    if not pred.any():
        return float("inf")
    scale = np.asarray(spacing, dtype=np.float64)
    p = np.argwhere(_edges(pred)).astype(np.float64) * scale
    t = np.argwhere(_edges(truth)).astype(np.float64) * scale
    to_truth = KDTree(t, leafsize=32).query(p, k=1)[0].astype(np.float32)
    to_pred = KDTree(p, leafsize=32).query(t, k=1)[0].astype(np.float32)
    return float(max(np.quantile(to_truth, 0.95), np.quantile(to_pred, 0.95)))
