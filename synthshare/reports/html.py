"""report.html: one self-contained page (inline CSS, base64 PNG figures, no scripts, no URLs).

It goes into the release, so it shows synthetic subjects and aggregates only. The real data can
enter solely through ``real_curves``, which must be the aggregate band of curves.volume_curve_band;
any per-subject real object is refused.

Optional privacy fields it draws when present (written by audits.report.external_privacy_report):
- ``membership.attacks[i].roc = {"fpr": [...], "tpr": [...]}``: coarsened ROC curves, each step
  covering 0 or >= 3 members and non-members (audits.aggregates.coarse_roc);
- ``memorization.distance_histograms = [{"name", "edges": [...], "counts": {series: [...]},
  "xlabel", "scale"}]``: pre-binned distance histograms on fixed edges, merged so that every count
  is 0 or >= 3 (counts only, so no per-subject distance is released).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from synthshare.data.prepared import SyntheticSubject
from synthshare.errors import BadInputError
from synthshare.privacy_statement import NO_GUARANTEE as PLAIN_NO_GUARANTEE
from synthshare.privacy_statement import guarantee_statement
from synthshare.reports import plots

NO_GUARANTEE = "NO FORMAL PRIVACY GUARANTEE: differential privacy was off when this generator was trained"
_BAND_KEYS = {"label", "frames", "phase", "mean_ml", "sd_ml", "n", "min_count"}
_LONG_LIST = 8


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, formatted value) rows of a JSON report; long numeric lists are summarised."""
    if isinstance(value, Mapping):
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            rows += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            if len(value) > _LONG_LIST:
                return [(prefix, f"[{len(value)} values]")]
            return [(prefix, "[" + ", ".join(_fmt(v) for v in value) + "]")]
        rows = []
        for i, v in enumerate(value):
            rows += flatten(v, f"{prefix}[{i}]")
        return rows
    return [(prefix, _fmt(value))]


def _privacy_summary(privacy: Mapping) -> dict:
    dp = privacy.get("dp") or {}
    gate = privacy.get("gate") or {}
    passed = gate.get("passed")
    # one sentence for every report (privacy_statement.guarantee_statement): the scope of a DP guarantee,
    # or the reason there is none (DP off, or on without a finite epsilon)
    guarantee = guarantee_statement(dp)
    formal = not guarantee.startswith(PLAIN_NO_GUARANTEE)
    if formal:
        statement = f"Differential privacy: {guarantee}."
    elif dp.get("enabled") is True:
        statement = "NO FORMAL PRIVACY GUARANTEE: differential privacy was on, but no finite (epsilon, delta) was accounted"
    else:
        statement = NO_GUARANTEE
    return {
        "dp_enabled": formal,
        "statement": statement,
        "gate_passed": passed is True,
        "gate_text": "PASSED" if passed is True else ("BLOCKED" if passed is False else "NO VERDICT (treat as blocked)"),
        "policy": gate.get("policy_sha256"),
        # a criterion whose value is a function of single real subjects is released without it
        "criteria": [{**c, "value": "withheld" if c.get("value_withheld") else _fmt(c.get("value")),
                      "threshold": _fmt(c.get("threshold"))}
                     for c in gate.get("criteria", []) if isinstance(c, Mapping)],
    }


def _check_band(real_curves: Any) -> Mapping | None:
    if real_curves is None:
        return None
    if not isinstance(real_curves, Mapping) or not _BAND_KEYS <= set(real_curves):
        raise BadInputError(
            "render_report_html: real_curves must be the aggregate band from "
            "synthshare.reports.volume_curve_band(subjects=holdout), never per-subject real curves"
        )
    return real_curves


def _headline(fidelity: Mapping, utility: Mapping) -> list[tuple[str, str]]:
    rows = []
    for key, v in (fidelity.get("controllability") or {}).items():
        rows.append((f"controllability {key}: Pearson r", _fmt(v.get("pearson_r"))))
    calibration = fidelity.get("condition_calibration") or {}
    if calibration.get("enabled"):
        rows.append((f"requests divided by the generator's measured overshoot ({_fmt(calibration.get('n'))} prior draws)",
                     ", ".join(f"{k} {_fmt(v)}" for k, v in (calibration.get("factors") or {}).items())))
    temporal = fidelity.get("temporal") or {}
    single = (temporal.get("synthetic") or {}).get("single_systole_fraction")
    if single is not None:
        rows.append(("synthetic LV volume curves with one systole (share)", _fmt(single)))
    check = temporal.get("plausibility_check") or {}
    if check.get("checked"):
        rows.append(("... plausible on the first draw, the model alone (share); extra draws; kept implausible",
                     f"{_fmt(check.get('first_draw_plausible_fraction'))}; {_fmt(check.get('extra_draws'))}; "
                     f"{_fmt(check.get('implausible_kept'))}"))
    fd = (fidelity.get("feature_distances") or {}).get("frechet") or {}
    rows.append(("Frechet distance, synthetic / real-vs-real", _fmt(fd.get("ratio"))))
    for regime, scores in (utility.get("dice") or {}).items():
        rows.append((f"mean Dice on real test, trained on {regime}", _fmt((scores or {}).get("mean"))))
    real_n = (utility.get("n_train") or {}).get("real")
    reference = utility.get("reference") if isinstance(utility.get("reference"), Mapping) else {}
    ceilings = {r.get("n_real"): r.get("gain_points") for r in reference.get("scarcity") or [] if isinstance(r, Mapping)}
    ceilings[real_n] = reference.get("gain_points")
    for n, gain in [(real_n, utility.get("gain_points"))] + [(r.get("n_real"), r.get("gain_points"))
                                                             for r in utility.get("scarcity") or [] if isinstance(r, Mapping)]:
        if isinstance(gain, Mapping):
            rows.append((f"Dice gain of adding synthetic data, {n} real training subjects (points)", _fmt(gain.get("mean"))))
        if isinstance(ceilings.get(n), Mapping):
            rows.append((f"... of adding {_fmt(reference.get('n_subjects'))} further real subjects instead, the ceiling "
                         f"(points)", _fmt(ceilings[n].get("mean"))))
    return rows


def render_report_html(
    *,
    fidelity: dict,
    utility: dict,
    privacy: dict,
    synthetic: Sequence[SyntheticSubject],
    real_curves: dict | None,
) -> str:
    """The release's report.html as a string (write it atomically where it belongs)."""
    band = _check_band(real_curves)
    summary = _privacy_summary(privacy)
    attacks = [a for a in (privacy.get("membership") or {}).get("attacks", []) if isinstance(a, Mapping)]
    histograms = (privacy.get("memorization") or {}).get("distance_histograms") or []
    figures = [
        ("LV volume curves", "Synthetic subjects against the real holdout's mean +- sd (aggregate only; n: subjects "
                             "labelled at that frame).",
         plots.volume_curves_png(synthetic=synthetic, real_band=band)),
        ("Controllability", "Requested vs measured LV volumes and EF of the synthetic subjects.",
         plots.controllability_png(synthetic=synthetic)),
    ]
    if fidelity.get("measures"):
        figures.append(("Clinical measures", "Synthetic histograms; real shown as mean +- sd.",
                        plots.measures_png(synthetic=synthetic, measures=fidelity["measures"])))
    optional = [
        ("Membership-inference ROC", "Attacks on members (train) vs non-members (holdout), coarsened so that every "
         "segment spans 0 or at least 3 subjects of each group.", plots.roc_png(attacks=attacks)),
        ("Distance histograms", "Share of synthetic subjects whose nearest real subject lies within each distance: "
         "a curve to the left of the other means nearer. Cumulated from the memorisation audit's pre-binned counts, in "
         "which every bin holds 0 or at least 3 subjects, so the curves are exact only at the marked bin edges.",
         plots.histograms_png(histograms=histograms)),
        ("Synthetic subjects over time", "Mid short-axis slice; red LV, yellow myocardium, cyan RV.",
         plots.midslices_png(synthetic=synthetic)),
    ]
    figures += [f for f in optional if f[2] is not None]
    env = Environment(loader=PackageLoader("synthshare.reports", "templates"), autoescape=True, undefined=StrictUndefined)
    return env.get_template("report.html.j2").render(
        summary=summary,
        headline=_headline(fidelity, utility),
        n_synthetic=len(synthetic),
        figures=figures,
        tables=[("privacy.json", flatten(privacy)), ("fidelity.json", flatten(fidelity)), ("utility.json", flatten(utility))],
    )
