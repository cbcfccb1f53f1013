"""`synthshare keygen`: a key pair that signs a release which verify then accepts."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from typer.testing import CliRunner

from synthshare.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release"))
from release_helpers import build_tiny_release, make_subject

runner = CliRunner()


def test_keygen_key_signs_a_release_that_verify_accepts(tmp_path):
    private = tmp_path / "release.pem"
    result = runner.invoke(app, ["keygen", str(private)])
    assert result.exit_code == 0, result.output
    public = tmp_path / "release.pem.pub"
    assert public.exists() and "PUBLIC KEY" in public.read_text()
    assert stat.S_IMODE(private.stat().st_mode) == 0o600

    release = build_tiny_release(tmp_path / "R", [make_subject(key="syn0001", seed=1)], signing_key=private)
    assert runner.invoke(app, ["verify", str(release), "--public-key", str(public)]).exit_code == 0
    # negative control: another key pair's public key does not verify this release
    other = tmp_path / "other.pem"
    assert runner.invoke(app, ["keygen", str(other), "--public-key", str(tmp_path / "other.pub")]).exit_code == 0
    assert runner.invoke(app, ["verify", str(release), "--public-key", str(tmp_path / "other.pub")]).exit_code == 1


def test_keygen_refuses_to_overwrite_either_key(tmp_path):
    private = tmp_path / "k.pem"
    assert runner.invoke(app, ["keygen", str(private)]).exit_code == 0
    before = private.read_bytes()
    again = runner.invoke(app, ["keygen", str(private)])
    assert again.exit_code == 2 and "already exists" in " ".join(again.output.split())
    assert private.read_bytes() == before

    (tmp_path / "taken.pub").write_text("keep me\n")
    clash = runner.invoke(app, ["keygen", str(tmp_path / "new.pem"), "--public-key", str(tmp_path / "taken.pub")])
    assert clash.exit_code == 2 and "already exists" in " ".join(clash.output.split())
    assert not (tmp_path / "new.pem").exists() and (tmp_path / "taken.pub").read_text() == "keep me\n"


def test_keygen_missing_folder_is_bad_input(tmp_path):
    result = runner.invoke(app, ["keygen", str(tmp_path / "nope" / "k.pem")])
    assert result.exit_code == 2 and "no such folder" in " ".join(result.output.split())
