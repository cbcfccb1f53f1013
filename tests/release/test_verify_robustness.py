"""`verify` on hostile releases: crafted NIfTI files, unlookable manifest paths, gzip bombs, a lost
manifest, unreadable and empty folders. Every case is a finding with an exit code, never a crash."""

from __future__ import annotations

import gzip
import json
import os
import struct

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from synthshare.cli.app import app
from synthshare.release import verify as verify_mod
from synthshare.release.manifest import MANIFEST_NAME, build_manifest
from synthshare.release.nifti_out import write_nifti
from synthshare.release.verify import NotAReleaseError, verify_release

runner = CliRunner()
CINE = "sub-syn0001/anat/sub-syn0001_cine.nii.gz"


def _relist(release) -> None:
    """Rewrite the manifest to match the folder: the attacker (or a buggy releaser) controls it."""
    (release / MANIFEST_NAME).write_text(build_manifest(release))


def _marked_nifti_bytes(scratch) -> bytearray:
    """An uncompressed NIfTI marked SYNTHETIC, as synthshare writes it."""
    path = write_nifti(path=scratch / "m.nii.gz", array=np.zeros((4, 4, 2, 3), np.float32), spacing=(1.5, 1.5, 8.0))
    return bytearray(nib.load(path).to_bytes())


# --- (a) any failure to open a crafted NIfTI is a finding ----------------------------------------------


def _crafted(kind: str, scratch) -> bytes:
    data = _marked_nifti_bytes(scratch)
    if kind == "negative vox_offset":  # nibabel: HeaderDataError, not a ValueError
        struct.pack_into("<f", data, 108, -1000.0)
    elif kind == "unknown datatype":
        struct.pack_into("<h", data, 70, 999)
    elif kind == "huge dims":
        struct.pack_into("<hhhhh", data, 40, 4, 32767, 32767, 32767, 32767)
    elif kind == "negative dim":
        struct.pack_into("<h", data, 42, -4)
    elif kind == "truncated":
        data = data[:-10]
    return bytes(data)


@pytest.mark.parametrize("kind", ["negative vox_offset", "unknown datatype", "huge dims", "negative dim", "truncated"])
def test_crafted_listed_nifti_is_not_synthetic_not_a_crash(release, tmp_path, kind):
    (release / "sub-syn0001/anat/evil.nii").write_bytes(_crafted(kind, tmp_path))
    _relist(release)
    report = verify_release(release=release)
    assert report.modified == [] and report.added == []
    assert [item.split(" (")[0] for item in report.not_synthetic] == ["sub-syn0001/anat/evil.nii"]
    assert runner.invoke(app, ["verify", str(release)]).exit_code == 1


def test_control_a_well_formed_marked_nifti_passes(release, tmp_path):
    (release / "sub-syn0001/anat/fine.nii").write_bytes(_crafted("none", tmp_path))
    _relist(release)
    assert verify_release(release=release).ok


@pytest.mark.parametrize("error", [MemoryError, OverflowError, nib.spatialimages.HeaderDataError])
def test_any_error_while_opening_is_a_finding(release, monkeypatch, error):
    def explode(path, *args, **kwargs):
        raise error("crafted")

    monkeypatch.setattr(verify_mod.nib, "load", explode)
    report = verify_release(release=release)
    assert len(report.not_synthetic) == 12 and all(error.__name__ in item for item in report.not_synthetic)


# --- (b) manifest paths that cannot be looked up --------------------------------------------------------


@pytest.mark.parametrize("bad, finding", [
    ("README.md/x", "missing"),  # NotADirectoryError
    ("a" * 300, "unsafe"),  # ENAMETOOLONG
    ("sub-syn0001/" + "b" * 300 + "/c", "unsafe"),
])
def test_unlookable_manifest_path_is_reported_and_json_still_printed(release, bad, finding):
    manifest = release / MANIFEST_NAME
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  {bad}\n")
    report = verify_release(release=release)
    assert any(item.startswith(bad) for item in getattr(report, finding)) and not report.ok
    result = runner.invoke(app, ["verify", str(release), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["ok"] is False


# --- (c) only hash-matched NIfTI files are decompressed ---------------------------------------------------


def test_added_or_modified_nifti_is_never_decompressed(release, tmp_path, monkeypatch):
    bomb = gzip.compress(bytes(_marked_nifti_bytes(tmp_path)[:352]) + b"\0" * (8 << 20))  # stand-in for a gzip bomb
    (release / "sub-syn0001/anat/bomb.nii.gz").write_bytes(bomb)
    with gzip.open(release / CINE, "ab") as handle:  # the listed cine, modified but still valid gzip
        handle.write(b"\0")
    opened: list[str] = []
    real = verify_mod._nifti_problem
    monkeypatch.setattr(verify_mod, "_nifti_problem", lambda path: opened.append(path.name) or real(path))
    monkeypatch.setattr(verify_mod.gzip, "open", lambda path, *a, **k: pytest.fail(f"decompressed {path}")
                        if path.name in ("bomb.nii.gz", "sub-syn0001_cine.nii.gz") else gzip.GzipFile(path, *a, **k))
    report = verify_release(release=release)
    assert report.added == ["sub-syn0001/anat/bomb.nii.gz"] and report.modified == [CINE]
    assert "bomb.nii.gz" not in opened and "sub-syn0001_cine.nii.gz" not in opened
    assert len(opened) == 11  # control: every other (hash-matched) NIfTI was checked


def test_a_listed_nifti_declaring_more_than_the_cap_is_not_read(release, monkeypatch):
    monkeypatch.setattr(verify_mod, "MAX_NIFTI_BYTES", 100)
    streamed: list[str] = []
    monkeypatch.setattr(verify_mod, "_stream_voxels", lambda path, end: streamed.append(path.name))
    report = verify_release(release=release)
    assert report.not_synthetic and all("more than the 100 " in item for item in report.not_synthetic)
    assert streamed == []


# --- (d) a deleted manifest ---------------------------------------------------------------------------------


def test_deleted_manifest_of_a_signed_release_is_tampering(tmp_path, subjects, keypair):
    from release_helpers import build_tiny_release

    release = build_tiny_release(tmp_path / "S", subjects, signing_key=keypair[0])
    (release / MANIFEST_NAME).unlink()
    report = verify_release(release=release)
    assert report.missing == [MANIFEST_NAME] and not report.ok and report.signature == "not_checked"
    assert verify_release(release=release, public_key=keypair[1]).signature == "invalid"
    assert runner.invoke(app, ["verify", str(release)]).exit_code == 1


def test_deleted_manifest_and_signature_with_reports_left_is_tampering(release):
    (release / MANIFEST_NAME).unlink()
    assert runner.invoke(app, ["verify", str(release)]).exit_code == 1


def test_a_plain_bids_tree_is_still_not_a_release(tmp_path):
    anat = tmp_path / "bids" / "sub-01" / "anat"
    anat.mkdir(parents=True)
    (anat / "sub-01_T1w.nii.gz").write_bytes(b"x")
    with pytest.raises(NotAReleaseError):
        verify_release(release=tmp_path / "bids")
    assert runner.invoke(app, ["verify", str(tmp_path / "bids")]).exit_code == 2


# --- (e) unreadable and empty folders ------------------------------------------------------------------------


def test_unreadable_folder_is_reported(release, monkeypatch):
    real = os.scandir
    target = str(release / "reports")

    def scandir(path="."):
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real(path)

    monkeypatch.setattr(verify_mod.os, "scandir", scandir)
    report = verify_release(release=release)
    assert "reports/ (folder cannot be read: Permission denied)" in report.unsafe and not report.ok


def test_empty_extra_folder_is_added(release):
    (release / "sub-syn0001" / "hidden" / "deeper").mkdir(parents=True)
    report = verify_release(release=release)
    assert report.added == ["sub-syn0001/hidden/deeper/ (empty folder)"] and not report.ok


def test_fifo_is_reported_and_never_opened(release):
    os.mkfifo(release / "evil.nii")  # opening a fifo for reading would block forever
    report = verify_release(release=release)
    assert report.added == ["evil.nii"] and "evil.nii (not a regular file)" in report.unsafe


def test_unreadable_listed_file_is_a_finding(release, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(verify_mod, "sha256_file", refuse)
    report = verify_release(release=release)
    assert report.checked == 0 and len(report.unsafe) == 25
    assert all(item.endswith("(cannot be read: Permission denied)") for item in report.unsafe)
