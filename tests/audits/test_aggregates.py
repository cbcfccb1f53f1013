"""Coarsened ROC and histograms for the external report: every released cell is 0 or >= 3 subjects."""

from __future__ import annotations

import numpy as np
import pytest

from audits.aggregates import COSINE_DISTANCE_EDGES, coarse_roc, histogram, merge_cells


@pytest.mark.parametrize(
    "counts, bounds",
    [
        ([[1, 0, 2, 0, 3, 1, 1]], [0, 3, 4, 7]),
        ([[3, 0, 0, 1]], [0, 4]),  # a short tail is folded back until the last group is valid
        ([[0, 0, 3, 0, 0], [1, 0, 2, 0, 0]], [0, 3, 4, 5]),  # both series must be 0 or >= 3
        ([[3, 3, 3]], [0, 1, 2, 3]),  # nothing to merge
        ([[2]], None),  # 2 subjects in all: no grouping can hide one
    ],
)
def test_merge_cells(counts, bounds) -> None:
    assert merge_cells(np.array(counts)) == bounds


def _steps(values: list[float], n: int) -> np.ndarray:
    return np.rint(np.diff(np.asarray(values)) * n).astype(int)


def test_coarse_roc_never_isolates_a_subject() -> None:
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(0.3, 1, 40), rng.normal(0, 1, 20)
    roc = coarse_roc(member_scores=members, nonmember_scores=nonmembers)
    tp, fp = _steps(roc["tpr"], 40), _steps(roc["fpr"], 20)
    assert roc["fpr"][0] == roc["tpr"][0] == 0.0 and roc["fpr"][-1] == roc["tpr"][-1] == 1.0
    assert all(s == 0 or s >= 3 for s in np.concatenate([tp, fp]))
    assert len(roc["fpr"]) >= 4  # still a curve, not just the diagonal
    # control: the exact ROC of these scores has single-subject steps
    order = np.argsort(-np.concatenate([members, nonmembers]))
    labels = np.concatenate([np.ones(40), np.zeros(20)])[order]
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[-1], labels, [-1]]))))
    assert (runs < 3).any()
    assert coarse_roc(member_scores=members[:2], nonmember_scores=nonmembers) is None


def test_histogram_merges_small_bins_on_fixed_edges() -> None:
    h = histogram(name="d", series={"a": [0.5, 0.5, 0.5, 5.0], "b": [0.5, 0.5, 0.5, 0.5]}, edges=(0.0, 1.0, 2.0, 10.0), xlabel="x")
    assert h["edges"] == [0.0, 10.0] and h["counts"] == {"a": [4], "b": [4]}  # a's lone 5.0 is merged away
    h = histogram(name="d", series={"a": [0.5] * 3 + [5.0] * 3}, edges=(0.0, 1.0, 2.0, 10.0), xlabel="x")
    assert h["edges"] == [0.0, 1.0, 2.0, 10.0] and h["counts"] == {"a": [3, 0, 3]}  # control: nothing to merge
    assert histogram(name="d", series={"a": [0.5, 0.6]}, edges=(0.0, 1.0), xlabel="x") is None


def test_distance_edges_resolve_a_release_whose_distances_span_less_than_a_decade() -> None:
    """A demo release's nearest distances lie between 0.02 and 0.15: the fixed grid must still give the
    reviewer several bins there (the earlier 1-3-10 grid fused them into one, a figure with one bar)."""
    rng = np.random.default_rng(0)
    series = {"train": 10 ** rng.uniform(np.log10(0.02), np.log10(0.12), 40),
              "holdout": 10 ** rng.uniform(np.log10(0.03), np.log10(0.15), 40)}
    h = histogram(name="d", series=series, edges=COSINE_DISTANCE_EDGES, xlabel="x", scale="log")
    held = [i for i in range(len(h["edges"]) - 1) if any(c[i] for c in h["counts"].values())]
    assert len(held) >= 4
    assert all(c == 0 or c >= 3 for counts in h["counts"].values() for c in counts)
    assert sum(h["counts"]["train"]) == 40 and sum(h["counts"]["holdout"]) == 40
    assert list(COSINE_DISTANCE_EDGES) == sorted(set(COSINE_DISTANCE_EDGES))  # strictly increasing, fixed
