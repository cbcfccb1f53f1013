"""Curve measures on hand-made LV volume curves with values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from synthshare.errors import DataError
from synthshare.reports.curves import (
    curve_band,
    ed_at_frame0,
    normalised,
    roughness,
    shape_distance,
    single_systole,
)

NAN = float("nan")


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        ([2.0, 1.0, 0.0, 1.0], np.sqrt(2.0) / 2.0),  # cyclic d2 = (-2, 0, 2, 0): RMS sqrt(2), stroke 2
        ([4.0, 2.0, 0.0, 2.0], np.sqrt(2.0) / 2.0),  # scale-free
        ([1.0, 0.0, 1.0, 0.0], 2.0),  # alternating: d2 = (2, -2, 2, -2) over stroke 1
        ([3.0, 3.0, 3.0], NAN),  # no stroke
    ],
)
def test_roughness_by_hand(curve, expected) -> None:
    assert roughness(np.asarray(curve)) == pytest.approx(expected, nan_ok=True)


def test_normalised_by_hand() -> None:
    assert normalised(np.array([10.0, 6.0, 2.0, 6.0])) == pytest.approx([1.0, 0.5, 0.0, 0.5])
    assert normalised(np.array([10.0, NAN, 2.0])) == pytest.approx([1.0, NAN, 0.0], nan_ok=True)
    assert np.isnan(normalised(np.array([5.0, 5.0]))).all()


def test_shape_distance_by_hand() -> None:
    reference = np.array([1.0, 0.5, 0.0, 0.5])
    assert shape_distance(np.array([10.0, 6.0, 2.0, 6.0]), reference) == 0.0
    assert shape_distance(np.array([20.0, 12.0, 4.0, 12.0]), reference) == 0.0  # volume and EF do not count
    # negative control: a later ES and faster refill differ by (0, 0.25, 0, 0.25) -> 0.125
    assert shape_distance(np.array([10.0, 8.0, 2.0, 4.0]), reference) == pytest.approx(0.125)
    # NaN frames (unlabelled) are skipped
    assert shape_distance(np.array([10.0, NAN, 2.0, 4.0]), reference) == pytest.approx(0.25 / 3)


def test_curve_band_by_hand() -> None:
    curves = np.array([[1.0, 2.0, NAN], [3.0, 4.0, NAN], [5.0, 6.0, 7.0]])
    mean, sd, n = curve_band(curves=curves, min_count=2)
    assert mean == [3.0, 4.0, None] and n == [3, 3, None]  # one value at frame 2: suppressed
    assert sd[:2] == pytest.approx([2.0, 2.0]) and sd[2] is None
    with pytest.raises(DataError, match="single real values"):
        curve_band(curves=curves, min_count=1)


@pytest.mark.parametrize(
    ("curve", "one_systole", "ed_first"),
    [
        ([10.0, 6.0, 2.0, 6.0], True, True),
        ([10.0, 4.0, 10.0, 4.0], False, True),  # two contractions per cycle
        ([6.0, 10.0, 2.0, 4.0], True, False),  # ED at frame 1
    ],
)
def test_shape_checks_by_hand(curve, one_systole, ed_first) -> None:
    assert single_systole(np.asarray(curve)) is one_systole
    assert ed_at_frame0(np.asarray(curve)) is ed_first


def test_band_is_drawn_as_one_curve_only_when_every_frame_averages_the_same_subjects() -> None:
    from synthshare.reports.plots import band_style

    whole = {"n": [5, 5, 5, 5], "min_count": 3}
    assert band_style(whole) == ("o-", "real holdout mean +- sd (every frame labelled, n=5)")
    # ED and ES only, ES at frame 1 for some subjects and 2 for others: markers, no line between other subjects
    for sparse in ({"n": [30, 14, 16, None], "min_count": 3}, {"n": [5, 4, 5, 5], "min_count": 3}):
        fmt, label = band_style(sparse)
        assert fmt == "o" and "not one curve" in label and ">= 3 subjects" in label
