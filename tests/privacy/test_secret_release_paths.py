"""The release path: keyed stage hashes in provenance, and folders a run may clean only when they are its own."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.config import CONFIG_DIR, load_config
from synthshare.errors import BadInputError
from synthshare.release import pipeline
from synthshare.release.pipeline import WORK_MARKER, claim_work_dir

POLICY = CONFIG_DIR / "policy" / "default.yaml"
RAW = {"vae": "1" * 64, "static": "2" * 64, "motion": "3" * 64}


@pytest.fixture
def use_home(tmp_path, monkeypatch):
    return lambda name: monkeypatch.setenv("SYNTHSHARE_HOME", str(tmp_path / f"home-{name}"))


def _provenance(config) -> dict:
    split = SimpleNamespace(train=["t1", "t2"], holdout=["h1"],
                            to_dict=lambda: {"seed": 0, "holdout_fraction": 0.5, "n_train": 2, "n_holdout": 1})
    run = SimpleNamespace(done=lambda stage: {"hash": RAW[stage]})
    ledger = SimpleNamespace(to_dict=lambda: {"enabled": False})
    return pipeline._provenance(config=config, split=split, ledger=ledger, policy=POLICY, run=run)


def test_provenance_publishes_keyed_stage_hashes_only(use_home):
    config = load_config("tiny")
    use_home("a")
    a = _provenance(config)
    text = json.dumps(a)
    assert not any(raw in text for raw in RAW.values())  # the plain hash would test a guessed training set
    assert a["stages"]["vae"]["algorithm"] == "hmac-sha256"
    assert a["stages"]["vae"]["key_id"] == a["data_fingerprint"]["key_id"]
    assert len({v["value"] for v in a["stages"].values()}) == 3
    assert _provenance(config)["stages"] == a["stages"]  # same key: the steward can recompute them
    assert "dp_randomness" not in a  # DP off: nothing to say, no dp-noise key needed
    use_home("b")
    assert all(_provenance(config)["stages"][s]["value"] != a["stages"][s]["value"] for s in RAW)


def test_dp_provenance_names_the_noise_key_never_the_seeds(use_home, tmp_path):
    from synthshare.steward_keys import dp_noise_seed, key_id, load_key

    use_home("a")
    config = load_config("tiny").with_updates({"privacy": {"epsilon": 8.0}})
    prov = _provenance(config)
    assert prov["dp_randomness"]["key_id"] == key_id(load_key("dp-noise")) != prov["data_fingerprint"]["key_id"]
    text = json.dumps(prov)
    assert not any(str(dp_noise_seed(stage=s, seed=config.seed)) in text for s in ("stats", "vae", "static", "motion"))


def test_stale_builds_of_other_releases_are_left_alone(tmp_path):
    out = tmp_path / "rel[1]"
    mine, other = tmp_path / ".rel[1].building-x", tmp_path / ".rel1.building-y"  # `rel[1]` as a glob matches rel1
    for folder in (mine, other):
        folder.mkdir()
    pipeline._remove_stale_builds(out)
    assert not mine.exists() and other.exists()


def _release(tmp_path, **paths):
    return pipeline.release(out=paths.pop("out", tmp_path / "R"), config=load_config("tiny"), policy=POLICY, **paths)


def test_a_foreign_work_folder_is_refused_before_anything_runs(tmp_path, monkeypatch):
    work = tmp_path / "project"
    (work / "samples").mkdir(parents=True)
    (work / "samples" / "precious.txt").write_text("mine")
    monkeypatch.setattr("synthshare.train.trainer.train_run", lambda **kw: pytest.fail("trained before refusing"))
    with pytest.raises(BadInputError, match=f"{work}: holds files but is not a synthshare work folder"):
        _release(tmp_path, work=work)
    assert sorted(p.name for p in work.rglob("*")) == ["precious.txt", "samples"]
    assert not (tmp_path / "R").exists()


def test_release_work_dot_exits_2_and_deletes_nothing(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "samples").mkdir(parents=True)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, ["--quiet", "release", "--out", str(tmp_path / "R"), "--config", "tiny", "--work", "."])
    assert result.exit_code == 2, result.output
    assert "not a synthshare work folder" in " ".join(result.output.split())
    assert (project / "samples").exists() and not (project / WORK_MARKER).exists()


def test_candidates_are_never_written_over_a_foreign_folder(tmp_path):
    (tmp_path / "samples").mkdir()
    with pytest.raises(BadInputError, match="not a synthshare work folder"):
        pipeline._write_candidates(work=tmp_path, synthetic=[])
    assert (tmp_path / "samples").exists()


@pytest.mark.parametrize("layout", ["new", "empty", "marked", "before-the-marker"])
def test_synthshare_work_folders_are_accepted_and_marked(tmp_path, layout):
    work = tmp_path / "work"
    if layout != "new":
        work.mkdir()
    if layout == "marked":
        (work / WORK_MARKER).write_text("")
        (work / "samples").mkdir()
    if layout == "before-the-marker":  # made by a version that wrote no marker
        (work / "run").mkdir()
        (work / "run" / "config.json").write_text("{}")
    before = {p.name for p in work.iterdir()} if work.exists() else set()
    claim_work_dir(work)
    assert (work / WORK_MARKER).is_file() and {p.name for p in work.iterdir()} == before | {WORK_MARKER}
    pipeline._write_candidates(work=work, synthetic=[])  # a marked folder may be cleaned
    assert (work / "samples").is_dir()


@pytest.mark.parametrize("where, message", [
    ("data", "the work folder must not overlap the cohort folder"),
    ("data/work", "the work folder must not overlap the cohort folder"),
    ("work/R", "the release folder must not be inside the work folder"),
])
def test_overlapping_work_folders_are_refused(tmp_path, where, message):
    data = tmp_path / "data"
    (data / "training").mkdir(parents=True)
    paths = {"data": data, "work": tmp_path / where}
    if where == "work/R":
        paths = {"work": tmp_path / "work", "out": tmp_path / "work" / "R"}
    with pytest.raises(BadInputError, match=message):
        _release(tmp_path, **paths)
    assert not (tmp_path / "work").exists() and not (data / "work").exists()
