"""render_report_html: self-contained, DP statement / loud no-DP banner, aggregates of real data only."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_cohorts import make_prepared

from synthshare.config import load_config
from synthshare.errors import BadInputError, DataError
from synthshare.reports import (
    fidelity_report,
    render_report_html,
    utility_report,
    volume_curve_band,
)
from synthshare.reports.html import NO_GUARANTEE

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//|ftp:)""", re.IGNORECASE)
PNG = "data:image/png;base64,"


def _privacy(*, dp: bool, passed: bool = True, roc: bool = True) -> dict:
    attack = {"name": "denoise-loss", "auc": 0.53, "auc_ci": [0.41, 0.66], "tpr_at_fpr": {"0.01": 0.0}, "min_measurable_fpr": 0.17}
    if roc:
        attack["roc"] = {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.55, 1.0]}
    return {
        "dp": {"enabled": dp, "epsilon": 8.0 if dp else None, "delta": 1e-5 if dp else None, "unit": "subject"},
        "gate": {"passed": passed, "policy_sha256": "0" * 64, "criteria": [{"name": "auc_max", "value": 0.53, "threshold": 0.6, "passed": passed}]},
        "membership": {"attacks": [attack]},
        "memorization": {"copies": 0, "closer_to_train_fraction": 0.5, "binomial_p": 0.62},
    }


@pytest.fixture(scope="module")
def reports(real_holdout, real_train, synthetic):
    fidelity = fidelity_report(real=real_holdout, synthetic=synthetic, real_reference=real_train, seed=0)
    config = load_config("tiny").utility.model_copy(update={"steps": 1})
    utility = utility_report(real_train=real_train, synthetic=synthetic, real_test=real_holdout[:2], config=config, seed=0, progress=False)
    return fidelity, utility


def _render(reports, synthetic, real_holdout, **privacy_kwargs) -> str:
    fidelity, utility = reports
    return render_report_html(
        fidelity=fidelity, utility=utility, privacy=_privacy(**privacy_kwargs), synthetic=synthetic,
        real_curves=volume_curve_band(subjects=real_holdout),
    )


def test_self_contained_with_embedded_figures(reports, synthetic, real_holdout):
    html = _render(reports, synthetic, real_holdout, dp=True)
    assert html.count(PNG) == 5  # volume curves, controllability, measures, ROC, mid-slices (no histograms given)
    assert not EXTERNAL.search(html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    # The detector itself can fail: an external reference is caught.
    assert EXTERNAL.search(html.replace(PNG, "https://example.org/x.png?", 1))


def test_dp_statement_and_loud_no_dp_banner(reports, synthetic, real_holdout):
    with_dp = _render(reports, synthetic, real_holdout, dp=True)
    assert "(8, 1e-05)-DP per subject" in with_dp
    assert NO_GUARANTEE not in with_dp
    without = _render(reports, synthetic, real_holdout, dp=False)
    assert NO_GUARANTEE in without and 'class="banner nodp"' in without
    assert "-DP per subject" not in without


def test_gate_verdict_shown(reports, synthetic, real_holdout):
    assert 'id="gate-verdict">PASSED' in _render(reports, synthetic, real_holdout, dp=True, passed=True)
    assert 'id="gate-verdict">BLOCKED' in _render(reports, synthetic, real_holdout, dp=True, passed=False)


def test_gate_table_values_are_rounded_like_the_rest(reports, synthetic, real_holdout):
    privacy = _privacy(dp=True)
    privacy["gate"]["criteria"][0]["value"] = 0.6233333333333333
    fidelity, utility = reports
    html = render_report_html(fidelity=fidelity, utility=utility, privacy=privacy, synthetic=synthetic,
                              real_curves=volume_curve_band(subjects=real_holdout))
    assert '<td class="num">0.6233</td><td class="num">0.6</td>' in html and "0.62333" not in html


def test_distance_histograms_drawn_when_present(reports, synthetic, real_holdout):
    privacy = _privacy(dp=True)
    plain = render_report_html(fidelity=reports[0], utility=reports[1], privacy=privacy, synthetic=synthetic, real_curves=None)
    privacy["memorization"]["distance_histograms"] = [
        {"name": "distance to nearest synthetic", "edges": [0.0, 1.0, 2.0, 3.0], "counts": {"train": [1, 2, 3], "holdout": [2, 2, 2]}}
    ]
    with_hist = render_report_html(fidelity=reports[0], utility=reports[1], privacy=privacy, synthetic=synthetic, real_curves=None)
    assert with_hist.count(PNG) == plain.count(PNG) + 1
    assert "Distance histograms" in with_hist and "Distance histograms" not in plain


def test_roc_only_when_present(reports, synthetic, real_holdout):
    with_roc = _render(reports, synthetic, real_holdout, dp=True, roc=True)
    without = _render(reports, synthetic, real_holdout, dp=True, roc=False)
    assert with_roc.count(PNG) == without.count(PNG) + 1
    assert "Membership-inference ROC" in with_roc and "Membership-inference ROC" not in without


def test_figures_from_the_audit_report_render(reports, synthetic):
    """The coarsened ROC and the distance histogram that audits.report writes into privacy.json reach the page."""
    import numpy as np

    from audits import evaluate_attack, evaluate_gate, external_privacy_report, load_policy, memorization_audit
    from audits.results import AuditResults
    from synthshare.config import CONFIG_DIR

    rng = np.random.default_rng(0)
    unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    base = rng.standard_normal(64)
    train, holdout, fake = (unit(base + rng.standard_normal((n, 64))) for n in (40, 20, 30))
    results = AuditResults(
        attacks=(evaluate_attack(name="data_nearest_synthetic", member_scores=rng.normal(size=40), nonmember_scores=rng.normal(size=20),
                                 lower_is_member=False, n_bootstrap=50),),
        memorization=memorization_audit(synthetic=fake, train=train, holdout=holdout, n_permutations=99),
    )
    privacy = external_privacy_report(verdict=evaluate_gate(policy=load_policy(path=CONFIG_DIR / "policy" / "default.yaml"), results=results),
                                      results=results)
    privacy["dp"] = {"enabled": False, "epsilon": None, "delta": None, "unit": "subject"}
    assert "roc" in privacy["membership"]["attacks"][0] and privacy["memorization"]["distance_histograms"]
    privacy["gate"]["criteria"].append({"name": "memorization.pixel_ncc", "value": None, "value_withheld": True, "threshold": 0.99,
                                        "passed": True})
    html = render_report_html(fidelity=reports[0], utility=reports[1], privacy=privacy, synthetic=synthetic, real_curves=None)
    del privacy["membership"]["attacks"][0]["roc"], privacy["memorization"]["distance_histograms"]
    plain = render_report_html(fidelity=reports[0], utility=reports[1], privacy=privacy, synthetic=synthetic, real_curves=None)
    assert html.count(PNG) == plain.count(PNG) + 2  # control: without the fields neither figure is drawn
    assert "Membership-inference ROC" in html and "Distance histograms" in html
    assert "Membership-inference ROC" not in plain and "Distance histograms" not in plain
    assert '<td class="num">withheld</td>' in html  # the withheld single-subject value is named, not "None"


def test_no_real_per_subject_value_leaks(reports, synthetic):
    # Real subjects with unmistakable per-subject values: only their aggregate may appear.
    base = make_prepared(4, seed=21)
    values = [987.6543, 876.5432, 765.4321, 654.3219]
    real = [dataclasses.replace(s, measures=dataclasses.replace(s.measures, lv_edv=v)) for s, v in zip(base, values)]
    fidelity = fidelity_report(real=real, synthetic=synthetic, real_reference=None, seed=0)
    html = render_report_html(
        fidelity=fidelity, utility=reports[1], privacy=_privacy(dp=False), synthetic=synthetic,
        real_curves=volume_curve_band(subjects=real),
    )
    mean = sum(values) / len(values)
    assert f"{mean:.4g}" in html  # positive control: the aggregate is shown and the search can find it
    for v in values:
        assert f"{v:.4g}" not in html and f"{v:.2f}" not in html
    for s in real:
        assert s.key not in html


def test_real_curves_must_be_an_aggregate(reports, synthetic, real_holdout):
    with pytest.raises(BadInputError, match="aggregate"):
        render_report_html(fidelity=reports[0], utility=reports[1], privacy=_privacy(dp=True), synthetic=synthetic, real_curves=list(real_holdout))
    with pytest.raises(BadInputError, match="aggregate"):
        render_report_html(fidelity=reports[0], utility=reports[1], privacy=_privacy(dp=True), synthetic=synthetic, real_curves={"mean_ml": [1.0]})


def test_band_suppresses_small_counts(real_holdout):
    band = volume_curve_band(subjects=real_holdout[:2])  # 2 subjects < min_count 3: nothing released
    assert band["mean_ml"] == [None] * 4 and band["n"] == [None] * 4
    band = volume_curve_band(subjects=real_holdout)
    assert band["n"] == [6, None, 6, None]  # ED and ES labelled in all six; other frames unlabelled
    with pytest.raises(DataError, match="min_count"):
        volume_curve_band(subjects=real_holdout, min_count=1)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed")
def test_renders_in_headless_chromium(reports, synthetic, real_holdout, tmp_path: Path):
    page = tmp_path / "report.html"
    page.write_text(_render(reports, synthetic, real_holdout, dp=False))
    dom = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert "synthshare release report" in dom
    assert dom.count(PNG) == 5
    assert NO_GUARANTEE in dom


def test_the_page_states_the_dp_scope_and_never_overclaims():
    from synthshare.privacy_statement import DP_SCOPE
    from synthshare.reports.html import _privacy_summary

    on = _privacy_summary({"dp": {"enabled": True, "epsilon": 8.0, "delta": 1e-5, "unit": "subject"}})
    assert on["dp_enabled"] and "(8, 1e-05)-DP per subject" in on["statement"] and DP_SCOPE in on["statement"]
    assert "every component" not in on["statement"]
    unbounded = _privacy_summary({"dp": {"enabled": True, "epsilon": None, "delta": 1e-5}})
    assert not unbounded["dp_enabled"] and unbounded["statement"].startswith("NO FORMAL PRIVACY GUARANTEE")
    off = _privacy_summary({"dp": {"enabled": False}})
    assert not off["dp_enabled"] and "differential privacy was off" in off["statement"]
