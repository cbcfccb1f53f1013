"""End-to-end: `synthshare release` on the tiny config and the embedded phantom cohort.

This is the CI smoke test of the main job. One release is built per module and inspected from
several sides; a second release with the same seed must reproduce it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.config import CONFIG_DIR

pytestmark = pytest.mark.e2e
runner = CliRunner()
DEFAULT_POLICY = CONFIG_DIR / "policy" / "default.yaml"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    # the steward's fingerprint key lives here; shared by the runs of this module
    path = tmp_path_factory.mktemp("home")
    old = os.environ.get("SYNTHSHARE_HOME")
    os.environ["SYNTHSHARE_HOME"] = str(path)
    yield path
    if old is None:
        os.environ.pop("SYNTHSHARE_HOME", None)
    else:
        os.environ["SYNTHSHARE_HOME"] = old


def _release(out: Path, *extra: str):
    return runner.invoke(app, ["--quiet", "release", "--out", str(out), "--config", "tiny", "--seed", "0", *extra])


@pytest.fixture(scope="module")
def released(tmp_path_factory, home):
    root = tmp_path_factory.mktemp("release")
    result = _release(root / "R")
    assert result.exit_code == 0, result.output
    return root / "R"


def test_package_layout(released):
    for rel in [
        "README.md", "datasheet.md", "LICENSE", "dataset_description.json", "participants.tsv",
        "sub-syn0001/anat/sub-syn0001_cine.nii.gz", "sub-syn0001/anat/sub-syn0001_dseg.nii.gz",
        "sub-syn0001/anat/sub-syn0001_cine.json",
        "nnunet/Dataset501_SynthCine/dataset.json",
        "reports/report.html", "reports/fidelity.json", "reports/utility.json", "reports/privacy.json",
        "reports/provenance.json", "manifest-sha256.txt",
    ]:
        assert (released / rel).is_file(), rel
    subjects = sorted(p.name for p in released.glob("sub-syn*"))
    assert len(subjects) == 6  # configs/tiny.yaml sampling.n
    images = sorted((released / "nnunet/Dataset501_SynthCine/imagesTr").iterdir())
    assert len(images) == 2 * len(subjects)  # ED and ES per subject


def test_report_contract(released):
    privacy = json.loads((released / "reports/privacy.json").read_text())
    assert privacy["dp"]["enabled"] is False
    assert privacy["dp"]["epsilon"] is None
    assert privacy["dp"]["unit"] == "subject"
    assert "no formal privacy guarantee" in json.dumps(privacy)
    assert privacy["gate"]["passed"] is True
    assert privacy["gate"]["policy_sha256"] == hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest()
    assert privacy["gate"]["criteria"], "a gate with no criteria would pass anything"
    for criterion in privacy["gate"]["criteria"]:
        assert {"name", "value", "threshold", "passed"} <= set(criterion)
    attack_names = [a["name"] for a in privacy["membership"]["attacks"]]
    assert "data_nearest_synthetic" in attack_names and len(attack_names) >= 3
    for attack in privacy["membership"]["attacks"]:
        assert {"name", "auc", "auc_ci", "tpr_at_fpr", "min_measurable_fpr"} <= set(attack)
    for key in ("copies", "closer_to_train_fraction", "binomial_p"):
        assert key in privacy["memorization"]

    fidelity = json.loads((released / "reports/fidelity.json").read_text())
    for measure in ("lv_edv", "lv_esv", "lv_ef"):
        assert {"pearson_r", "mae"} <= set(fidelity["controllability"][measure])
    # configs/tiny.yaml sampling.calibration_n: the factors are reported, and each sidecar gives both conditions
    calibration = fidelity["condition_calibration"]
    assert calibration["enabled"] is True and calibration["n"] == 4
    assert set(calibration["factors"]) == {"lv_edv", "lv_esv", "rv_edv", "myo_mass"}
    sidecar = json.loads((released / "sub-syn0001/anat/sub-syn0001_cine.json").read_text())
    request, given = sidecar["requested_conditions"], sidecar["model_conditions"]
    assert given["lv_edv"] == pytest.approx(request["lv_edv"] / calibration["factors"]["lv_edv"])
    assert "model_conditions" in (released / "datasheet.md").read_text()
    utility = json.loads((released / "reports/utility.json").read_text())
    for metric in ("dice", "hd95"):
        for regime in ("real", "synthetic", "real+synthetic"):
            assert {"mean", "LV", "MYO", "RV"} <= set(utility[metric][regime])
    # configs/tiny.yaml utility.reference: 6 further real subjects (of 30 training) stand in for the 6 synthetic ones
    assert utility["reference"]["n_subjects"] == 6
    assert {"mean", "LV", "MYO", "RV"} <= set(utility["reference"]["dice"]) and "mean" in utility["reference"]["gain_points"]
    html = (released / "reports/report.html").read_text()
    assert "further real subjects instead, the ceiling" in html
    assert "no formal privacy guarantee" in html.lower()
    assert "data:image/png;base64" in html


def test_no_real_identifier_leaves(released):
    # the embedded phantom cohort names its subjects patientNNN; none of that may be in the package
    for path in released.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                data = gzip.decompress(data)
            assert b"patient0" not in data, path


def test_verify_passes_then_detects_one_flipped_byte(released, tmp_path):
    assert runner.invoke(app, ["verify", str(released)]).exit_code == 0
    copy = tmp_path / "copy"
    shutil.copytree(released, copy)
    target = copy / "sub-syn0001/anat/sub-syn0001_cine.json"
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", str(copy)])
    assert result.exit_code == 1
    assert "sub-syn0001_cine.json" in result.output


def test_same_seed_same_manifest(released, tmp_path):
    # a fresh work folder: trains, samples and audits again from scratch
    again = tmp_path / "R2"
    result = _release(again)
    assert result.exit_code == 0, result.output
    assert (again / "manifest-sha256.txt").read_bytes() == (released / "manifest-sha256.txt").read_bytes()


def test_policy_the_cohort_cannot_meet_blocks_with_exit_3(released, tmp_path):
    policy = tmp_path / "impossible.yaml"
    text = DEFAULT_POLICY.read_text().replace("max_auc: 0.85", "max_auc: 0.501")
    policy.write_text(text)
    out = tmp_path / "blocked"
    # reuse the first release's work folder: training is resumed, not redone
    work = released.parent / ".R.work"
    result = _release(out, "--policy", str(policy), "--work", str(work))
    assert result.exit_code == 3, result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".blocked*building*"))


def test_existing_release_is_not_overwritten(released):
    before = (released / "manifest-sha256.txt").read_bytes()
    result = _release(released, "--work", str(released.parent / ".R.work"))
    assert result.exit_code == 2
    assert (released / "manifest-sha256.txt").read_bytes() == before


KILLER = """
import os, signal, sys
import synthshare.release.package as package
real = package.write_synthetic_subject
def write_then_die(**kwargs):
    real(**kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # killed midway through writing the package
package.write_synthetic_subject = write_then_die
from synthshare.cli.app import main
sys.argv = ["synthshare", "--quiet", "release", "--out", sys.argv[1], "--config", "tiny", "--work", sys.argv[2]]
main()
"""


def test_a_killed_release_leaves_no_package_and_a_rerun_resumes(tmp_path, home):
    out, work = tmp_path / "K", tmp_path / "work"
    env = {**os.environ, "SYNTHSHARE_HOME": str(home)}
    killed = subprocess.run([sys.executable, "-c", KILLER, str(out), str(work)], env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists()
    checkpoint = work / "run" / "motion" / "done.json"
    assert checkpoint.exists()  # training had finished before the kill
    stamp = checkpoint.stat().st_mtime_ns
    result = _release(out, "--work", str(work))
    assert result.exit_code == 0, result.output
    assert checkpoint.stat().st_mtime_ns == stamp  # resumed: the finished stage was not retrained
    assert not list(tmp_path.glob(".K.building-*"))
    assert runner.invoke(app, ["verify", str(out)]).exit_code == 0


def test_dp_release_states_the_guarantee_the_plan_promised(tmp_path, home):
    out = tmp_path / "DP"
    result = _release(out, "--epsilon", "8")
    assert result.exit_code == 0, result.output
    dp = json.loads((out / "reports/privacy.json").read_text())["dp"]
    assert dp["enabled"] is True and dp["unit"] == "subject" and dp["accountant"] == "rdp"
    assert 7.9 < dp["epsilon"] <= 8.0  # the budget is filled, never exceeded
    n_train = json.loads((out / "reports/provenance.json").read_text())["split"]["n_train"]
    assert dp["delta"] < 1.0 / n_train
    stages = dp["ledger"]["stages"]
    assert set(stages) == {"stats", "vae", "static", "motion"}
    assert "no formal privacy guarantee" not in (out / "README.md").read_text()

    # `synthshare privacy plan` promised exactly the noise that training then used
    phantom = next((tmp_path / ".DP.work").glob("phantom-*"))
    plan = runner.invoke(app, ["privacy", "plan", "--data", str(phantom), "--config", "tiny", "--epsilon", "8", "--json"])
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.output)["stages"]
    for stage in ("vae", "static", "motion", "stats"):
        assert planned[stage]["noise_multiplier"] == pytest.approx(stages[stage]["noise_multiplier"], rel=1e-9)
