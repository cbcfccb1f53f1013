"""synthshare.audit_glue and `synthshare audit`: reports written, gate exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from audit_cohorts import phantom_images, synthetic_cohort
from typer.testing import CliRunner

from audits import LoadedPolicy
from synthshare.audit_glue import Candidate, audit_prepared, resolve_policy_path
from synthshare.cli.app import app
from synthshare.errors import BadInputError


def _cohort(images: list[np.ndarray], prefix: str) -> list[Candidate]:
    return [Candidate(key=f"{prefix}{i:04d}", image=img) for i, img in enumerate(images)]


@pytest.fixture(scope="module")
def real() -> tuple[list[Candidate], list[Candidate]]:
    images = phantom_images(n=48, seed=3)
    return _cohort(images[12:], "realkey-train-"), _cohort(images[:12], "realkey-hold-")


def test_audit_prepared_writes_reports_and_gates(default_policy: LoadedPolicy, real, tmp_path: Path) -> None:
    train, holdout = real
    fresh = _cohort(synthetic_cohort(scenario="fresh", train=[], n=20, seed=3), "syn")
    verdict = audit_prepared(policy=default_policy, train=train, holdout=holdout, synthetic=fresh, out_dir=tmp_path / "ok")
    assert verdict.passed, verdict.failed
    external = (tmp_path / "ok" / "privacy.json").read_text()
    assert json.loads(external)["gate"]["passed"] is True
    assert "realkey" not in external and "INTERNAL" not in external
    internal = (tmp_path / "ok" / "INTERNAL" / "audit_report.json").read_text()
    assert "realkey-train-0000" in internal and json.loads(internal)["INTERNAL"].startswith("INTERNAL")
    assert (tmp_path / "ok" / "INTERNAL" / "nearest_pairs.png").is_file()

    copies = _cohort([c.image + 0.01 for c in train[:20]], "syn")
    blocked = audit_prepared(policy=default_policy, train=train, holdout=holdout, synthetic=copies, out_dir=tmp_path / "bad")
    assert not blocked.passed
    assert json.loads((tmp_path / "bad" / "privacy.json").read_text())["memorization"]["copies"] == 20


def test_policy_resolution() -> None:
    assert resolve_policy_path(None).name == "default.yaml"
    assert resolve_policy_path("strict").name == "strict.yaml"
    with pytest.raises(BadInputError, match="bundled"):
        resolve_policy_path("no-such-policy")


def test_cli_bad_run_folder_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "--run", str(tmp_path / "nope"), "--samples", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "o").exists()
    bad_policy = tmp_path / "p.yaml"
    bad_policy.write_text("name: x\nmax_auc: 2\n")
    result = CliRunner().invoke(app, ["audit", "--run", str(tmp_path), "--samples", str(tmp_path), "--out", str(tmp_path / "o"), "--policy", str(bad_policy)])
    assert result.exit_code == 2, result.output


@pytest.mark.slow
def test_cli_end_to_end_on_tiny_run(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["-q", "phantom", str(tmp_path / "ph"), "--n", "24", "--seed", "0"]).exit_code == 0
    train = runner.invoke(app, ["-q", "train", "--data", str(tmp_path / "ph"), "--config", "tiny", "--run", str(tmp_path / "run")])
    assert train.exit_code == 0, train.output
    sample = runner.invoke(app, ["-q", "sample", "--run", str(tmp_path / "run"), "--n", "8", "--out", str(tmp_path / "s")])
    assert sample.exit_code == 0, sample.output
    base = ["-q", "audit", "--run", str(tmp_path / "run"), "--out"]

    # the real cohort itself as the candidate (it holds every training subject): blocked, exit 3
    leak = runner.invoke(app, base + [str(tmp_path / "leak"), "--samples", str(tmp_path / "ph")])
    assert leak.exit_code == 3, leak.output
    report = json.loads((tmp_path / "leak" / "privacy.json").read_text())
    assert report["gate"]["passed"] is False and report["memorization"]["copies"] >= 13
    assert {a["name"] for a in report["membership"]["attacks"]} == {
        "data_nearest_synthetic", "vae_reconstruction", "denoising_error_static", "denoising_error_motion"
    }

    # the generator's samples: the exit code agrees with the written verdict
    result = runner.invoke(app, base + [str(tmp_path / "a"), "--samples", str(tmp_path / "s")])
    passed = json.loads((tmp_path / "a" / "privacy.json").read_text())["gate"]["passed"]
    assert result.exit_code == (0 if passed else 3), result.output
