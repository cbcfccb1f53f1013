from __future__ import annotations

import json
import os

import pytest
from release_helpers import PRIVACY, build_tiny_release

from synthshare.errors import BadInputError, GateBlockedError
from synthshare.release import package as package_mod
from synthshare.release.manifest import build_manifest

EXPECTED_TOP = {
    "LICENSE", "README.md", "datasheet.md", "dataset_description.json", "participants.tsv",
    "manifest-sha256.txt", "nnunet", "reports", "sub-syn0001", "sub-syn0002",
}


def _tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_layout(release):
    assert {p.name for p in release.iterdir()} == EXPECTED_TOP
    files = _tree(release)
    for key in ("syn0001", "syn0002"):
        for suffix in ("_cine.nii.gz", "_dseg.nii.gz", "_cine.json"):
            assert f"sub-{key}/anat/sub-{key}{suffix}" in files
    assert sorted(f for f in files if f.startswith("reports/")) == [
        "reports/fidelity.json", "reports/privacy.json", "reports/provenance.json",
        "reports/report.html", "reports/utility.json",
    ]
    assert len([f for f in files if f.startswith("nnunet/Dataset501_SynthCine/imagesTr/")]) == 4
    assert len(files) == 6 + 5 + 9 + 5 + 1  # subjects, documents, nnunet, reports, manifest
    # no temp folders left beside the release
    assert sorted(p.name for p in release.parent.iterdir()) == ["RELEASE"]


def test_documents(release):
    desc = json.loads((release / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Name"] == "synthshare"
    assert {"Name", "BIDSVersion"} <= desc.keys()
    tsv = (release / "participants.tsv").read_text().splitlines()
    assert tsv[0].split("\t")[:3] == ["participant_id", "group", "requested_lv_edv"]
    assert [row.split("\t")[0] for row in tsv[1:]] == ["sub-syn0001", "sub-syn0002"]
    readme = (release / "README.md").read_text()
    assert "(8, 1e-05)-DP" in readme and "synthshare verify" in readme and "nnUNetv2_train 501" in readme
    assert "no formal privacy guarantee" not in readme
    sheet = (release / "datasheet.md").read_text()
    for section in ("Motivation", "Composition", "Collection process", "Preprocessing", "Uses", "Distribution", "Maintenance"):
        assert f"## {section}" in sheet
    assert "CC-BY-NC-SA-4.0" in (release / "LICENSE").read_text()
    assert json.loads((release / "reports/privacy.json").read_text()) == PRIVACY


def test_manifest_covers_every_file(release):
    lines = (release / "manifest-sha256.txt").read_text().splitlines()
    paths = [line.split("  ", 1)[1] for line in lines]
    assert paths == sorted(paths)
    assert paths == [p for p in _tree(release) if p != "manifest-sha256.txt"]
    assert (release / "manifest-sha256.txt").read_text() == build_manifest(release)


def test_build_twice_is_byte_identical(tmp_path, subjects, keypair):
    a = build_tiny_release(tmp_path / "A", subjects, signing_key=keypair[0])
    b = build_tiny_release(tmp_path / "B", subjects, signing_key=keypair[0])
    assert (a / "manifest-sha256.txt").read_bytes() == (b / "manifest-sha256.txt").read_bytes()
    assert (a / "signature").read_bytes() == (b / "signature").read_bytes()
    # negative control: one changed subject changes the manifest
    from dataclasses import replace

    changed = [replace(subjects[0], seed=99), subjects[1]]
    c = build_tiny_release(tmp_path / "C", changed)
    assert (a / "manifest-sha256.txt").read_bytes() != (c / "manifest-sha256.txt").read_bytes()


def test_dp_off_says_no_formal_guarantee(tmp_path, subjects):
    from synthshare.config import load_config
    from synthshare.release.documents import DocumentContext
    from synthshare.release.package import build_release

    context = DocumentContext.from_config(config=load_config("tiny"), source_cohort="phantom", privacy_report={"dp": {"enabled": False}})
    reports = {"privacy": {"dp": {"enabled": False}, "gate": {"passed": True}}}
    out = build_release(out=tmp_path / "R", subjects=subjects, reports=reports, context=context, provenance={})
    assert "no formal privacy guarantee" in (out / "README.md").read_text()
    assert "no formal privacy guarantee" in (out / "datasheet.md").read_text()


def test_refuses_non_empty_out_unless_overwrite(tmp_path, subjects):
    out = tmp_path / "R"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(BadInputError, match="already holds files"):
        build_tiny_release(out, subjects)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(BadInputError, match="replaces only an earlier synthshare release"):
        build_tiny_release(out, subjects, overwrite=True)  # not a release: never deleted
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    build_tiny_release(out, subjects)
    (out / "keep.txt").write_text("added to the release")
    build_tiny_release(out, subjects, overwrite=True)  # an earlier release is replaced whole
    assert not (out / "keep.txt").exists() and (out / "manifest-sha256.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]


def test_empty_out_folder_is_fine(tmp_path, subjects):
    (tmp_path / "R").mkdir()
    assert (build_tiny_release(tmp_path / "R", subjects) / "README.md").exists()


@pytest.mark.parametrize("target", ["export_nnunet", "write_documents", "build_manifest"])
def test_failure_midway_leaves_nothing(tmp_path, subjects, monkeypatch, target):
    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(package_mod, target, lambda *a, **k: boom())
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_tiny_release(tmp_path / "R", subjects)
    assert list(tmp_path.iterdir()) == []


def test_failure_with_overwrite_keeps_old_release(tmp_path, subjects, monkeypatch):
    out = build_tiny_release(tmp_path / "R", subjects)
    before = (out / "manifest-sha256.txt").read_bytes()
    monkeypatch.setattr(package_mod, "write_documents", lambda **k: (_ for _ in ()).throw(RuntimeError("late")))
    with pytest.raises(RuntimeError):
        build_tiny_release(out, subjects, overwrite=True)
    assert (out / "manifest-sha256.txt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]


@pytest.mark.parametrize("privacy", [None, {"gate": {"passed": False}}, {"gate": {"passed": "yes"}}])
def test_gate_must_have_passed(tmp_path, subjects, privacy):
    reports = {"fidelity": {}} if privacy is None else {"privacy": privacy}
    with pytest.raises(GateBlockedError):
        build_tiny_release(tmp_path / "R", subjects, reports=reports)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("reports", [
    {"privacy": PRIVACY, "../evil": {}},
    {"privacy": PRIVACY, "provenance": {}},
    {"privacy": PRIVACY, "notes": "text without extension"},
])
def test_bad_report_names(tmp_path, subjects, reports):
    with pytest.raises(BadInputError):
        build_tiny_release(tmp_path / "R", subjects, reports=reports)
    assert list(tmp_path.iterdir()) == []


def test_duplicate_keys_rejected(tmp_path, subjects):
    with pytest.raises(BadInputError, match="unique"):
        build_tiny_release(tmp_path / "R", [subjects[0], subjects[0]])
    assert not os.path.exists(tmp_path / "R")
