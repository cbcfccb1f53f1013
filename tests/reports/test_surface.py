"""reports/surface.hd95 agrees with monai's HausdorffDistanceMetric(percentile=95)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from synthshare.reports.surface import hd95


def _monai(pred: np.ndarray, truth: np.ndarray, spacing) -> float:
    from monai.metrics import HausdorffDistanceMetric

    metric = HausdorffDistanceMetric(include_background=True, percentile=95, reduction="none")
    as_batch = lambda m: torch.from_numpy(m)[None, None].float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(metric(y_pred=as_batch(pred), y=as_batch(truth), spacing=spacing)[0, 0])


def _blob(rng: np.random.Generator, shape, *, touch_border: bool = False) -> np.ndarray:
    zz, yy, xx = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    centre = [rng.uniform(0, n - 1) if touch_border else rng.uniform(n * 0.3, n * 0.7) for n in shape]
    radii = [rng.uniform(1.0, max(1.5, n / 3)) for n in shape]
    mask = sum(((g - c) / r) ** 2 for g, c, r in zip((zz, yy, xx), centre, radii)) <= 1.0
    return mask | (rng.random(shape) < 0.01)  # a few stray voxels: outliers of the distance distribution


@pytest.mark.parametrize("seed", range(12))
def test_matches_monai_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(3, 12)), int(rng.integers(8, 33)), int(rng.integers(8, 33)))
    spacing = (float(rng.uniform(5, 10)), float(rng.uniform(1, 4)), float(rng.uniform(1, 4)))
    pred, truth = _blob(rng, shape, touch_border=seed % 3 == 0), _blob(rng, shape, touch_border=seed % 4 == 0)
    assert hd95(pred=pred, truth=truth, spacing=spacing) == pytest.approx(_monai(pred, truth, spacing), rel=1e-5)


def test_identical_masks_empty_masks_and_shapes():
    rng = np.random.default_rng(0)
    mask = _blob(rng, (6, 20, 20))
    assert hd95(pred=mask, truth=mask, spacing=(10, 2, 2)) == 0.0
    empty = np.zeros_like(mask)
    assert np.isnan(hd95(pred=mask, truth=empty, spacing=(10, 2, 2)))
    assert hd95(pred=empty, truth=mask, spacing=(10, 2, 2)) == float("inf")
    assert not np.isfinite(_monai(empty, mask, (10, 2, 2)))  # monai: NaN (its quantile of infinities)
    with pytest.raises(ValueError, match="shape"):
        hd95(pred=mask, truth=mask[:-1], spacing=(10, 2, 2))


def test_a_shifted_mask_is_as_far_as_its_shift_in_mm():
    truth = np.zeros((4, 30, 30), bool)
    truth[1:3, 10:20, 10:20] = True
    pred = np.roll(truth, 3, axis=2)  # 3 columns at 1.5 mm
    assert hd95(pred=pred, truth=truth, spacing=(10.0, 1.5, 1.5)) == pytest.approx(4.5)
