"""The CLI boundary with hostile text: paths, names and messages are printed verbatim (never as rich
markup, never hard-wrapped), and `release` refuses what the package step would refuse before training."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.cli.common import NO_PRIVACY_BANNER, handle_errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release"))
from release_helpers import build_tiny_release, make_subject  # noqa: E402

_spec = importlib.util.spec_from_file_location("_robust_cohorts", Path(__file__).parents[1] / "data" / "cohort_writers.py")
cohorts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cohorts)

runner = CliRunner()


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("error:", "internal error:", "blocked:"))]


# --- 1. rich markup ----------------------------------------------------------------------------


def test_markup_in_a_missing_path_is_one_clean_error(tmp_path):
    bad = tmp_path / "x" / "[" / "x]"  # the text "[/x]" is a closing tag to rich
    result = runner.invoke(app, ["data", "check", str(bad)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "MarkupError" not in result.output
    assert _error_lines(result.output) == [line for line in result.output.splitlines() if str(bad) in line]
    assert len(_error_lines(result.output)) == 1


def test_markup_in_a_cohort_folder_name_prints_the_table(tmp_path):
    root = cohorts.write_acdc_cohort(tmp_path / "c[red]" / "[/x]")
    result = runner.invoke(app, ["--quiet", "data", "check", str(root)])
    assert result.exit_code == 0, result.output
    assert "c[red]" in result.stdout and "no problems found" in result.stdout


def test_verify_shows_an_added_file_named_like_a_style_tag(tmp_path):
    release = build_tiny_release(tmp_path / "R", [make_subject(key="syn0001", seed=1)])
    (release / "[green]").write_text("x")
    result = runner.invoke(app, ["verify", str(release)])
    assert result.exit_code == 1
    assert "  added: [green]" in result.stdout.splitlines()
    assert _error_lines(result.output) and _error_lines(result.output)[0].endswith("added: [green]")


@pytest.mark.parametrize("dp_enabled, label", [(False, f"[{NO_PRIVACY_BANNER}]"), (True, "[(8, 1e-05)-DP per subject]")])
def test_release_last_line_carries_the_privacy_label(tmp_path, monkeypatch, dp_enabled, label):
    from synthshare.release import pipeline

    out = tmp_path / "R"

    def fake_release(**kwargs):
        return pipeline.ReleaseOutcome(out=out, work=tmp_path / "w", n_subjects=2, dp_enabled=dp_enabled,
                                       epsilon=8.0 if dp_enabled else None, delta=1e-5 if dp_enabled else None,
                                       gate_passed=True)

    monkeypatch.setattr(pipeline, "release", fake_release)
    args = ["--quiet", "release", "--out", str(out), "--config", "tiny"] + (["--epsilon", "8"] if dp_enabled else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"released 2 synthetic subjects to {out} {label}" in result.stdout.splitlines()


def test_release_step_lines_carry_the_time_since_the_start(tmp_path, monkeypatch):
    from synthshare.cli import release as release_cli
    from synthshare.release import pipeline

    out = tmp_path / "R"
    clock = iter([100.0, 100.0, 351.9, 3_700.0])  # start, then one reading per announced step
    monkeypatch.setattr(release_cli.time, "monotonic", lambda: next(clock))

    def fake_release(*, announce, **kwargs):
        for message in ("ingest: cohort", "train: vae (2 steps)", "package: done"):
            announce(message)
        return pipeline.ReleaseOutcome(out=out, work=tmp_path / "w", n_subjects=2, dp_enabled=False, epsilon=None,
                                       delta=None, gate_passed=True)

    monkeypatch.setattr(pipeline, "release", fake_release)
    result = runner.invoke(app, ["release", "--out", str(out), "--config", "tiny"])
    assert result.exit_code == 0, result.output
    steps = [line for line in result.stderr.splitlines() if line.startswith("> ")]
    assert steps == ["> [0:00] ingest: cohort", "> [4:11] train: vae (2 steps)", "> [1:00:00] package: done"]


# --- 2. no hard wrap -----------------------------------------------------------------------------


def test_a_long_path_error_stays_on_one_line(tmp_path):
    long = tmp_path / ("a" * 60) / ("b" * 60) / "release"
    result = runner.invoke(app, ["verify", str(long)])
    assert result.exit_code == 2
    lines = _error_lines(result.output)
    assert len(lines) == 1 and str(long) in lines[0] and len(lines[0]) > 80


# --- 4, 5. release refuses before training -----------------------------------------------------------


@pytest.fixture
def pipeline_calls(monkeypatch):
    """Stub the pipeline: a test that reaches it records the call and stops with exit 2."""
    from synthshare.release import pipeline

    calls: list[dict] = []

    def fake_release(**kwargs):
        calls.append(kwargs)
        raise pipeline.BadInputError("stopped by the test after validation")

    monkeypatch.setattr(pipeline, "release", fake_release)
    return calls


def _release(*args: str):
    return runner.invoke(app, ["--quiet", "release", "--config", "tiny", *map(str, args)])


def test_overwrite_refuses_a_folder_that_is_not_a_release(tmp_path, pipeline_calls):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.txt").write_text("years of work")
    result = _release("--out", out, "--overwrite")
    assert result.exit_code == 2 and pipeline_calls == []
    assert "replaces only an earlier synthshare release" in result.output
    assert (out / "chapter1.txt").read_text() == "years of work"


def test_overwrite_of_the_current_folder_is_refused(tmp_path, pipeline_calls, monkeypatch):
    (tmp_path / "keep.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    result = _release("--out", ".", "--overwrite")
    assert result.exit_code == 2 and pipeline_calls == [] and (tmp_path / "keep.txt").exists()


def test_overwrite_of_an_earlier_release_reaches_the_pipeline(tmp_path, pipeline_calls):
    out = build_tiny_release(tmp_path / "R", [make_subject(key="syn0001", seed=1)])
    result = _release("--out", out, "--overwrite")
    assert "stopped by the test" in result.output and len(pipeline_calls) == 1


def test_a_bad_signing_key_is_refused_before_training(tmp_path, pipeline_calls):
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    result = _release("--out", tmp_path / "R", "--signing-key", bad)
    assert result.exit_code == 2 and pipeline_calls == []
    assert "not a readable unencrypted PEM private key" in " ".join(result.output.split())
    assert _release("--out", tmp_path / "R", "--signing-key", tmp_path / "missing.pem").exit_code == 2
    assert pipeline_calls == []


def test_a_good_signing_key_reaches_the_pipeline(tmp_path, pipeline_calls):
    key = tmp_path / "k.pem"
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 0
    result = _release("--out", tmp_path / "R", "--signing-key", key)
    assert "stopped by the test" in result.output and pipeline_calls[0]["signing_key"] == key


@pytest.mark.parametrize("name, ok", [("Synth_Cine", False), ("SynthCine\n", False), ("", False), ("SynthCine2", True)])
def test_dataset_name_is_checked_before_training(tmp_path, pipeline_calls, name, ok):
    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"release": {"dataset_name": name}}))
    result = runner.invoke(app, ["--quiet", "release", "--out", str(tmp_path / "R"), "--config", str(config)])
    assert result.exit_code == 2
    assert len(pipeline_calls) == (1 if ok else 0)
    if not ok:
        assert "release.dataset_name" in result.output


# --- 9. OS errors about the user's paths -----------------------------------------------------------


def test_permission_error_is_bad_input_not_an_internal_error():
    @handle_errors
    def command() -> None:
        raise PermissionError(13, "Permission denied", "/srv/cohort/patient001")

    with pytest.raises(typer.Exit) as exc:
        command()
    assert exc.value.exit_code == 2


def test_a_bug_is_still_an_internal_error():
    @handle_errors
    def command() -> None:
        raise KeyError("bug")

    with pytest.raises(typer.Exit) as exc:
        command()
    assert exc.value.exit_code == 1


def test_keygen_into_an_unwritable_place_is_exit_2_and_leaves_no_half_pair(tmp_path, monkeypatch):
    from synthshare.release import signing

    real = signing.atomic_write_bytes

    def refuse_public(*, path, data, mode=0o644):
        if path.name.endswith(".pub"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path=path, data=data, mode=mode)

    monkeypatch.setattr(signing, "atomic_write_bytes", refuse_public)
    private = tmp_path / "k.pem"
    result = runner.invoke(app, ["keygen", str(private)])
    assert result.exit_code == 2 and "cannot write the key" in result.output
    assert not private.exists()  # a retry must not meet "a key already exists"


@pytest.mark.parametrize("argv", [["phantom", "PH", "--n", "2", "--seed", "-1"], ["release", "--out", "R", "--seed", "-1"]])
def test_a_negative_seed_is_a_usage_error_before_any_work(tmp_path, argv):
    from typer.testing import CliRunner

    from synthshare.cli.app import app

    argv = [str(tmp_path / a) if a in ("PH", "R") else a for a in argv]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2 and "seed" in result.output.lower()
    assert not (tmp_path / "PH").exists() and not (tmp_path / "R").exists()
