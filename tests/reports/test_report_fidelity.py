"""fidelity_report: keys, types, fixed values and negative controls on tiny blob cohorts."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from report_cohorts import make_prepared, make_synthetic

from synthshare.errors import DataError
from synthshare.reports import fidelity_report, stats
from synthshare.reports.curves import ed_at_frame0, lv_curve, roughness, single_systole


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def test_keys_types_and_json(real_holdout, real_train, synthetic):
    report = fidelity_report(real=real_holdout, synthetic=synthetic, real_reference=real_train, seed=0)
    for key in ("lv_edv", "lv_esv", "lv_ef"):
        entry = report["controllability"][key]
        assert set(entry) >= {"pearson_r", "mae", "n"}
        assert isinstance(entry["n"], int) and entry["n"] == len(synthetic)
    fd = report["feature_distances"]
    for name in ("frechet", "mmd"):
        assert set(fd[name]) >= {"synthetic_vs_real", "real_vs_real", "ratio"}
    for key in ("lv_ef", "lv_edv", "lv_esv", "rv_edv", "myo_mass"):
        assert isinstance(report["measures"][key]["wasserstein1"], float)
    assert set(report["temporal"]["synthetic"]) >= {"roughness_mean", "ed_at_frame0_fraction", "single_systole_fraction"}
    assert set(report["diversity"]) >= {"synthetic_mean_pairwise", "real_mean_pairwise", "ratio"}
    for path, value in _walk(report):
        assert value is None or isinstance(value, (str, int, float, bool)), path
        assert not (isinstance(value, float) and not math.isfinite(value)), path
        assert type(value).__module__ == "builtins", path
    json.dumps(report, allow_nan=False)


def test_nan_becomes_null_with_note(real_holdout, synthetic):
    # Real subjects label ED/ES only, so the real temporal coherence is undefined: null + a note.
    report = fidelity_report(real=real_holdout, synthetic=synthetic, real_reference=None, seed=0)
    assert report["temporal"]["real"]["roughness_mean"] is None
    assert any(n.startswith("temporal.real") for n in report["notes"])
    # Positive counterpart: fully labelled real subjects give a number and no note.
    full = make_prepared(6, seed=1, all_labelled=True)
    report = fidelity_report(real=full, synthetic=synthetic, real_reference=None, seed=0)
    assert isinstance(report["temporal"]["real"]["roughness_mean"], float)
    assert not any(n.startswith("temporal.real") for n in report["notes"])


def test_controllability_exact_when_measured_equals_requested(real_holdout, synthetic):
    c = fidelity_report(real=real_holdout, synthetic=synthetic, real_reference=None, seed=0)["controllability"]
    for key in ("lv_edv", "lv_esv", "lv_ef"):
        assert c[key]["pearson_r"] == pytest.approx(1.0, abs=1e-12)
        assert c[key]["mae"] == pytest.approx(0.0, abs=1e-12)


def test_controllability_shuffled_is_near_zero(real_holdout):
    # Negative control: requests permuted against the measures; r must collapse (pinned for this seed).
    syn = make_synthetic(40, seed=7)
    order = np.random.default_rng(0).permutation(len(syn))
    shuffled = [dataclasses.replace(s, requested=syn[j].requested) for s, j in zip(syn, order)]
    c = fidelity_report(real=real_holdout, synthetic=shuffled, real_reference=None, seed=0)["controllability"]
    for key in ("lv_edv", "lv_ef"):
        assert abs(c[key]["pearson_r"]) < 0.35
        assert c[key]["mae"] > 0.5


def test_constant_request_gives_null_r_with_note(real_holdout, synthetic):
    flat = [dataclasses.replace(s, requested={**s.requested, "lv_ef": 50.0}) for s in synthetic]
    report = fidelity_report(real=real_holdout, synthetic=flat, real_reference=None, seed=0)
    assert report["controllability"]["lv_ef"]["pearson_r"] is None
    assert any(n.startswith("controllability.lv_ef.pearson_r") for n in report["notes"])


def test_wasserstein_zero_for_identical_sets_and_positive_otherwise():
    a = np.array([55.0, 60.0, 42.0, 70.0])
    assert stats.wasserstein1(a=a, b=a.copy()) == 0.0
    assert stats.wasserstein1(a=a, b=a + 3.0) == pytest.approx(3.0)


def test_feature_distances_zero_for_identical_sets_positive_for_shift():
    x = np.random.default_rng(0).standard_normal((20, 4))
    assert stats.frechet_distance(a=x, b=x.copy()) == pytest.approx(0.0, abs=1e-6)
    assert stats.mmd_rbf(a=x, b=x.copy(), bandwidth=1.0) == pytest.approx(0.0, abs=1e-7)
    # mean shift of 2 in each of 4 dims: |mu_a - mu_b|^2 = 16 exactly, covariances equal
    assert stats.frechet_distance(a=x, b=x + 2.0) == pytest.approx(16.0, rel=1e-6)
    assert stats.mmd_rbf(a=x, b=x + 2.0, bandwidth=1.0) > 0.5


def test_measures_wasserstein_zero_when_synthetic_copies_real():
    real = make_prepared(5, seed=4)
    copies = [
        dataclasses.replace(s, measured=r.measures) for s, r in zip(make_synthetic(5, seed=9), real)
    ]
    report = fidelity_report(real=real, synthetic=copies, real_reference=None, seed=0)
    for key in ("lv_ef", "lv_edv", "lv_esv", "rv_edv", "myo_mass"):
        assert report["measures"][key]["wasserstein1"] == pytest.approx(0.0, abs=1e-9)
    other = fidelity_report(real=real, synthetic=make_synthetic(5, seed=9), real_reference=None, seed=0)
    assert other["measures"]["lv_edv"]["wasserstein1"] > 0.1


def test_real_aggregates_withheld_below_three_subjects(synthetic):
    two = fidelity_report(real=make_prepared(2, seed=4), synthetic=synthetic, real_reference=None, seed=0)
    assert two["measures"]["lv_edv"]["real_mean"] is None and two["measures"]["lv_edv"]["real_sd"] is None
    assert any(n.startswith("measures: real mean/sd withheld") for n in two["notes"])
    three = fidelity_report(real=make_prepared(3, seed=4), synthetic=synthetic, real_reference=None, seed=0)
    assert isinstance(three["measures"]["lv_edv"]["real_mean"], float)


def test_curve_shape_checks():
    good = np.array([100.0, 70.0, 50.0, 80.0])
    assert ed_at_frame0(good) and single_systole(good)
    double = np.array([100.0, 60.0, 95.0, 55.0])  # two contractions per cycle
    late_ed = np.array([70.0, 100.0, 50.0, 60.0])
    assert not single_systole(double)
    assert not ed_at_frame0(late_ed)
    assert roughness(np.array([100.0, 75.0, 50.0, 75.0])) == pytest.approx(np.sqrt(1250.0) / 50.0)
    assert math.isnan(roughness(np.full(4, 80.0)))


def test_rejects_empty_inputs(real_holdout, synthetic):
    with pytest.raises(DataError, match="synthetic"):
        fidelity_report(real=real_holdout, synthetic=[], real_reference=None, seed=0)
    with pytest.raises(DataError, match="holdout"):
        fidelity_report(real=real_holdout[:1], synthetic=synthetic, real_reference=None, seed=0)


def test_deterministic_under_seed(real_holdout, synthetic):
    a = fidelity_report(real=real_holdout, synthetic=synthetic, real_reference=None, seed=3)
    b = fidelity_report(real=real_holdout, synthetic=synthetic, real_reference=None, seed=3)
    assert a == b


# -- no single real subject's value is released (temporal.real, measures) -------------------------


def _temporal_real(real, synthetic):
    report = fidelity_report(real=real, synthetic=synthetic, real_reference=None, seed=0)
    return report["temporal"]["real"], report["notes"]


def test_real_curve_measures_withheld_for_one_fully_labelled_subject(synthetic):
    # One subject labelled on every frame among ED/ES-only ones: its roughness alone would be "the mean".
    real = make_prepared(1, seed=1, all_labelled=True) + make_prepared(4, seed=2)
    summary, notes = _temporal_real(real, synthetic)
    assert summary == {"roughness_mean": None, "ed_at_frame0_fraction": None, "single_systole_fraction": None, "n": None}
    assert any(n.startswith("temporal.real: withheld") for n in notes)


def test_real_curve_measures_at_three_subjects_are_a_mean_and_no_median(synthetic):
    full = make_prepared(3, seed=1, all_labelled=True)
    summary, notes = _temporal_real(full, synthetic)
    assert "roughness_median" not in summary  # with an odd count the median is one subject's value
    values = [roughness(lv_curve(s)) for s in full]
    assert summary["roughness_mean"] == pytest.approx(float(np.mean(values)))
    assert summary["n"] == 3 and isinstance(summary["single_systole_fraction"], float)
    assert not any(n.startswith("temporal.real") for n in notes)


def test_real_curve_count_is_of_finite_roughness(synthetic):
    # Three fully labelled subjects, one with a flat LV curve (roughness NaN): two finite values, withheld.
    full = make_prepared(3, seed=1, all_labelled=True)
    flat = dataclasses.replace(full[0], labels=np.repeat(full[0].labels[:1], full[0].labels.shape[0], axis=0))
    assert math.isnan(roughness(lv_curve(flat)))
    summary, notes = _temporal_real([flat, *full[1:]], synthetic)
    assert summary["roughness_mean"] is None and summary["n"] is None
    assert any(n.startswith("temporal.real: withheld") for n in notes)


def test_real_measure_mean_counts_finite_values(synthetic):
    real = make_prepared(3, seed=4)
    nan_ef = [dataclasses.replace(real[0], measures=dataclasses.replace(real[0].measures, lv_ef=float("nan"))), *real[1:]]
    measures = fidelity_report(real=nan_ef, synthetic=synthetic, real_reference=None, seed=0)
    assert measures["measures"]["lv_ef"]["real_mean"] is None and measures["measures"]["lv_ef"]["real_sd"] is None
    expected = float(np.mean([s.measures.lv_edv for s in real]))
    assert measures["measures"]["lv_edv"]["real_mean"] == pytest.approx(expected)  # control: 3 finite values shown
    assert any(n.startswith("measures: real mean/sd withheld for lv_ef (") for n in measures["notes"])


# -- the guarantee is stated in the report -------------------------------------------------------


@pytest.mark.parametrize(
    "dp, expected, absent",
    [
        (None, "no formal privacy guarantee", "-DP"),
        ({"enabled": False, "epsilon": None, "delta": None}, "no formal privacy guarantee", "-DP"),
        ({"enabled": True, "epsilon": 8.0, "delta": 1e-5}, "(8, 1e-05)-DP per subject", "no formal privacy guarantee"),
        ({"enabled": True, "epsilon": None, "delta": 1e-5}, "no formal privacy guarantee", "-DP per subject"),
    ],
)
def test_fidelity_states_the_privacy_guarantee(real_holdout, synthetic, dp, expected, absent):
    statement = fidelity_report(real=real_holdout, synthetic=synthetic, real_reference=None, seed=0, dp=dp)["privacy_guarantee"]
    assert statement.startswith(expected) and absent not in statement
