"""Build a release package: the whole tree in a temp folder beside ``out``, then renamed into place.

    RELEASE/
      README.md  datasheet.md  LICENSE  dataset_description.json  participants.tsv
      sub-<key>/anat/sub-<key>_cine.nii.gz  _dseg.nii.gz  _cine.json
      nnunet/Dataset<ID>_<Name>/{dataset.json, imagesTr/, labelsTr/}
      reports/report.html  fidelity.json  utility.json  privacy.json  provenance.json
      manifest-sha256.txt  [signature]

Either the whole package appears at ``out`` or nothing changes there. No file holds a timestamp,
so identical inputs give byte-identical packages (and identical manifests and signatures).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from synthshare.atomic import atomic_write_bytes, atomic_write_text, write_json
from synthshare.data.prepared import SyntheticSubject
from synthshare.errors import BadInputError, GateBlockedError
from synthshare.release.bids import check_synthetic_subject, write_synthetic_subject
from synthshare.release.documents import DocumentContext, write_documents
from synthshare.release.manifest import MANIFEST_NAME, SIGNATURE_NAME, build_manifest
from synthshare.release.nnunet import export_nnunet
from synthshare.release.signing import load_private_key, sign

logger = logging.getLogger(__name__)

_REPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # fullmatch: '$' would let a trailing newline through
PROVENANCE_NAME = "provenance.json"


def _report_files(reports: dict[str, dict | str]) -> dict[str, dict | str]:
    """Map report names to file names under reports/: dicts become <name>.json, strings keep their name."""
    files: dict[str, dict | str] = {}
    for name, content in reports.items():
        if not _REPORT_NAME.fullmatch(name):
            raise BadInputError(f"report name {name!r} must be a plain file name (letters, digits, '_', '.', '-')")
        if isinstance(content, dict):
            filename = name if name.endswith(".json") else f"{name}.json"
        elif isinstance(content, str):
            if "." not in name:
                raise BadInputError(f"text report {name!r} needs a file extension, e.g. 'report.html'")
            filename = name
        else:
            raise BadInputError(f"report {name!r} must be a dict (JSON) or a str (HTML/text); got {type(content).__name__}")
        if filename == PROVENANCE_NAME or filename in files:
            raise BadInputError(f"report {name!r} collides with {filename}; pass provenance separately, each report once")
        files[filename] = content
    return files


def _check_gate(reports: dict[str, dict | str]) -> None:
    """Fail closed: a package is only written for a privacy report whose gate passed."""
    privacy = reports.get("privacy", reports.get("privacy.json"))
    passed = isinstance(privacy, dict) and isinstance(privacy.get("gate"), dict) and privacy["gate"].get("passed") is True
    if not passed:
        raise GateBlockedError("no release: reports['privacy'] must hold gate.passed == true (the audit gate did not pass)")


def _check_inputs(*, out: Path, subjects: list[SyntheticSubject], overwrite: bool) -> None:
    if not subjects:
        raise BadInputError("no synthetic subjects to release; sample at least one")
    keys = [s.key for s in subjects]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise BadInputError(f"synthetic subject keys must be unique; repeated: {duplicates}")
    for subject in subjects:
        check_synthetic_subject(subject)
    check_release_target(out=out, overwrite=overwrite)


def check_release_target(*, out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` whose contents would be lost: a file, or a non-empty folder unless
    ``overwrite`` is set and the folder is itself a synthshare release (its root holds the manifest).

    Cheap and read-only, so callers run it before any long work (the CLI does, before training).
    """
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise BadInputError(f"{out}: exists and is not a folder (or is a symlink); choose another --out")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise BadInputError(f"{out}: already holds files; choose an empty or new --out, or pass --overwrite")
    manifest = out / MANIFEST_NAME
    if manifest.is_symlink() or not manifest.is_file():
        raise BadInputError(
            f"{out}: --overwrite replaces only an earlier synthshare release (a folder with {MANIFEST_NAME} "
            "at its root), and this folder is not one; nothing was deleted. Choose a new --out"
        )


def _move_into_place(*, tmp: Path, out: Path) -> None:
    """Rename the finished tree to ``out``; an existing ``out`` is swapped out, then removed."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if not any(out.iterdir()):
        os.rmdir(out)
        os.rename(tmp, out)
        return
    backup = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.rmdir(backup)
    os.rename(out, backup)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(backup, out)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def build_release(
    *,
    out: Path,
    subjects: list[SyntheticSubject],
    reports: dict[str, dict | str],
    context: DocumentContext,
    provenance: dict,
    signing_key: Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the release package at ``out`` and return it; on any error ``out`` is left untouched."""
    out = Path(out).absolute()
    _check_inputs(out=out, subjects=subjects, overwrite=overwrite)
    _check_gate(reports)
    report_files = _report_files(reports)
    private_key = load_private_key(signing_key) if signing_key is not None else None
    out.parent.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.building-"))
    try:
        # 1. subjects: 4D image, 4D labels, sidecar
        for subject in sorted(subjects, key=lambda s: s.key):
            write_synthetic_subject(subject=subject, out_dir=tmp)
        # 2. nnU-Net v2 export of the ED and ES frames
        export_nnunet(
            subjects=sorted(subjects, key=lambda s: s.key),
            out_dir=tmp / "nnunet",
            dataset_id=context.nnunet_dataset_id,
            name=context.dataset_name,
            license_name=context.license,
        )
        # 3. documents
        write_documents(root=tmp, context=context, subjects=subjects)
        # 4. reports, as given, and provenance
        for filename, content in sorted(report_files.items()):
            if isinstance(content, dict):
                write_json(path=tmp / "reports" / filename, value=content)
            else:
                atomic_write_text(path=tmp / "reports" / filename, text=content)
        write_json(path=tmp / "reports" / PROVENANCE_NAME, value=provenance)
        # 5. manifest over every file, then the signature over the manifest bytes
        manifest = build_manifest(tmp).encode("utf-8")
        atomic_write_bytes(path=tmp / MANIFEST_NAME, data=manifest)
        if private_key is not None:
            atomic_write_bytes(path=tmp / SIGNATURE_NAME, data=sign(private_key=private_key, data=manifest))
        # 6. into place
        os.chmod(tmp, 0o755)
        _move_into_place(tmp=tmp, out=out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("release written to %s (%d subjects)", out, len(subjects))
    return out
