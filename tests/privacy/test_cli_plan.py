"""`synthshare privacy plan`: the plan for a cohort folder and a preset."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from synthshare.cli.app import app

# a config of its own, so that the expected figures do not move with the bundled presets
CONFIG = """
name: plan-test
data: {holdout_fraction: 0.4, min_holdout: 2, min_train: 2}
vae: {channels: [4, 8], norm_groups: 2, steps: 2, batch_size: 2}
static: {channels: [4, 8], norm_groups: 2, steps: 3, batch_size: 3}
motion: {channels: [4, 8], norm_groups: 2, steps: 4, batch_size: 12}
privacy: {max_grad_norm: 0.5}
"""


def _config(tmp_path: Path) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(CONFIG)
    return str(path)


def _acdc_listing(root: Path, n: int) -> Path:
    # the planner reads only the subject list; empty patient folders are enough
    for i in range(1, n + 1):
        (root / "training" / f"patient{i:03d}").mkdir(parents=True)
    return root


def test_plan_json(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", _config(tmp_path), "--epsilon", "8", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    # holdout round(20 x 0.4) = 8 -> 12 train; q = batch / 12; delta = 1/(10 x 12) rounded down = 1e-3
    assert (plan["n_subjects"], plan["n_train"], plan["delta"]) == (20, 12, 1e-3)
    assert set(plan["stages"]) == {"vae", "static", "motion", "stats"}
    stages = plan["stages"]
    assert [(stages[s]["sample_rate"], stages[s]["steps"]) for s in ("vae", "static", "motion")] == [
        (2 / 12, 2), (3 / 12, 3), (1.0, 4)]
    assert stages["vae"]["max_grad_norm"] == 0.5 and stages["stats"]["sample_rate"] == 1.0
    assert 0 < plan["epsilon"] <= 8.0


def test_plan_table(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", _config(tmp_path), "--epsilon", "8"])
    assert result.exit_code == 0, result.output
    assert "motion" in result.output and "total" in result.output


def test_delta_too_large_exits_2(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", _config(tmp_path), "--epsilon", "8",
                                      "--delta", "0.1"])
    assert result.exit_code == 2
    assert "1/n_subjects" in result.output


def test_no_epsilon_exits_2(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 20)
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", _config(tmp_path)])
    assert result.exit_code == 2
    assert "no formal privacy guarantee" in result.output


def test_too_few_subjects_exits_2(tmp_path: Path) -> None:
    data = _acdc_listing(tmp_path / "cohort", 3)  # round(3 x 0.4) = 1 holdout < min_holdout 2
    result = CliRunner().invoke(app, ["privacy", "plan", "--data", str(data), "--config", _config(tmp_path), "--epsilon", "8"])
    assert result.exit_code == 2


def test_without_data_plans_for_the_embedded_phantom(tmp_path: Path) -> None:
    path = tmp_path / "plan-phantom.yaml"
    path.write_text(CONFIG + "phantom: {n: 20}\n")
    no_data = CliRunner().invoke(app, ["privacy", "plan", "--config", str(path), "--epsilon", "8", "--json"])
    assert no_data.exit_code == 0, no_data.output
    # the same plan as a cohort folder with the phantom's subject count
    folder = CliRunner().invoke(app, ["privacy", "plan", "--data", str(_acdc_listing(tmp_path / "c", 20)),
                                      "--config", str(path), "--epsilon", "8", "--json"])
    assert json.loads(no_data.output)["stages"] == json.loads(folder.output)["stages"]
    assert json.loads(no_data.output)["n_subjects"] == 20
    # a different phantom size changes q: the count is really read from the config
    path.write_text(CONFIG + "phantom: {n: 40}\n")
    bigger = json.loads(CliRunner().invoke(app, ["privacy", "plan", "--config", str(path), "--epsilon", "8", "--json"]).output)
    assert bigger["n_train"] == 24
