"""Report figures as base64 PNG strings (matplotlib Agg, no pyplot state, no files).

Inputs are synthetic subjects and aggregates only; nothing here accepts a real subject.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from synthshare.data.prepared import SyntheticSubject
from synthshare.labels import LV, MYO, RV
from synthshare.reports.curves import lv_curve

_DPI = 90


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def volume_curves_png(*, synthetic: Sequence[SyntheticSubject], real_band: Mapping | None) -> str:
    """Synthetic LV volume curves (thin lines) over the real mean +- sd band (aggregate only)."""
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    for s in synthetic:
        c = lv_curve(s)
        phase = np.arange(c.size + 1) / c.size
        ax.plot(phase, np.append(c, c[0]), color="tab:blue", alpha=0.35, lw=1)
    ax.plot([], [], color="tab:blue", label=f"synthetic subjects (n={len(synthetic)})")
    if real_band:
        phase = np.asarray(real_band["phase"], dtype=float)
        mean = np.asarray([np.nan if v is None else v for v in real_band["mean_ml"]], dtype=float)
        sd = np.asarray([np.nan if v is None else v for v in real_band["sd_ml"]], dtype=float)
        ok = np.isfinite(mean)
        fmt, label = band_style(real_band)
        ax.errorbar(phase[ok], mean[ok], yerr=sd[ok], fmt=fmt, color="black", capsize=4, label=label)
        for x, y, e, n in zip(phase[ok], mean[ok], sd[ok], np.asarray(real_band["n"], dtype=object)[ok]):
            ax.annotate(f"n={n}", (x, y + e), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=6)
    ax.set_xlabel("cardiac phase (ED = 0)")
    ax.set_ylabel("LV volume (mL)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below the axes, off the curves
    return _png(fig)


def band_style(real_band: Mapping) -> tuple[str, str]:
    """(matplotlib fmt, legend label) of the real band: one curve only where every frame averages the same subjects.

    A real cohort labels ED and ES only, at frames that differ between subjects: each frame's mean is then over
    other subjects, and a line joining them would draw a curve that no subject has."""
    counts = [n for n in real_band["n"] if n is not None]
    whole = len(counts) == len(real_band["n"]) and len(set(counts)) == 1
    floor = f">= {real_band.get('min_count')} subjects"
    if whole:
        return "o-", f"real holdout mean +- sd (every frame labelled, n={counts[0]})"
    return "o", f"real holdout mean +- sd per labelled frame (frames with {floor}; other subjects each: not one curve)"


def measures_png(*, synthetic: Sequence[SyntheticSubject], measures: Mapping) -> str:
    """Histograms of synthetic measures; the real distribution shown as its mean +- sd span."""
    keys = list(measures)
    fig = Figure(figsize=(2.4 * len(keys), 2.6))
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        values = np.asarray([getattr(s.measured, key) for s in synthetic], dtype=float)
        ax.hist(values[np.isfinite(values)], bins=10, color="tab:blue", alpha=0.7, label="synthetic")
        real_mean, real_sd = measures[key].get("real_mean"), measures[key].get("real_sd")
        if real_mean is not None:
            ax.axvline(real_mean, color="black", label="real mean")
            if real_sd is not None:
                ax.axvspan(real_mean - real_sd, real_mean + real_sd, color="grey", alpha=0.25, label="real +- sd")
        ax.set_title(key, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=6)
    return _png(fig)


def controllability_png(*, synthetic: Sequence[SyntheticSubject]) -> str:
    """Requested vs measured LV EDV, ESV, EF of the synthetic subjects, with the identity line."""
    keys = ("lv_edv", "lv_esv", "lv_ef")
    fig = Figure(figsize=(8, 2.7))
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, 3, i + 1)
        pairs = [(s.requested.get(key), getattr(s.measured, key)) for s in synthetic]
        pts = np.asarray([(float(a), float(b)) for a, b in pairs if isinstance(a, (int, float))], dtype=float)
        if pts.size:
            ax.scatter(pts[:, 0], pts[:, 1], s=10)
            lo, hi = np.nanmin(pts), np.nanmax(pts)
            ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("requested", fontsize=8)
        ax.set_ylabel("measured", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


def roc_png(*, attacks: Sequence[Mapping]) -> str | None:
    """ROC curves of the membership attacks that carry ``roc = {"fpr": [...], "tpr": [...]}``.

    privacy.json's ROC points are coarsened (audits.aggregates.coarse_roc): straight segments
    between them, drawn with markers so a reader does not take them for the exact curve."""
    with_roc = [a for a in attacks if isinstance(a.get("roc"), Mapping)]
    if not with_roc:
        return None
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot()
    for a in with_roc:
        auc = a.get("auc")
        label = f"{a.get('name', 'attack')}" + (f" (AUC {auc:.2f})" if isinstance(auc, (int, float)) else "")
        ax.plot(a["roc"]["fpr"], a["roc"]["tpr"], marker="o", ms=3, label=label)
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=7)
    return _png(fig)


def histograms_png(*, histograms: Sequence[Mapping]) -> str | None:
    """Pre-binned distance histograms, drawn as the cumulative share of each series up to each bin edge.

    Each histogram is {"name", "edges": [...], "counts": {series: [...]}} and optionally "xlabel" and
    "scale" ("log" for a logarithmic distance axis). The merged bins differ in width by decades, so bars
    would show the widest bin, not the most subjects; the share within each edge is exact, and is joined
    by straight lines as the coarsened ROC is. The axis spans the bins that hold a subject.
    """
    if not histograms:
        return None
    fig = Figure(figsize=(4.5 * len(histograms), 3))
    for i, h in enumerate(histograms):
        ax = fig.add_subplot(1, len(histograms), i + 1)
        edges = np.asarray(h["edges"], dtype=float)
        held = np.zeros(max(edges.size - 1, 0), dtype=bool)
        for series, counts in h["counts"].items():
            c = np.asarray(counts, dtype=float)
            held |= c > 0
            total = c.sum()
            share = np.concatenate([[0.0], np.cumsum(c)]) / total if total > 0 else np.zeros(edges.size)
            ax.plot(edges, share, marker="o", markersize=3, label=f"{series} (n={int(total)})")
        if held.any():
            first, last = int(np.argmax(held)), int(held.size - 1 - np.argmax(held[::-1]))
            ax.set_xlim(edges[first], edges[last + 1])
        if h.get("scale") == "log" and edges.size and edges[0] > 0:
            ax.set_xscale("log")
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel(str(h.get("xlabel", "distance")), fontsize=8)
        ax.set_ylabel("share of subjects within the distance", fontsize=8)
        ax.set_title(str(h.get("name", "distances")), fontsize=9)
        ax.legend(fontsize=7)
    return _png(fig)


def midslices_png(*, synthetic: Sequence[SyntheticSubject], subjects: int = 4, frames: int = 8) -> str | None:
    """Mid short-axis slice of the first few synthetic subjects over time, segmentation outlined.

    One grey window per subject (its mid slice's 0.5th to 99.5th percentile over all frames), so a frame
    whose bright blood pool shrinks at end-systole is not re-stretched to look washed out."""
    chosen = list(synthetic)[:subjects]
    if not chosen:
        return None
    t_count = min(frames, chosen[0].image.shape[0])
    fig = Figure(figsize=(1.3 * t_count, 1.4 * len(chosen)))
    for r, s in enumerate(chosen):
        mid = s.image.shape[1] // 2
        steps = np.linspace(0, s.image.shape[0] - 1, t_count).round().astype(int)
        low, high = np.percentile(s.image[:, mid], [0.5, 99.5])
        for c, t in enumerate(steps):
            ax = fig.add_subplot(len(chosen), t_count, r * t_count + c + 1)
            ax.imshow(s.image[t, mid], cmap="gray", vmin=float(low), vmax=float(max(high, low + 1e-6)))
            for label, colour in ((LV, "red"), (MYO, "yellow"), (RV, "cyan")):
                mask = s.labels[t, mid] == label
                if mask.any():
                    ax.contour(mask.astype(float), levels=[0.5], colors=colour, linewidths=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {t}", fontsize=7)
            if c == 0:
                ax.set_ylabel(s.key, fontsize=7)
    return _png(fig)
