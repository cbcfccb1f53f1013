from __future__ import annotations

import json
import os

import numpy as np
import pytest
from release_helpers import build_tiny_release
from typer.testing import CliRunner

from synthshare.atomic import atomic_write_bytes
from synthshare.cli.app import app
from synthshare.release import manifest as manifest_mod
from synthshare.release import verify as verify_mod
from synthshare.release.manifest import build_manifest
from synthshare.release.nifti_out import gzip_deterministic
from synthshare.release.verify import NotAReleaseError, verify_release

runner = CliRunner()


def _cli(*args):
    return runner.invoke(app, ["verify", *map(str, args)])


def _files(release):
    return [line.split("  ", 1)[1] for line in (release / "manifest-sha256.txt").read_text().splitlines()]


def test_intact_release_passes(release):
    report = verify_release(release=release)
    assert report.ok and report.checked == 25 and report.signature == "absent"
    result = _cli(release)
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_every_file_flip_one_byte_is_caught(release):
    for rel in _files(release):
        path = release / rel
        original = path.read_bytes()
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        report = verify_release(release=release)
        assert not report.ok and report.modified == [rel], rel
        path.write_bytes(original)
    assert verify_release(release=release).ok  # restored: intact again


def test_cli_names_the_modified_file(release):
    path = release / "sub-syn0002/anat/sub-syn0002_cine.json"
    path.write_text(path.read_text().replace('"seed": 2', '"seed": 3'))
    result = _cli(release, "--json")
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert found["modified"] == ["sub-syn0002/anat/sub-syn0002_cine.json"] and found["ok"] is False
    assert "sub-syn0002/anat/sub-syn0002_cine.json" in result.output


def test_added_and_missing_files(release):
    (release / "sub-syn0001/anat/extra.txt").write_text("hello")
    (release / "LICENSE").unlink()
    report = verify_release(release=release)
    assert report.added == ["sub-syn0001/anat/extra.txt"] and report.missing == ["LICENSE"]
    assert _cli(release).exit_code == 1


def test_not_a_release(tmp_path):
    with pytest.raises(NotAReleaseError):
        verify_release(release=tmp_path)
    assert _cli(tmp_path).exit_code == 2
    assert _cli(tmp_path / "nope").exit_code == 2


@pytest.mark.parametrize("bad_path", ["../secret.txt", "/etc/hostname", "sub-syn0001/../../secret.txt", "./LICENSE"])
def test_manifest_path_escape_is_refused_and_not_read(release, monkeypatch, bad_path):
    secret = release.parent / "secret.txt"
    secret.write_text("outside")
    manifest = release / "manifest-sha256.txt"
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  {bad_path}\n")
    opened = []
    real = manifest_mod.sha256_file
    monkeypatch.setattr(verify_mod, "sha256_file", lambda p: opened.append(os.path.realpath(p)) or real(p))
    report = verify_release(release=release)
    assert not report.ok and any(bad_path in u for u in report.unsafe)
    assert all(p.startswith(os.path.realpath(release) + os.sep) for p in opened)
    assert _cli(release).exit_code == 1


def test_symlink_is_refused(release, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    target = release / "reports/fidelity.json"
    target.unlink()
    target.symlink_to(outside)
    report = verify_release(release=release)
    assert "reports/fidelity.json (symlink)" in report.unsafe and not report.ok


def test_symlinked_folder_is_refused(release, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (release / "linked").symlink_to(tmp_path / "elsewhere")
    report = verify_release(release=release)
    assert report.unsafe == ["linked (symlink)"] and not report.ok


def test_nifti_not_marked_synthetic_is_caught(release):
    # rewrite a NIfTI without the marks AND update the manifest: hashes pass, the mark check must not
    import nibabel as nib

    rel = "sub-syn0001/anat/sub-syn0001_dseg.nii.gz"
    img = nib.load(release / rel)
    plain = nib.Nifti1Image(np.asarray(img.dataobj), np.eye(4))
    atomic_write_bytes(path=release / rel, data=gzip_deterministic(plain.to_bytes()))
    (release / "manifest-sha256.txt").write_text(build_manifest(release))
    report = verify_release(release=release)
    assert report.modified == [] and report.not_synthetic == [f"{rel} (header is not marked SYNTHETIC)"]
    assert not report.ok


def test_signature_good_bad_wrong_key(tmp_path, subjects, keypair):
    from synthshare.release.signing import generate_keypair

    private, public = keypair
    other_private, other_public = tmp_path / "o.pem", tmp_path / "o.pub.pem"
    generate_keypair(private_key_path=other_private, public_key_path=other_public)
    release = build_tiny_release(tmp_path / "S", subjects, signing_key=private)

    assert verify_release(release=release, public_key=public).signature == "valid"
    assert _cli(release, "--public-key", public).exit_code == 0
    assert verify_release(release=release).signature == "not_checked"  # present, no key: hashes only
    wrong = verify_release(release=release, public_key=other_public)
    assert wrong.signature == "invalid" and not wrong.ok
    assert _cli(release, "--public-key", other_public).exit_code == 1

    # an attacker edits a file and rewrites the manifest to match: hashes pass, the signature does not
    side = release / "sub-syn0001/anat/sub-syn0001_cine.json"
    side.write_text(side.read_text().replace('"seed": 1', '"seed": 7'))
    (release / "manifest-sha256.txt").write_text(build_manifest(release))
    forged = verify_release(release=release, public_key=public)
    assert forged.modified == [] and forged.signature == "invalid" and not forged.ok

    (release / "signature").write_text("not base64 !!\n")
    assert verify_release(release=release, public_key=public).signature == "invalid"


def test_public_key_given_but_unsigned_release_fails(release, keypair):
    report = verify_release(release=release, public_key=keypair[1])
    assert report.signature == "missing" and not report.ok
    assert _cli(release, "--public-key", keypair[1]).exit_code == 1


def test_bad_public_key_file_is_bad_input(release, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    assert _cli(release, "--public-key", bad).exit_code == 2
