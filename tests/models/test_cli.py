"""`synthshare train` + `synthshare sample` on a tiny phantom cohort, and their bad-input exits."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app

pytestmark = pytest.mark.e2e
runner = CliRunner()


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    from synthshare.config import load_config
    from synthshare.data.phantom_writers import write_phantom_cohort

    root = tmp_path_factory.mktemp("cli")
    tiny = load_config("tiny").phantom  # the preset's cohort size satisfies its split minimums
    write_phantom_cohort(out=root / "phantom", n=tiny.n, seed=0, size=(48, 48))
    result = runner.invoke(app, ["--quiet", "train", "--data", str(root / "phantom"), "--config", "tiny", "--run", str(root / "run")])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.slow
def test_train_again_skips_and_samples(cli_run):
    result = runner.invoke(app, ["--quiet", "train", "--data", str(cli_run / "phantom"), "--config", "tiny", "--run", str(cli_run / "run")])
    assert result.exit_code == 0 and "no formal privacy guarantee" in " ".join(result.output.split())
    out = cli_run / "samples"
    result = runner.invoke(app, ["--quiet", "sample", "--run", str(cli_run / "run"), "--n", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "samples.csv").is_file()


@pytest.mark.slow
def test_train_writes_the_run_layout(cli_run):
    run = cli_run / "run"
    for name in ("config.json", "split.json", "conditions.json"):
        assert (run / name).is_file()
    for stage in ("vae", "static", "motion"):
        assert {p.name for p in (run / stage).iterdir()} == {"checkpoint.safetensors", "state.json", "done.json"}


def test_sample_writes_subjects_and_samples_csv(trained_run, tmp_path):
    out = tmp_path / "samples"
    result = runner.invoke(app, ["--quiet", "sample", "--run", str(trained_run.root), "--n", "3", "--out", str(out), "--seed", "1"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "samples.csv").open()))
    assert [r["key"] for r in rows] == ["syn0001", "syn0002", "syn0003"]
    assert (out / "sub-syn0002" / "anat" / "sub-syn0002_cine.nii.gz").is_file()
    # configs/tiny.yaml samples with sampling.calibration_n 4: the factors are recorded beside the subjects
    calibration = json.loads((out / "sampling.json").read_text())["condition_calibration"]
    assert calibration["enabled"] is True and calibration["n"] == 4 and len(calibration["factors"]) == 4
    sidecar = json.loads((out / "sub-syn0002" / "anat" / "sub-syn0002_cine.json").read_text())
    assert sidecar["model_conditions"]["group"] == sidecar["requested_conditions"]["group"]
    again = runner.invoke(app, ["--quiet", "sample", "--run", str(trained_run.root), "--n", "3", "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_bad_conditions_csv_exits_2_and_writes_nothing(trained_run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("group,lv_edv\nNOR,150\n")
    out = tmp_path / "never"
    result = runner.invoke(app, ["--quiet", "sample", "--run", str(trained_run.root), "--n", "2", "--out", str(out), "--conditions", str(bad)])
    assert result.exit_code == 2 and "lv_esv" in result.output
    assert not out.exists() and not list(tmp_path.glob(".never.*"))


def test_sample_from_untrained_run_exits_2(tmp_path):
    result = runner.invoke(app, ["--quiet", "sample", "--run", str(tmp_path / "nothing"), "--n", "1", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "synthshare train" in result.output
