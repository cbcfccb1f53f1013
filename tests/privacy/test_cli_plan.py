"""`synthshare privacy plan`: the plan for a cohort folder and a preset."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from synthshare.cli.app import app


def _acdc_listing(root: Path, n: int) -> Path:
    # the planner reads only the subject list; empty patient folders are enough
    for i in range(1, n + 1):
        (root / "training" / f"patient{i:03d}").mkdir(parents=True)
    return root


def test_plan_json_for_tiny(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", "tiny", "--epsilon", "8", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    # tiny: holdout ceil(20 x 0.4) = 8 -> 12 train; batch 2 -> q = 2/12; delta = 1/(10 x 12) rounded down = 1e-3
    assert (plan["n_subjects"], plan["n_train"], plan["delta"]) == (20, 12, 1e-3)
    assert set(plan["stages"]) == {"vae", "static", "motion", "stats"}
    assert plan["stages"]["vae"]["sample_rate"] == 2 / 12 and plan["stages"]["vae"]["steps"] == 2
    assert 0 < plan["epsilon"] <= 8.0


def test_plan_table(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", "tiny", "--epsilon", "8"])
    assert result.exit_code == 0, result.output
    assert "motion" in result.output and "total" in result.output


def test_delta_too_large_exits_2(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", "tiny", "--epsilon", "8",
                                      "--delta", "0.1"])
    assert result.exit_code == 2
    assert "1/n_subjects" in result.output


def test_no_epsilon_exits_2(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", "tiny"])
    assert result.exit_code == 2
    assert "no formal privacy guarantee" in result.output
