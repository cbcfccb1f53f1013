"""The released prior holds the volumes and the mass on a log scale (models/conditioning.py: PRIOR_SPACE)."""

from __future__ import annotations

import numpy as np
import pytest

from privacy import PrivacyLedger
from synthshare.models.conditioning import (
    CONDITION_GROUPS,
    MEASURE_FIELDS,
    PRIOR_SPACE,
    from_prior_space,
    prior_log_mask,
    to_prior_space,
)
from synthshare.sample.conditions import complete, draw_conditions
from synthshare.train.conditions_stage import codec_moments, release_conditions

CV = 0.15  # the within-group coefficient of variation of every volume in the cohort below


def _cohort(n_per_group: int = 60, seed: int = 0) -> list[dict]:
    """Two groups whose volumes differ 7-fold and spread alike in proportion (as real cohorts do)."""
    rng = np.random.default_rng(seed)
    rows = []
    for group, edv, esv in (("HCM", 110.0, 30.0), ("DCM", 300.0, 230.0)):
        for _ in range(n_per_group):
            e = edv * np.exp(rng.normal(0.0, CV))
            s = min(esv * np.exp(rng.normal(0.0, CV)), 0.9 * e)
            rows.append({"group": group, "lv_edv": e, "lv_esv": s, "lv_ef": 100 * (e - s) / e,
                         "rv_edv": 0.9 * e * np.exp(rng.normal(0.0, CV)), "myo_mass": 150 * np.exp(rng.normal(0.0, CV)),
                         "slices": float(rng.integers(8, 11))})
    return rows


def _released(rows: list[dict]) -> dict:
    payload, _ = release_conditions(conditions=rows, noise_multiplier=None, ledger=PrivacyLedger.disabled(), seed=0,
                                    space=PRIOR_SPACE)
    return payload


def test_scale_maps_are_inverse_and_only_volumes_are_logged() -> None:
    x = np.array([[150.0, 60.0, 60.0, 140.0, 120.0, 9.0], [2.0, 1.5, 5.0, 3.0, 4.0, 1.0]])
    assert [f for f, m in zip(MEASURE_FIELDS, prior_log_mask(PRIOR_SPACE)) if m] == ["lv_edv", "lv_esv", "rv_edv", "myo_mass"]
    y = to_prior_space(x)
    np.testing.assert_allclose(y[:, [2, 5]], x[:, [2, 5]])  # EF and slices stay linear
    np.testing.assert_allclose(y[0, 0], np.log(150.0))
    np.testing.assert_allclose(from_prior_space(y), x)
    np.testing.assert_array_equal(to_prior_space(x, None), x)  # a run released before the log scale
    with pytest.raises(ValueError, match="unknown prior space"):
        prior_log_mask("sqrt")


def test_draws_keep_each_groups_spread_in_proportion_to_its_size() -> None:
    """The linear prior pooled one SD in mL over the groups: a small heart's ESV got a spread sized for a
    large one's (CV about 0.8 here; it drew HCM end-systolic volumes of 4 mL on the phantom)."""
    rows = _cohort()
    prior = _released(rows)
    assert prior["statistics"]["space"] == PRIOR_SPACE
    draws = draw_conditions(prior=prior, n=4000, rng=np.random.default_rng(1))
    for group, esv in (("HCM", 30.0), ("DCM", 230.0)):
        v = np.array([d["lv_esv"] for d in draws if d["group"] == group])
        assert v.size > 1000
        assert abs(np.median(v) / esv - 1.0) < 0.06  # the group's typical size
        cv = np.std(np.log(v))
        assert 0.11 < cv < 0.20, (group, cv)  # its own proportional spread, not a pooled one
        assert v.min() > 0.4 * esv
    # control: the same cohort released on the linear scale gives the small hearts the pooled spread
    linear, _ = release_conditions(conditions=rows, noise_multiplier=None, ledger=PrivacyLedger.disabled(), seed=0,
                                   space="linear")
    assert linear["statistics"]["space"] == "linear"
    hcm = np.array([d["lv_esv"] for d in draw_conditions(prior=linear, n=4000, rng=np.random.default_rng(1))
                    if d["group"] == "HCM"])
    assert np.std(np.log(hcm)) > 0.5 and np.percentile(hcm, 1) < 10.0


def test_codec_moments_are_the_mixture_moments_of_the_draws() -> None:
    prior = _released(_cohort())
    stats = prior["statistics"]
    mean, std = codec_moments(counts=np.asarray(stats["counts"]), means=np.asarray(stats["means"]),
                              covariance=np.asarray(stats["covariance"]), space=PRIOR_SPACE)
    np.testing.assert_allclose(prior["codec"]["mean"], mean)
    # Monte Carlo of the released model itself (unclipped, before ESV/EF post-processing)
    rng = np.random.default_rng(2)
    counts = np.asarray(stats["counts"])
    groups = rng.choice(len(counts), p=counts / counts.sum(), size=200_000)
    z = np.asarray(stats["means"])[groups] + rng.multivariate_normal(np.zeros(6), np.asarray(stats["covariance"]), size=groups.size)
    x = from_prior_space(z)
    for j, field in enumerate(MEASURE_FIELDS):
        assert mean[j] == pytest.approx(x[:, j].mean(), rel=0.01), field
        assert std[j] == pytest.approx(x[:, j].std(), rel=0.03), field


def test_a_linear_prior_of_an_older_run_still_draws_on_the_linear_scale() -> None:
    means = [[150.0, 60.0, 60.0, 150.0, 100.0, 9.0] for _ in CONDITION_GROUPS]
    linear = {"statistics": {"counts": [1.0] + [0.0] * (len(CONDITION_GROUPS) - 1), "means": means,
                             "covariance": np.diag([100.0, 25.0, 1.0, 100.0, 100.0, 0.0]).tolist(),
                             "lower": [1.0, 0.0, 0.0, 0.0, 0.0, 1.0], "upper": [600.0, 500.0, 100.0, 600.0, 500.0, 64.0]}}
    draws = draw_conditions(prior=linear, n=2000, rng=np.random.default_rng(3))
    edv = np.array([d["lv_edv"] for d in draws])
    assert edv.mean() == pytest.approx(150.0, abs=1.0) and edv.std() == pytest.approx(10.0, rel=0.1)
    assert complete(condition={"group": "NOR", "lv_edv": 140.0, "lv_esv": 50.0}, prior=linear)["rv_edv"] == 150.0


def test_missing_measures_are_filled_with_the_groups_geometric_mean() -> None:
    rows = _cohort()
    prior = _released(rows)
    filled = complete(condition={"group": "DCM", "lv_edv": 290.0, "lv_esv": 220.0}, prior=prior)
    rv = np.array([r["rv_edv"] for r in rows if r["group"] == "DCM"])
    assert filled["rv_edv"] == pytest.approx(float(np.exp(np.log(rv).mean())), rel=1e-9)
    assert filled["lv_ef"] == pytest.approx(100 * 70 / 290)


def test_codec_of_a_linear_prior_is_the_mixture_mean_and_total_variance() -> None:
    """On the linear scale the moments reduce to the earlier formula: within plus between the groups."""
    payload, _ = release_conditions(conditions=_cohort(), noise_multiplier=None, ledger=PrivacyLedger.disabled(), seed=0,
                                    space="linear")
    stats = payload["statistics"]
    counts, means, cov = (np.asarray(stats[k]) for k in ("counts", "means", "covariance"))
    w = counts / counts.sum()
    mean = w @ means
    std = np.sqrt(np.maximum(np.diag(cov) + w @ (means - mean) ** 2, 1e-6))
    np.testing.assert_allclose(payload["codec"]["mean"], mean)
    np.testing.assert_allclose(payload["codec"]["std"], std, rtol=1e-9)


def test_training_releases_log_volumes_without_dp_and_the_linear_prior_under_dp(cohort, tiny_config, tmp_path, monkeypatch):
    """Under DP the log scale amplifies the noise on the variances (models/conditioning.py: prior_space); the
    scale is part of the statistics stage hash, so a run never resumes on a prior released on the other scale."""
    from synthshare.train.run_dir import RunDir
    from synthshare.train.trainer import conditions_fingerprint, stage_hashes, train_conditions

    monkeypatch.setenv("SYNTHSHARE_HOME", str(tmp_path / "home"))  # a throwaway DP-noise key
    keys = cohort.keys[:6]
    dp = tiny_config.with_updates({"privacy": {"epsilon": 8.0}})
    spaces = {}
    for name, config in (("plain", tiny_config), ("dp", dp)):
        payload, _ = train_conditions(cohort=cohort, train_keys=keys, config=config, run_dir=RunDir(tmp_path / name))
        spaces[name] = payload["statistics"]["space"]
        draws = draw_conditions(prior=payload, n=50, rng=np.random.default_rng(0))
        assert all(d["lv_edv"] > 1.0 and 0.0 < d["lv_ef"] < 100.0 for d in draws)
    assert spaces == {"plain": PRIOR_SPACE, "dp": "linear"}
    fp = conditions_fingerprint(cohort=cohort, train_keys=keys)
    log_hashes = stage_hashes(config=tiny_config, train_keys=keys, conditions_sha256=fp)
    monkeypatch.setattr("synthshare.train.trainer.prior_space", lambda private: "linear")  # same config, other scale
    linear_hashes = stage_hashes(config=tiny_config, train_keys=keys, conditions_sha256=fp)
    assert all(linear_hashes[s] != log_hashes[s] for s in log_hashes)  # the statistics and every stage after them
