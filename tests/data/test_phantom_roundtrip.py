"""Phantom -> `synthshare data check --json`, in both public layouts: the readers measure the truth."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.data.phantom_writers import TRUTH_CSV, write_phantom_cohort

N = 19  # the fewest subjects the default cohort-size check accepts (5 holdout + 14 train)


@pytest.mark.parametrize("layout", ["acdc", "mnms2"])
def test_data_check_measures_the_phantom_truth(tmp_path, layout):
    root = write_phantom_cohort(out=tmp_path / layout, n=N, seed=3, layout=layout, size=(32, 32))
    result = CliRunner().invoke(app, ["data", "check", str(root), "--json"])
    assert result.exit_code == 0, result.output
    subjects = {s["id"]: s for s in json.loads(result.stdout)["subjects"]}
    with (root / TRUTH_CSV).open(newline="") as handle:
        truth = list(csv.DictReader(handle))
    assert sorted(subjects) == [row["id"] for row in truth]
    for row in truth:
        got = subjects[row["id"]]
        assert got["group"] == row["group"]
        assert (got["frames"], got["slices"]) == (int(row["frames"]), int(row["slices"]))
        assert got["labelled_frames"] == sorted({int(row["ed"]), int(row["es"])})
        assert abs(got["lv_ef"] - float(row["lv_ef"])) <= 2.0, row["id"]
        assert got["lv_edv"] == pytest.approx(float(row["lv_edv"]), rel=1e-3)
    # negative control: against another subject's truth, the EF check fails for some subject
    shifted = truth[1:] + truth[:1]
    assert any(abs(subjects[a["id"]]["lv_ef"] - float(b["lv_ef"])) > 2.0 for a, b in zip(truth, shifted))
