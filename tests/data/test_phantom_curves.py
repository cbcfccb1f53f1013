"""Phantom volume-curve shape: drawn per subject, recorded, replayable, and not set by the conditions."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from synthshare.data.measures import volume_curve_ml
from synthshare.data.phantom import (
    CURVE_SHAPE_RANGES,
    CurveShape,
    draw_curve_shape,
    draw_phantom_params,
    phantom_groups,
    render_phantom_subject,
    volume_curve,
)
from synthshare.data.phantom_writers import TRUTH_CSV, write_phantom_cohort
from synthshare.labels import LV


def test_default_shape_curve_has_hand_computed_values() -> None:
    # EDV 100, EF 60 (ESV 40), 10 frames, ES at 3: ejection s = c/3 -> 100 - 60 (1 - cos(pi s)) / 2;
    # diastole u = (c - 3) / 7: rapid filling to 80% of SV by u = 0.45, diastasis, atrial kick from u = 0.8
    curve = volume_curve(edv=100.0, ef=60.0, frames=10, ed=0, es=3)
    assert curve[[0, 1, 2, 3]] == pytest.approx([100.0, 85.0, 55.0, 40.0])
    assert curve[7] == pytest.approx(88.0) and curve[8] == pytest.approx(88.0)  # diastasis plateau
    assert curve[9] == pytest.approx(40.0 + 60.0 * (0.8 + 0.2 * (1 - np.cos(np.pi * (6 / 7 - 0.8) / 0.2)) / 2))
    # ED elsewhere rolls the same curve
    assert np.allclose(volume_curve(edv=100.0, ef=60.0, frames=10, ed=2, es=5), np.roll(curve, 2))


@pytest.mark.parametrize("seed", range(6))
def test_any_drawn_shape_keeps_edv_esv_exact_and_one_systole(seed: int) -> None:
    shape = draw_curve_shape(noise_seed=seed)
    for frames, ed, es in ((12, 0, 4), (30, 2, 13), (17, 1, 7)):
        curve = volume_curve(edv=150.0, ef=55.0, frames=frames, ed=ed, es=es, shape=shape)
        assert curve[ed] == pytest.approx(150.0) and curve[es] == pytest.approx(67.5)
        assert int(np.argmax(curve)) == ed and int(np.argmin(curve)) == es
        cyclic = np.roll(curve, -ed)
        falls, rises = np.diff(cyclic[: es - ed + 1]), np.diff(np.append(cyclic[es - ed :], cyclic[0]))
        assert (falls < 0).all() and (rises >= 0).all()  # one fall, one rise: a single systole


def test_shape_is_drawn_in_range_recorded_and_reproducible_per_seed() -> None:
    a = draw_phantom_params(rng=np.random.default_rng(3), group="NOR")
    b = draw_phantom_params(rng=np.random.default_rng(3), group="NOR")
    c = draw_phantom_params(rng=np.random.default_rng(4), group="NOR")
    assert a.curve == b.curve and a.curve == draw_curve_shape(noise_seed=a.noise_seed)
    assert c.curve != a.curve  # negative control: another seed draws another shape
    for name, (low, high) in CURVE_SHAPE_RANGES.items():
        assert low <= getattr(a.curve, name) <= high
    assert a.as_dict()["curve"] == dataclasses.asdict(a.curve)
    assert draw_curve_shape(noise_seed=123).ejection_exponent == pytest.approx(1.0865949, abs=1e-6)


def test_the_conditions_do_not_determine_the_curve_shape() -> None:
    # the same EDV, EF and ES frame with the shapes of two subjects: the normalised curves differ
    # by more than 10% of the stroke volume somewhere in diastole; with one shape they are identical
    rng = np.random.default_rng(0)
    shapes = [draw_phantom_params(rng=rng, group=g).curve for g in phantom_groups(20)]
    curves = np.stack([volume_curve(edv=120.0, ef=60.0, frames=20, ed=0, es=7, shape=s) for s in shapes])
    normalised = (curves - 48.0) / 72.0
    assert float(np.max(normalised.std(axis=0))) > 0.1
    assert float(np.max(np.abs(normalised[0] - normalised[1]))) > 0.1
    same = volume_curve(edv=120.0, ef=60.0, frames=20, ed=0, es=7, shape=shapes[0])
    assert np.array_equal(same, curves[0])
    assert CurveShape() not in shapes  # drawn, never the default


def test_truth_csv_records_the_shape_and_replays_the_rendered_curve(tmp_path: Path) -> None:
    out = write_phantom_cohort(out=tmp_path / "c", n=2, seed=8, size=(32, 32))
    with (out / TRUTH_CSV).open() as handle:
        rows = list(csv.DictReader(handle))
    params = [draw_phantom_params(rng=np.random.default_rng(8), group=g, size=(32, 32)) for g in phantom_groups(1)]
    p = params[0]
    assert float(rows[0]["atrial_share"]) == pytest.approx(p.curve.atrial_share, abs=1e-4)
    shape = CurveShape(**{name: float(rows[0][name]) for name in CURVE_SHAPE_RANGES})
    replay = volume_curve(edv=p.lv_edv, ef=p.lv_ef, frames=p.frames, ed=p.ed, es=p.es, shape=shape)
    _, labels, spacing = render_phantom_subject(p)
    rendered = volume_curve_ml(labels, LV, spacing)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    assert np.max(np.abs(rendered - replay)) <= voxel_ml + 1e-3  # exact to one voxel
    # negative control: the other subject's recorded shape does not replay this curve
    other = CurveShape(**{name: float(rows[1][name]) for name in CURVE_SHAPE_RANGES})
    wrong = volume_curve(edv=p.lv_edv, ef=p.lv_ef, frames=p.frames, ed=p.ed, es=p.es, shape=other)
    assert np.max(np.abs(rendered - wrong)) > 10 * voxel_ml
