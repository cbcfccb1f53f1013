"""Malformed run files (a hand-edited or truncated state.json, conditions.json, done.json) give a
CheckpointError / RunDirError naming the file and the fix, never a KeyError."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.errors import BadInputError
from synthshare.sample.generator import load_generator
from synthshare.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from synthshare.train.run_dir import RunDir, RunDirError


@pytest.fixture
def checkpoint(tmp_path):
    weights, state = tmp_path / "c.safetensors", tmp_path / "state.json"
    save_checkpoint(weights_path=weights, state_path=state, weights={"w": torch.zeros(2)},
                    state={"opt": {0: torch.ones(1)}, "hash": "h"}, step=2)
    return weights, state


@pytest.mark.parametrize(
    "state",
    [
        {"__items__": [["opt", {"__tensor__": "state.nowhere"}]]},  # a tensor the weights file lacks
        {"opt": 1},  # a dict without "__items__"
        {"__items__": [["too", "many", "fields"]]},
        [1, 2],  # not an object
    ],
)
def test_malformed_state_json_is_a_checkpoint_error_naming_it(checkpoint, state):
    weights, path = checkpoint
    assert load_checkpoint(weights_path=weights, state_path=path)[1]["hash"] == "h"  # negative control: intact
    path.write_text(json.dumps({"step": 2, "state": state}))
    with pytest.raises(CheckpointError, match=f"{path}: .*delete {path.parent} to retrain the stage"):
        load_checkpoint(weights_path=weights, state_path=path)


@pytest.mark.parametrize("raw", [{"step": 2}, [2]])
def test_state_json_without_a_state_is_a_checkpoint_error(checkpoint, raw):
    weights, path = checkpoint
    path.write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=f"{path}: not a checkpoint state file"):
        load_checkpoint(weights_path=weights, state_path=path)


def _broken_copy(trained_run: RunDir, tmp_path, file: str, edit) -> RunDir:
    run = RunDir(tmp_path / "run")
    shutil.copytree(trained_run.root, run.root)
    path = run.root / file
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return run


def _without(*dotted: str):
    def edit(record: dict) -> dict:
        for path in dotted:
            *parents, last = path.split(".")
            node = record
            for p in parents:
                node = node[p]
            del node[last]
        return record

    return edit


@pytest.mark.parametrize(
    "file, edit, message",
    [
        ("conditions.json", _without("codec"), "conditions.json: no 'codec'"),
        ("conditions.json", _without("statistics.counts"), "conditions.json: no 'statistics.counts'"),
        ("conditions.json", _without("train_keys_sha256"), "conditions.json: no 'train_keys_sha256'"),
        ("conditions.json", lambda r: {**r, "statistics": {**r["statistics"], "space": "sqrt"}},
         "conditions.json: 'statistics.space': unknown prior space 'sqrt'"),
        ("static/done.json", _without("extra"), "static/done.json: no 'extra.latent_scale'"),
        ("motion/done.json", _without("ledger"), "motion/done.json: no 'ledger'"),
        ("motion/done.json", lambda r: {**r, "extra": {"residual_scale": "abc"}}, "motion/done.json: extra.residual_scale = 'abc'"),
        ("vae/done.json", lambda r: [r], "vae/done.json: holds a JSON list"),
    ],
)
def test_malformed_run_files_are_a_run_dir_error_naming_file_and_fix(trained_run, tmp_path, file, edit, message):
    run = _broken_copy(trained_run, tmp_path, file, edit)
    with pytest.raises(RunDirError) as info:
        load_generator(run_dir=run.root)
    assert message in str(info.value) and "synthshare train" in str(info.value)
    assert isinstance(info.value, BadInputError)


def test_sample_with_a_conditions_json_without_codec_exits_2(trained_run, tmp_path):
    run = _broken_copy(trained_run, tmp_path, "conditions.json", _without("codec"))
    result = CliRunner().invoke(app, ["--quiet", "sample", "--run", str(run.root), "--n", "1", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no 'codec'" in result.output
