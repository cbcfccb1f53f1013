"""`synthshare data check`: the JSON contract, the table, exit codes and the bad-input table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app

# The NIfTI cohort writers live in tests/data/cohort_writers.py; load them under a unique module name.
_spec = importlib.util.spec_from_file_location("_data_cohorts", Path(__file__).parents[1] / "data" / "cohort_writers.py")
cohorts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cohorts)

KEYS = ["id", "group", "frames", "slices", "spacing", "labelled_frames", "lv_edv", "lv_esv", "lv_ef", "rv_edv", "rv_esv", "rv_ef", "myo_mass"]
runner = CliRunner()


def _check(*args: str):
    return runner.invoke(app, ["data", "check", *args])


@pytest.mark.parametrize("writer", ["write_acdc_cohort", "write_mnms2_cohort", "write_generic_cohort", "write_synthetic_cohort"])
def test_json_report_of_a_good_cohort(tmp_path, writer):
    root = getattr(cohorts, writer)(tmp_path / "cohort")
    result = _check(str(root), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == ["subjects", "problems"] and report["problems"] == []
    assert len(report["subjects"]) == cohorts.MIN_COHORT
    row = report["subjects"][0]
    assert list(row) == KEYS
    assert row["frames"] == 4 and row["slices"] == 2 and row["spacing"] == [1.5, 1.5, 8.0]
    for key, value in cohorts.EXPECTED.items():
        assert row[key] == pytest.approx(value, abs=1e-9), key


def test_table_lists_subjects(tmp_path):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc")
    result = _check(str(root))
    assert result.exit_code == 0, result.output
    assert f"patient{cohorts.MIN_COHORT:03d}" in result.stdout and "no problems found" in result.stdout


def test_quiet_gives_the_same_report(tmp_path):
    root = cohorts.write_synthetic_cohort(tmp_path / "s")
    loud, quiet = _check(str(root), "--json"), runner.invoke(app, ["--quiet", "data", "check", str(root), "--json"])
    assert loud.exit_code == quiet.exit_code == 0
    assert json.loads(quiet.stdout) == json.loads(loud.stdout)


def test_problems_exit_2_and_still_report(tmp_path):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc", n=cohorts.MIN_COHORT + 1)
    image = cohorts.cine(cohorts.SHAPE, cohorts.FRAMES, 0)
    image[0, 0, 0, 0] = np.nan
    cohorts.write_nifti(root / "training" / "patient003" / "patient003_4d.nii.gz", image, cohorts.SPACING)
    result = _check(str(root), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert len(report["subjects"]) == cohorts.MIN_COHORT
    assert [p["subject"] for p in report["problems"]] == ["patient003"]
    assert "patient003_4d.nii.gz" in report["problems"][0]["message"]
    table = _check(str(root))
    assert table.exit_code == 2 and "patient003_4d.nii.gz" in table.output and "NaN/Inf" in table.output


@pytest.mark.parametrize(
    "breaker, filename",
    [
        (lambda root: (root / "training" / "patient002" / "patient002_frame01_gt.nii.gz").unlink(), "patient002_frame01_gt.nii.gz"),
        (lambda root: (root / "training" / "patient002" / "Info.cfg").write_text("ED: 1\nGroup: NOR\n"), "Info.cfg"),
        (lambda root: cohorts.write_acdc_subject(root, "patient002", split="testing"), "testing"),
    ],
    ids=["missing labels", "Info.cfg lacks ES", "duplicate id"],
)
def test_bad_input_exit_2_names_the_file(tmp_path, breaker, filename):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc")
    assert _check(str(root)).exit_code == 0  # control
    breaker(root)
    result = _check(str(root))
    assert result.exit_code == 2 and filename in result.output and "patient002" in result.output


def test_too_small_cohort_exit_2(tmp_path):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc", n=cohorts.MIN_COHORT - 1)
    result = _check(str(root), "--json")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 1 and problems[0]["subject"] is None and "too few" in problems[0]["message"]


def test_format_override(tmp_path):
    root = cohorts.write_generic_cohort(tmp_path / "both")
    cohorts.write_acdc_cohort(root, n=cohorts.MIN_COHORT + 1)
    detected = json.loads(_check(str(root), "--json").stdout)
    assert detected["subjects"][0]["id"] == "case00"
    result = _check(str(root), "--json", "--format", "acdc")
    assert result.exit_code == 0
    assert [s["id"] for s in json.loads(result.stdout)["subjects"]][-1] == f"patient{cohorts.MIN_COHORT + 1:03d}"


@pytest.mark.parametrize("args, needle", [(["--format", "dicom"], "--format 'dicom'"), ([], "unknown cohort layout")])
def test_unusable_source_or_format_exit_2(tmp_path, args, needle):
    (tmp_path / "empty").mkdir()
    result = _check(str(tmp_path / "empty"), *args)
    assert result.exit_code == 2 and needle in " ".join(result.output.split())


def test_missing_folder_exit_2(tmp_path):
    result = _check(str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "nowhere: no such folder" in " ".join(result.output.split())
