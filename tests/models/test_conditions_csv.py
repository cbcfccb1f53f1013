"""`sample --conditions`: every value the user asks for is used as asked or refused with file, row and fix."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.errors import BadInputError
from synthshare.models.conditioning import CONDITION_GROUPS, MEASURE_FIELDS
from synthshare.sample.conditions import ConditionsError, read_conditions_csv
from synthshare.sample.sampler import sample_cohort

runner = CliRunner()
GRID_SLICES = 4  # configs/tiny.yaml data.slices


def _prior(*, absent: tuple[str, ...] = ("RV",)) -> dict:
    """Released statistics in which the groups `absent` had no training subject."""
    means = [[150.0, 60.0, 60.0, 150.0, 100.0, 3.0] for _ in CONDITION_GROUPS]
    counts = [0.0 if g in absent else 4.0 for g in CONDITION_GROUPS]
    return {"statistics": {"means": means, "counts": counts}}


def _read(tmp_path, text: str):
    path = tmp_path / "conditions.csv"
    path.write_text(text)
    return path, lambda: read_conditions_csv(path=path, prior=_prior(), grid_slices=GRID_SLICES)


def _refused(tmp_path, text: str) -> str:
    path, read = _read(tmp_path, text)
    with pytest.raises(ConditionsError) as info:
        read()
    assert isinstance(info.value, BadInputError) and str(path) in str(info.value)
    return str(info.value)


def test_a_valid_csv_with_every_column_is_used_as_given(tmp_path):
    _, read = _read(tmp_path, "group,lv_edv,lv_esv,lv_ef,rv_edv,myo_mass,slices\n"
                              "NOR,150,60,60.4,140,110,3\nDCM,250,200,,,,\n")
    first, second = read()
    assert first == {"group": "NOR", "lv_edv": 150.0, "lv_esv": 60.0, "lv_ef": 60.4, "rv_edv": 140.0, "myo_mass": 110.0,
                     "slices": 3.0}
    assert second["lv_ef"] == pytest.approx(20.0) and second["myo_mass"] == 100.0  # derived, and the group's mean


def test_an_unknown_column_is_refused_with_the_allowed_ones(tmp_path):
    message = _refused(tmp_path, "group,lv_edv,lv_esv,myo_mass_g\nNOR,150,60,120\n")
    assert "header (row 1): unknown column 'myo_mass_g'; did you mean 'myo_mass'?" in message
    assert "allowed: group, " + ", ".join(MEASURE_FIELDS) in message


@pytest.mark.parametrize(
    "ef, fraction",
    [("0.6", True), ("50", False)],  # EF 60 % given as a fraction; a plain disagreement
)
def test_an_ef_that_disagrees_with_the_volumes_is_refused(tmp_path, ef, fraction):
    message = _refused(tmp_path, f"group,lv_edv,lv_esv,lv_ef\nNOR,150,60,{ef}\n")
    assert "row 2, column lv_ef:" in message and "100 (EDV - ESV) / EDV = 60.0" in message
    assert ("EF is in %" in message) is fraction


@pytest.mark.parametrize("slices", ["40", "3.5", "0"])
def test_slices_must_be_a_whole_number_within_the_grid(tmp_path, slices):
    message = _refused(tmp_path, f"group,lv_edv,lv_esv,slices\nNOR,150,60,{slices}\n")
    assert f"row 2, column slices: {slices} is not a whole number in [1, {GRID_SLICES}]" in message
    _, read = _read(tmp_path, f"group,lv_edv,lv_esv,slices\nNOR,150,60,{GRID_SLICES}\n")  # negative control
    assert read()[0]["slices"] == GRID_SLICES


def test_a_group_the_training_cohort_lacked_is_refused(tmp_path):
    message = _refused(tmp_path, "group,lv_edv,lv_esv\nNOR,150,60\nRV,150,60\n")
    assert "row 3, column group: the training cohort had no RV subject" in message and "row 2" not in message


def test_every_problem_is_reported_at_once(tmp_path):
    message = _refused(tmp_path, "group,lv_edv,lv_esv,lv_ef,slices\nNOR,150,60,0.6,40\nRV,150,60,,3.5\n")
    assert message.count("\n  - ") == 4


def test_the_reviewers_csv_is_refused_naming_each_problem(tmp_path):
    message = _refused(tmp_path, "group,lv_edv,lv_esv,lv_ef,myo_mass_g,slices\nNOR,150,60,0.6,120,40\nDCM,250,200,,90,3.5\n")
    assert "unknown column 'myo_mass_g'" in message  # the header first: its rows cannot be read as meant
    fixed = _refused(tmp_path, "group,lv_edv,lv_esv,lv_ef,myo_mass,slices\nNOR,150,60,0.6,120,40\nDCM,250,200,,90,3.5\n")
    assert "row 2, column lv_ef" in fixed and "row 2, column slices" in fixed and "row 3, column slices" in fixed


def test_sample_cohort_refuses_a_condition_count_other_than_n(trained_run, generator, tmp_path):
    rows = read_conditions_csv(path=_write(tmp_path / "two.csv", 2), prior=generator.prior, grid_slices=GRID_SLICES)
    with pytest.raises(BadInputError, match="2 condition"):
        sample_cohort(run_dir=trained_run.root, n=3, seed=0, conditions=rows, generator=generator)


def _write(path, rows: int):
    path.write_text("group,lv_edv,lv_esv\n" + "NOR,150,60\n" * rows)
    return path


def test_sample_cli_takes_n_from_the_csv_and_refuses_a_mismatch(trained_run, tmp_path):
    conditions = _write(tmp_path / "c.csv", 2)
    base = ["--quiet", "sample", "--run", str(trained_run.root), "--conditions", str(conditions)]
    out = tmp_path / "mismatch"
    result = runner.invoke(app, [*base, "--n", "3", "--out", str(out)])
    assert result.exit_code == 2 and "2 row(s) but --n 3" in result.output and not out.exists()
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "from-csv")])
    assert result.exit_code == 0, result.output
    assert [r["key"] for r in csv.DictReader((tmp_path / "from-csv" / "samples.csv").open())] == ["syn0001", "syn0002"]


@pytest.mark.parametrize("args, message", [([], "--n is required without --conditions"), (["--n", "1", "--seed", "-1"], "--seed")])
def test_sample_cli_usage_errors_exit_2(trained_run, tmp_path, args, message):
    result = runner.invoke(app, ["--quiet", "sample", "--run", str(trained_run.root), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2 and message in result.output and not (tmp_path / "o").exists()
