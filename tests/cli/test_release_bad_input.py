"""`synthshare release` refuses bad input with exit 2 before it writes anything."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app

runner = CliRunner()


@pytest.mark.parametrize(
    "out, extra, message",
    [
        ("R", ["--data", "{tmp}/missing"], "no such cohort folder"),
        ("R", ["--config", "no-such-preset"], "no bundled preset"),
        ("R", ["--policy", "{tmp}/missing.yaml"], "no such policy file"),
        ("R", ["--delta", "1e-5"], "--delta needs --epsilon"),
        ("cohort/R", ["--data", "{tmp}/cohort"], "must not overlap"),
        ("cohort", [], "already holds files"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, out, extra, message):
    (tmp_path / "cohort" / "training").mkdir(parents=True)
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    if "--config" not in args:
        args += ["--config", "tiny"]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = runner.invoke(app, ["--quiet", "release", "--out", str(tmp_path / out), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written, no work folder


def test_a_control_that_is_valid_gets_past_validation(tmp_path, monkeypatch):
    # negative control: the same call with good arguments reaches the pipeline (stubbed here)
    from synthshare.release import pipeline

    reached = {}

    def fake_release(**kwargs):
        reached.update(kwargs)
        raise pipeline.BadInputError("stopped by the test after validation")

    monkeypatch.setattr(pipeline, "release", fake_release)
    result = runner.invoke(app, ["--quiet", "release", "--out", str(tmp_path / "R"), "--config", "tiny", "--epsilon", "4"])
    assert result.exit_code == 2 and "stopped by the test" in result.output
    assert reached["config"].privacy.epsilon == 4.0 and reached["out"] == tmp_path / "R"
