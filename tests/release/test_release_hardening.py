"""Small hardening contracts of the release path: strict names, --overwrite only over a release,
owner-only private keys from the first byte, durable atomic writes, JSON of numpy arrays."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from release_helpers import build_tiny_release, make_subject

from synthshare import atomic
from synthshare.errors import BadInputError
from synthshare.release.bids import check_synthetic_subject
from synthshare.release.nnunet import dataset_folder_name
from synthshare.release.package import _report_files, check_release_target

# --- 6. names: a trailing newline is not alphanumeric --------------------------------------------------


@pytest.mark.parametrize("name, ok", [("SynthCine", True), ("SynthCine\n", False), ("Synth_Cine", False), ("", False)])
def test_nnunet_dataset_name(name, ok):
    if ok:
        assert dataset_folder_name(dataset_id=501, name=name) == "Dataset501_SynthCine"
    else:
        with pytest.raises(BadInputError, match="dataset_name"):
            dataset_folder_name(dataset_id=501, name=name)


@pytest.mark.parametrize("key, ok", [("syn0001", True), ("syn0001\n", False), ("syn-0001", False)])
def test_subject_key(key, ok):
    subject = make_subject(key=key, seed=1)
    if ok:
        check_synthetic_subject(subject)
    else:
        with pytest.raises(BadInputError, match="alphanumeric"):
            check_synthetic_subject(subject)


def test_report_name_with_a_trailing_newline_is_refused():
    assert list(_report_files({"fidelity": {}})) == ["fidelity.json"]
    with pytest.raises(BadInputError, match="plain file name"):
        _report_files({"fidelity\n": {}})


# --- 4. --overwrite replaces only a release ---------------------------------------------------------------


def test_a_folder_with_a_symlinked_manifest_is_not_a_release(tmp_path):
    out = tmp_path / "R"
    out.mkdir()
    (tmp_path / "m.txt").write_text("")
    (out / "manifest-sha256.txt").symlink_to(tmp_path / "m.txt")
    with pytest.raises(BadInputError, match="replaces only"):
        check_release_target(out=out, overwrite=True)


@pytest.mark.parametrize("state", ["new", "empty", "release"])
def test_targets_that_may_be_written(tmp_path, subjects, state):
    out = tmp_path / "R"
    if state == "empty":
        out.mkdir()
    elif state == "release":
        build_tiny_release(out, subjects)
        (out / "stale.txt").write_text("old")  # anything inside an old release goes with it
    check_release_target(out=out, overwrite=state == "release")
    if state == "release":
        build_tiny_release(out, subjects, overwrite=True)
        assert not (out / "stale.txt").exists()


def test_a_file_is_never_a_target(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadInputError, match="not a folder"):
        check_release_target(out=tmp_path / "f", overwrite=True)


# --- 7. the private key is never readable by others ----------------------------------------------------------


def test_private_key_is_owner_only_before_it_gets_its_name(tmp_path, monkeypatch):
    from synthshare.release.signing import generate_keypair

    modes: dict[str, int] = {}
    real = os.replace

    def spy(src, dst):
        modes[os.path.basename(dst)] = stat.S_IMODE(os.stat(src).st_mode)
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    generate_keypair(private_key_path=tmp_path / "k.pem", public_key_path=tmp_path / "k.pub")
    assert modes == {"k.pem": 0o600, "k.pub": 0o644}
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


# --- 8. atomic writes are durable; canonical JSON takes arrays ------------------------------------------------


def test_atomic_write_with_fsyncs_file_then_folder(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        return real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)

    def write(tmp: str) -> None:  # a path-taking writer, like safetensors' save_file
        with open(tmp, "wb") as handle:
            handle.write(b"weights")

    atomic.atomic_write_with(path=tmp_path / "ckpt.safetensors", write=write, mode=atomic.INTERNAL)
    assert events == ["fsync file", "replace", "fsync dir"]
    assert (tmp_path / "ckpt.safetensors").read_bytes() == b"weights"
    assert stat.S_IMODE((tmp_path / "ckpt.safetensors").stat().st_mode) == 0o600


def test_canonical_json_of_numpy_arrays_and_scalars():
    value = {"v": np.array([1.0, np.nan, 3.0], dtype=np.float32), "m": np.arange(4).reshape(2, 2), "s": np.float64(0.5),
             "one": np.array([7]), "flag": np.bool_(True)}
    assert atomic.canonical_json(value) == atomic.canonical_json(
        {"v": [1.0, None, 3.0], "m": [[0, 1], [2, 3]], "s": 0.5, "one": [7], "flag": True})
