"""The steward's key files: owner-only from creation, created once, reused, refused when unusable."""

from __future__ import annotations

import os
import stat

import pytest

from synthshare import steward_keys
from synthshare.release.pipeline import data_fingerprint, fingerprint_key_path
from synthshare.steward_keys import StewardKeyError, dp_noise_seed, key_path, load_key


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    monkeypatch.setenv("SYNTHSHARE_HOME", str(folder))
    return folder


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", ["fingerprint", "dp-noise"])
def test_key_is_created_owner_only_and_then_reused(home, name):
    key = load_key(name)
    path = home / f"{name}.key"
    assert len(key) == 32 and path.read_bytes() == key
    assert _mode(path) == 0o600 and _mode(home) == 0o700
    assert load_key(name) == key  # reused, not replaced
    assert sorted(p.name for p in home.iterdir()) == [f"{name}.key"]  # no temp file left behind


def test_key_is_never_written_with_a_wider_mode(home, monkeypatch):
    # the file holds the key from the first byte only under 0600: no chmod after the fact
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flags, mode=0o777, **kw: opened.append((flags, mode)) or real_open(path, flags, mode, **kw))
    load_key("dp-noise")
    creating = [(flags, mode) for flags, mode in opened if flags & os.O_CREAT]
    assert creating and all(flags & os.O_EXCL and mode == 0o600 for flags, mode in creating)


def test_losing_the_creation_race_keeps_the_winners_key(home):
    path = key_path("dp-noise")
    steward_keys._create(path)  # the winner
    winner = path.read_bytes()
    steward_keys._create(path)  # a second process arriving late: its own random key must not replace it
    assert path.read_bytes() == winner and load_key("dp-noise") == winner
    assert sorted(p.name for p in home.iterdir()) == ["dp-noise.key"]


def test_an_existing_key_is_used_as_is(home):
    home.mkdir(mode=0o700)
    (home / "fingerprint.key").write_bytes(b"k" * 32)
    os.chmod(home / "fingerprint.key", 0o600)
    assert fingerprint_key_path() == home / "fingerprint.key"
    assert data_fingerprint(keys=["a"]) == data_fingerprint(keys=["a"])
    assert (home / "fingerprint.key").read_bytes() == b"k" * 32


@pytest.mark.parametrize("content, mode, message", [
    (b"k" * 32, 0o644, "readable by other users"),
    (b"short", 0o600, "not a 32-byte key"),
])
def test_an_unusable_key_is_refused(home, content, mode, message):
    home.mkdir(mode=0o700)
    path = home / "dp-noise.key"
    path.write_bytes(content)
    os.chmod(path, mode)
    with pytest.raises(StewardKeyError, match=message):
        dp_noise_seed(stage="vae", seed=0)


def test_dp_seeds_are_keyed_per_stage_and_separate_from_the_fingerprint_key(home, tmp_path, monkeypatch):
    seeds = {stage: dp_noise_seed(stage=stage, seed=0) for stage in ("stats", "vae", "static", "motion")}
    assert len(set(seeds.values())) == 4 and all(0 <= s < 2**63 for s in seeds.values())
    assert dp_noise_seed(stage="vae", seed=0) == seeds["vae"] and dp_noise_seed(stage="vae", seed=1) != seeds["vae"]
    assert load_key("dp-noise") != load_key("fingerprint")  # showing the fingerprint key never reveals the noise
    monkeypatch.setenv("SYNTHSHARE_HOME", str(tmp_path / "other"))
    assert dp_noise_seed(stage="vae", seed=0) != seeds["vae"]
