"""utility_report: keys, metric values pinned with oracle models, determinism, limits, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from report_cohorts import make_prepared, make_synthetic

from synthshare.config import UtilityConfig, load_config
from synthshare.errors import DataError
from synthshare.reports import utility_report
from synthshare.reports.segnet import build_unet
from synthshare.reports.utility import _evaluate

TINY = load_config("tiny").utility
REGIMES = ("real", "synthetic", "real+synthetic")
CLASSES = ("mean", "LV", "MYO", "RV")


class IntensityOracle(torch.nn.Module):
    """Labels the blob images by nearest class intensity: a perfect segmenter for report_cohorts."""

    centers = torch.tensor([0.1, 0.9, 0.35, 0.75])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -((x - self.centers.view(1, -1, 1, 1)) ** 2)


class Background(torch.nn.Module):
    """Predicts background everywhere: every class is missed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], 4, *x.shape[2:])
        logits[:, 0] = 1.0
        return logits


@pytest.fixture(scope="module")
def tiny_report(real_train, synthetic, real_holdout):
    return utility_report(real_train=real_train, synthetic=synthetic, real_test=real_holdout[:3], config=TINY, seed=0, progress=False)


def test_keys_types_and_ranges(tiny_report):
    for metric in ("dice", "hd95"):
        for regime in REGIMES:
            scores = tiny_report[metric][regime]
            assert set(scores) == set(CLASSES)
            for value in scores.values():
                assert isinstance(value, float)
                if metric == "dice":
                    assert 0.0 <= value <= 1.0
                else:
                    assert value >= 0.0
    assert tiny_report["n_train"] == {"real": 6, "synthetic": 6, "real+synthetic": 12}
    assert tiny_report["n_test"] == 3
    assert tiny_report["n_test_frames"] == 6  # ED + ES labelled
    assert tiny_report["steps"] == TINY.steps
    json.dumps(tiny_report, allow_nan=False)


def test_oracle_scores_perfect_and_background_scores_worst():
    clean = make_prepared(3, seed=1, noise=0.0)
    perfect = _evaluate(IntensityOracle(), clean, TINY)
    for cls in CLASSES:
        assert perfect["dice"][cls] == pytest.approx(1.0)
        assert perfect["hd95"][cls] == pytest.approx(0.0)
    missed = _evaluate(Background(), clean, TINY)
    diagonal = math.sqrt((2 * 10.0) ** 2 + (16 * 3.0) ** 2 + (16 * 3.0) ** 2)  # (S, H, W) x (slice, row, col) mm
    for cls in CLASSES:
        assert missed["dice"][cls] == 0.0
        assert missed["hd95"][cls] == pytest.approx(diagonal)


def test_deterministic_under_seed_and_seed_matters(real_train, synthetic, real_holdout):
    config = TINY.model_copy(update={"steps": 1})
    kwargs = dict(real_train=real_train[:2], synthetic=synthetic[:2], real_test=real_holdout[:1], config=config)
    first = utility_report(**kwargs, seed=0, progress=False)
    assert utility_report(**kwargs, seed=0, progress=True) == first
    assert utility_report(**kwargs, seed=1, progress=False)["dice"] != first["dice"]


def test_max_real_train_caps_real_subjects(real_train, synthetic, real_holdout):
    config = TINY.model_copy(update={"max_real_train": 2, "steps": 1})
    report = utility_report(real_train=real_train, synthetic=synthetic, real_test=real_holdout[:1], config=config, seed=0, progress=False)
    assert report["n_train"] == {"real": 2, "synthetic": 6, "real+synthetic": 8}


def test_missing_source_is_null_with_note(real_train, real_holdout):
    config = TINY.model_copy(update={"steps": 1})
    report = utility_report(real_train=real_train, synthetic=[], real_test=real_holdout[:1], config=config, seed=0, progress=False)
    assert report["dice"]["synthetic"] is None and report["dice"]["real+synthetic"] is None
    assert isinstance(report["dice"]["real"]["mean"], float)
    assert any(n.startswith("synthetic:") for n in report["notes"])


def test_bad_inputs_name_the_problem(real_train, synthetic, real_holdout):
    wide = make_synthetic(2, seed=5, size=24)
    with pytest.raises(DataError, match="in-plane sizes"):
        utility_report(real_train=real_train, synthetic=wide, real_test=real_holdout, config=TINY, seed=0, progress=False)
    with pytest.raises(DataError, match="labelled frame"):
        utility_report(real_train=real_train, synthetic=synthetic, real_test=[], config=TINY, seed=0, progress=False)


def test_padding_handles_sizes_not_divisible_by_levels():
    real = make_prepared(3, seed=1, size=13)
    syn = make_synthetic(2, seed=2, size=13)
    config = UtilityConfig(channels=(4, 8, 8), steps=1, batch_size=2)
    report = utility_report(real_train=real[:2], synthetic=syn, real_test=real[2:], config=config, seed=0, progress=False)
    assert 0.0 <= report["dice"]["real+synthetic"]["mean"] <= 1.0


@pytest.mark.slow
def test_trained_unet_beats_untrained_on_blobs():
    real_test = make_prepared(6, seed=11)
    config = UtilityConfig(channels=(8, 16, 32), steps=80, batch_size=8, lr=3e-3)
    untrained = _evaluate(build_unet(config=config, seed=0), real_test, config)
    report = utility_report(
        real_train=make_prepared(4, seed=12), synthetic=make_synthetic(8, seed=13), real_test=real_test,
        config=config, seed=0, progress=False,
    )
    for regime in REGIMES:
        assert report["dice"][regime]["mean"] > untrained["dice"]["mean"] + 0.3
        assert report["dice"][regime]["mean"] > 0.7
        assert report["hd95"][regime]["mean"] < untrained["hd95"]["mean"]
    assert np.isfinite(untrained["dice"]["mean"])


def test_html_headline_shows_the_gain_at_each_real_count() -> None:
    from synthshare.reports.html import _headline

    utility = {"dice": {}, "n_train": {"real": 20}, "gain_points": {"mean": -0.27, "per_seed": [-0.3, -0.24]},
               "scarcity": [{"n_real": 5, "gain_points": {"mean": 2.18, "per_seed": [2.1, 2.26]}},
                            {"n_real": 3, "gain_points": None}]}
    rows = dict(_headline({}, utility))
    assert rows["Dice gain of adding synthetic data, 20 real training subjects (points)"].startswith("-0.27")
    assert rows["Dice gain of adding synthetic data, 5 real training subjects (points)"].startswith("2.18")
    assert not any("3 real training" in key for key in rows)  # no gain measured: no row
    assert not any("further real" in key for key in rows)  # no reference run: no ceiling row


def test_html_headline_shows_the_reference_gain_under_each_synthetic_gain() -> None:
    from synthshare.reports.html import _headline

    utility = {"dice": {}, "n_train": {"real": 20}, "gain_points": {"mean": -0.27, "per_seed": [-0.3, -0.24]},
               "scarcity": [{"n_real": 5, "gain_points": {"mean": 2.18, "per_seed": [2.1, 2.26]}}],
               "reference": {"n_subjects": 40, "gain_points": {"mean": 0.18, "per_seed": [0.1, 0.26]},
                             "scarcity": [{"n_real": 5, "gain_points": {"mean": 3.12, "per_seed": [3.0, 3.24]}}]}}
    labels = [label for label, _ in _headline({}, utility)]
    rows = dict(_headline({}, utility))
    ceiling = "... of adding 40 further real subjects instead, the ceiling (points)"
    assert labels.count(ceiling) == 2  # one under each size's synthetic gain
    first = labels.index("Dice gain of adding synthetic data, 20 real training subjects (points)")
    assert labels[first + 1] == ceiling
    assert [v for k, v in _headline({}, utility) if k == ceiling] == ["0.18", "3.12"]
    assert rows["Dice gain of adding synthetic data, 5 real training subjects (points)"].startswith("2.18")


def _keys(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def test_no_training_loss_is_released_and_dp_off_is_labelled(tiny_report):
    # The last step's loss is a function of a few real slices: it is logged, never reported.
    assert "final_loss" not in set(_keys(tiny_report))
    assert tiny_report["privacy_guarantee"] == "no formal privacy guarantee"


def test_dp_on_states_the_guarantee_and_logs_the_loss(real_train, synthetic, real_holdout, caplog):
    config = TINY.model_copy(update={"steps": 1})
    dp = {"enabled": True, "epsilon": 8.0, "delta": 1e-5, "unit": "subject"}
    with caplog.at_level("INFO", logger="synthshare.reports.utility"):
        report = utility_report(real_train=real_train[:3], synthetic=synthetic[:2], real_test=real_holdout[:1],
                                config=config, seed=0, progress=False, dp=dp)
    assert report["privacy_guarantee"].startswith("(8, 1e-05)-DP per subject")
    assert "does not cover the aggregate fidelity, utility and audit statistics" in report["privacy_guarantee"]
    assert "final_loss" not in set(_keys(report)) and isinstance(report["dice"]["real"]["mean"], float)
    assert any("last training loss" in r.getMessage() for r in caplog.records)  # kept inside, in the log
