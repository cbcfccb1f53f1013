"""Stale stages: a run whose finished stages were trained from other inputs than its files name now is
refused by `sample` / `audit` (and `train` says so), never decoded with a VAE its latents never saw."""

from __future__ import annotations

import dataclasses
import json
import shutil
from types import SimpleNamespace

import pytest
import yaml
from tiny_cohort import MemoryCohort
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.models import precision as precision_module
from synthshare.models.precision import training_precision
from synthshare.sample.generator import load_generator
from synthshare.train.run_dir import RunDir, RunDirError, stale_stages
from synthshare.train.trainer import conditions_fingerprint, stage_hashes, train_run

runner = CliRunner()


def _copy(trained_run: RunDir, tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run")
    shutil.copytree(trained_run.root, run.root)
    return run


def _kl_changed(config):
    return config.with_updates({"vae": {"kl_weight": config.vae.kl_weight * 10 + 0.01}})


def _relabelled(cohort: MemoryCohort, key: str, group: str) -> MemoryCohort:
    return MemoryCohort([dataclasses.replace(cohort.load(k), group=group) if k == key else cohort.load(k) for k in cohort.keys])


@pytest.fixture
def stale_run(tmp_path, trained_run, cohort, tiny_config):
    """The reviewer's repro: a finished run, then `train --stage vae` under a config changing only vae.kl_weight."""
    run = _copy(trained_run, tmp_path)
    changed = _kl_changed(tiny_config)
    train_run(cohort=cohort, train_keys=cohort.keys[:6], config=changed, run_dir=run, until="vae")
    return run, changed


def test_a_consistent_run_has_no_stale_stage_and_loads(trained_run):
    assert stale_stages(run=trained_run) == []
    assert load_generator(run_dir=trained_run.root).latent_scale > 0


def test_vae_retrained_under_another_config_blocks_loading(stale_run):
    run, _ = stale_run
    assert run.done("static")["finished"] and run.done("motion")["finished"]  # they still look finished...
    assert stale_stages(run=run) == ["static", "motion"]  # ...but were trained on the old VAE's latents
    with pytest.raises(RunDirError) as info:
        load_generator(run_dir=run.root)
    message = str(info.value)
    assert "static, motion out of date" in message
    assert f"--config {run.config_json} --run {run.root} --stage motion" in message


def test_retraining_the_rest_of_the_chain_makes_the_run_load_again(stale_run, cohort):
    run, changed = stale_run
    train_run(cohort=cohort, train_keys=cohort.keys[:6], config=changed, run_dir=run)
    assert stale_stages(run=run) == []
    load_generator(run_dir=run.root)


def test_sample_on_a_stale_run_exits_2_and_writes_nothing(stale_run, tmp_path):
    run, _ = stale_run
    out = tmp_path / "samples"
    result = runner.invoke(app, ["--quiet", "sample", "--run", str(run.root), "--n", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "out of date" in result.output and not out.exists()


def test_train_stage_vae_warns_that_later_stages_are_out_of_date(trained_run, cohort, tiny_config, tmp_path, monkeypatch):
    run = _copy(trained_run, tmp_path)
    config = tmp_path / "changed.yaml"
    config.write_text(yaml.safe_dump(_kl_changed(tiny_config).to_dict()))
    # the cohort of the trained run, in place of ingesting a data folder
    monkeypatch.setattr("synthshare.train.prepare.prepare_and_split",
                        lambda **_: (cohort, SimpleNamespace(train=cohort.keys[:6])))
    args = ["--quiet", "train", "--data", str(tmp_path), "--config", str(config), "--run", str(run.root)]
    result = runner.invoke(app, [*args, "--stage", "vae"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: stage(s) static, motion" in text and "are now out of date" in text
    assert f"--config {run.config_json} --run {run.root} --stage motion" in text
    result = runner.invoke(app, [*args, "--stage", "motion"])  # negative control: the whole chain retrained
    assert result.exit_code == 0 and "out of date" not in result.output


def test_another_train_set_in_split_json_makes_the_prior_stale(trained_run, cohort, tmp_path):
    run = _copy(trained_run, tmp_path)
    run.split_json.write_text(json.dumps({"train": sorted(cohort.keys[:6]), "holdout": []}))
    assert stale_stages(run=run) == []  # negative control: the keys it was trained on
    run.split_json.write_text(json.dumps({"train": sorted(cohort.keys[1:7]), "holdout": []}))
    assert stale_stages(run=run) == ["stats"]
    with pytest.raises(RunDirError, match=r"stats \(conditions\.json\) out of date"):
        load_generator(run_dir=run.root)


def test_a_run_moved_to_a_machine_resolving_auto_otherwise_still_loads(trained_run, stale_run, tiny_config, monkeypatch):
    here = training_precision(tiny_config)
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda device=None: here == "float32")
    assert training_precision(tiny_config) != here  # the other machine
    assert stale_stages(run=trained_run) == []
    assert stale_stages(run=stale_run[0]) == ["static", "motion"]  # negative control


def test_relabelling_one_train_subjects_group_changes_the_whole_chain(cohort, tiny_config):
    keys = cohort.keys[:6]

    def hashes(source: MemoryCohort) -> dict[str, str]:
        return stage_hashes(config=tiny_config, train_keys=keys,
                            conditions_sha256=conditions_fingerprint(cohort=source, train_keys=keys))

    base = hashes(cohort)
    assert cohort.load(keys[0]).group != "MINF"
    relabelled = hashes(_relabelled(cohort, keys[0], "MINF"))
    assert all(relabelled[s] != base[s] for s in ("stats", "vae", "static", "motion"))
    assert hashes(_relabelled(cohort, cohort.keys[7], "MINF")) == base  # negative control: not a train subject


def test_a_relabelled_cohort_then_train_stage_vae_leaves_a_run_that_is_refused(trained_run, cohort, tiny_config, tmp_path):
    run = _copy(trained_run, tmp_path)
    keys = cohort.keys[:6]
    before = run.read_json(run.conditions_json)
    train_run(cohort=_relabelled(cohort, keys[0], "MINF"), train_keys=keys, config=tiny_config, run_dir=run, until="vae")
    after = run.read_json(run.conditions_json)
    assert after["hash"] != before["hash"] and after["statistics"]["counts"] != before["statistics"]["counts"]
    assert stale_stages(run=run) == ["static", "motion"]
    with pytest.raises(RunDirError, match="static, motion out of date"):
        load_generator(run_dir=run.root)


def test_the_audit_refuses_a_stale_run_as_bad_input_not_as_a_verdict(stale_run, cohort):
    """A stale run is bad input (exit 2, with the command that fixes it), not a blocked gate (exit 3)."""
    from synthshare.audit_glue import _model_scores

    run, changed = stale_run
    subjects = [cohort.load(k) for k in cohort.keys]
    with pytest.raises(RunDirError, match="--stage"):
        _model_scores(run_dir=run.root, config=changed, train=subjects[:2], holdout=subjects[2:4], seed=0)
