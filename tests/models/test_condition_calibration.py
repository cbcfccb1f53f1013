"""sampling.calibration_n: the requests' volumes divided by the generator's measured overshoot.

A scripted generator that draws every volume a steady factor too large: the calibration measures that factor on
prior draws and, applied, brings the measured volumes back to the request; the request stays in `requested` and
what the networks got is `model_conditions`, which reproduces the subject with its seed; 0 leaves the sampler as
it was; the factors reach fidelity.json, the sidecar and the datasheet.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pydantic import ValidationError

from synthshare.config import SamplingConfig
from synthshare.labels import LV, MYO, RV
from synthshare.models.conditioning import MEASURE_UPPER
from synthshare.sample import sampler
from synthshare.sample.calibration import MAX_FACTOR, Calibration, fit_factors, model_condition
from synthshare.sample.sampler import calibrate_conditions, sample_batch, sample_cohort

SPACING = (5.0, 5.0, 4.0)  # 0.1 mL per voxel
SHAPE = (8, 8, 24, 24)  # frames, slices, rows, columns
OVERSHOOT = 1.25


def _subject_labels(condition: dict, factor: float) -> np.ndarray:
    """An ED-first LV curve down to ESV at frame 3; every volume `factor` times its request (0.1 mL voxels)."""
    labels = np.zeros(SHAPE, dtype=np.uint8)
    per_ml = 1000.0 / float(np.prod(SPACING))
    edv, esv = factor * per_ml * float(condition["lv_edv"]), factor * per_ml * float(condition["lv_esv"])
    lv = np.rint(np.interp(np.arange(SHAPE[0]), [0, 3, 7, 8], [edv, esv, 0.9 * edv, edv])).astype(int)
    myo = int(np.rint(factor * per_ml * float(condition["myo_mass"]) / 1.05))
    rv = int(np.rint(factor * per_ml * float(condition["rv_edv"])))
    assert lv.max() + myo + rv <= labels[0].size, "the scripted heart must fit the frame"
    for t in range(SHAPE[0]):
        flat = labels[t].reshape(-1)
        flat[: lv[t]] = LV
        flat[lv[t] : lv[t] + myo] = MYO
        flat[lv[t] + myo : lv[t] + myo + rv] = RV
    return labels


@pytest.fixture()
def overshooting(monkeypatch, generator):
    """sample_batch replaced by a generator that draws every volume OVERSHOOT times its condition."""
    given: list[dict] = []

    def fake(*, generator, conditions, seeds, independent_frames=False):
        given.extend(dict(c) for c in conditions)
        labels = np.stack([_subject_labels(c, OVERSHOOT) for c in conditions])
        return np.stack([np.full(SHAPE, float(s % 997), dtype=np.float32) for s in seeds]), labels

    monkeypatch.setattr(sampler, "sample_batch", fake)
    config = generator.config.model_copy(update={
        "data": generator.config.data.model_copy(update={"spacing": SPACING}),
        "sampling": generator.config.sampling.model_copy(update={"calibration_n": 12, "plausibility_tries": 1}),
    })
    return dataclasses.replace(generator, config=config), given


def test_calibration_n_is_bounded_and_off_by_default():
    assert SamplingConfig().calibration_n == 0
    with pytest.raises(ValidationError):
        SamplingConfig(calibration_n=-1)


def test_the_factor_is_the_ratio_of_sums_and_is_capped():
    requested = [{"lv_edv": 100.0, "lv_esv": 40.0, "rv_edv": 90.0, "myo_mass": 120.0},
                 {"lv_edv": 200.0, "lv_esv": 60.0, "rv_edv": 110.0, "myo_mass": 80.0}]
    measured = [{"lv_edv": 130.0, "lv_esv": 52.0, "rv_edv": 90.0, "myo_mass": 600.0},
                {"lv_edv": 230.0, "lv_esv": 78.0, "rv_edv": 110.0, "myo_mass": 400.0}]
    cal = fit_factors(requested=requested, measured=measured)
    assert cal.n == 2
    assert cal.factors["lv_edv"] == pytest.approx(360 / 300) and cal.factors["lv_esv"] == pytest.approx(130 / 100)
    assert cal.factors["rv_edv"] == pytest.approx(1.0)
    assert cal.raw["myo_mass"] == pytest.approx(5.0) and cal.factors["myo_mass"] == MAX_FACTOR


def test_model_condition_divides_the_volumes_and_keeps_the_rest():
    cal = Calibration(factors={"lv_edv": 1.25, "lv_esv": 2.0, "rv_edv": 0.8, "myo_mass": 1.0}, n=4, raw={})
    request = {"group": "DCM", "lv_edv": 250.0, "lv_esv": 200.0, "lv_ef": 20.0, "rv_edv": 100.0, "myo_mass": 150.0,
               "slices": 9.0}
    out = model_condition(request, cal)
    assert out["group"] == "DCM" and out["slices"] == 9.0 and out["myo_mass"] == 150.0
    assert out["lv_edv"] == pytest.approx(200.0) and out["lv_esv"] == pytest.approx(100.0)
    assert out["rv_edv"] == pytest.approx(125.0) and out["lv_ef"] == pytest.approx(50.0)
    assert request["lv_edv"] == 250.0  # the request itself is untouched
    assert model_condition(request, None) == request
    # bounds: ESV within 5-95% of EDV, every volume within the codec's range
    small = model_condition({**request, "lv_esv": 5.0}, Calibration(factors={**cal.factors, "lv_esv": 1.5}, n=4, raw={}))
    assert small["lv_esv"] == pytest.approx(0.05 * small["lv_edv"])
    big = model_condition({**request, "rv_edv": 590.0}, cal)
    assert big["rv_edv"] == MEASURE_UPPER[3]


def test_a_steady_overshoot_is_measured_and_divided_out(overshooting):
    gen, given = overshooting
    cal = calibrate_conditions(generator=gen, seed=5)
    assert cal is not None and cal.n == 12
    for field, factor in cal.factors.items():
        assert factor == pytest.approx(OVERSHOOT, rel=0.02), field
    assert len(given) == 12
    assert calibrate_conditions(generator=gen, seed=5) == cal  # deterministic

    plain_gen = dataclasses.replace(gen, config=gen.config.model_copy(update={
        "sampling": gen.config.sampling.model_copy(update={"calibration_n": 0})}))
    plain = sample_cohort(run_dir=None, n=10, seed=3, generator=plain_gen)
    fixed = sample_cohort(run_dir=None, n=10, seed=3, generator=gen, calibration=cal)

    def ratio(cohort, field):  # of sums: the tiny prior clips a few volumes to 0
        return sum(getattr(s.measured, field) for s in cohort) / sum(float(s.requested[field]) for s in cohort)

    for field in ("lv_edv", "lv_esv", "rv_edv", "myo_mass"):
        assert ratio(plain, field) == pytest.approx(OVERSHOOT, rel=0.03), field
        assert ratio(fixed, field) == pytest.approx(1.0, abs=0.03), field
    assert [s.requested for s in fixed] == [s.requested for s in plain]  # the same requests, as asked
    assert all(s.model_conditions == s.requested for s in plain)
    assert all(s.model_conditions["lv_edv"] == pytest.approx(s.requested["lv_edv"] / cal.factors["lv_edv"]) for s in fixed)
    # without an explicit calibration, sample_cohort measures one itself (sampling.calibration_n > 0)
    auto = sample_cohort(run_dir=None, n=10, seed=3, generator=gen)
    own = sample_cohort(run_dir=None, n=10, seed=3, generator=gen, calibration=calibrate_conditions(generator=gen, seed=3))
    assert [s.model_conditions for s in auto] == [s.model_conditions for s in own]


def test_a_calibrated_subject_is_reproduced_by_its_seed_and_model_conditions(trained_run, generator):
    gen = dataclasses.replace(generator, config=generator.config.model_copy(update={
        "sampling": generator.config.sampling.model_copy(update={"calibration_n": 4, "plausibility_tries": 1})}))
    cal = calibrate_conditions(generator=gen, seed=0)
    subjects = sample_cohort(run_dir=trained_run.root, n=3, seed=2, generator=gen, calibration=cal)
    s = subjects[1]
    assert s.model_conditions != s.requested
    image, _ = sample_batch(generator=gen, conditions=[s.model_conditions], seeds=[s.seed])
    np.testing.assert_allclose(image[0], s.image, atol=1e-5)
    other, _ = sample_batch(generator=gen, conditions=[s.requested], seeds=[s.seed])
    assert not np.allclose(other[0], s.image, atol=1e-5)
