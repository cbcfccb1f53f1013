"""Check a release folder against its manifest, its signature and the SYNTHETIC header marks.

Nothing outside the release folder is ever read: manifest paths that are absolute, contain '..'
or pass through a symlink are reported as tampering and not opened.
"""

from __future__ import annotations

import gzip
import logging
import os
import stat
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import nibabel as nib
import numpy as np

from synthshare.errors import BadInputError
from synthshare.release.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    UNLISTED,
    list_release_files,
    parse_manifest,
    sha256_file,
)
from synthshare.release.nifti_out import is_marked_synthetic
from synthshare.release.signing import load_public_key, signature_valid

logger = logging.getLogger(__name__)

SignatureState = Literal["valid", "invalid", "absent", "not_checked", "missing"]


class NotAReleaseError(BadInputError):
    """The folder is not a synthshare release (no manifest): exit 2."""


@dataclass(kw_only=True)
class VerifyReport:
    """What `verify` found. ``ok`` only when nothing changed and the signature (if asked for) holds."""

    release: str
    checked: int = 0
    modified: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    not_synthetic: list[str] = field(default_factory=list)
    signature: SignatureState = "absent"

    @property
    def ok(self) -> bool:
        changed = self.modified or self.missing or self.added or self.unsafe or self.not_synthetic
        return not changed and self.signature in ("valid", "absent", "not_checked")

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> str:
        if self.ok:
            return f"{self.release}: intact ({self.checked} files, signature {self.signature})"
        parts = [f"{name}: {', '.join(items)}" for name, items in (
            ("modified", self.modified), ("missing", self.missing), ("added", self.added),
            ("unsafe", self.unsafe), ("not synthetic", self.not_synthetic),
        ) if items]
        if self.signature not in ("valid", "absent", "not_checked"):
            parts.append(f"signature {self.signature}")
        return f"{self.release}: TAMPERED; " + "; ".join(parts)


def _read_regular(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _link_on_the_way(root: Path, rel: str) -> bool:
    """True if any component of root/rel is a symlink (checked without following any)."""
    current = root
    for part in rel.split("/"):
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except FileNotFoundError:
            return False
    return False


def _nifti_problem(path: Path) -> str | None:
    try:
        image = nib.load(path)
        np.asanyarray(image.dataobj)  # decompress everything: a truncated file fails here
    except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile, nib.filebasedimages.ImageFileError) as err:
        return f"does not open as NIfTI ({type(err).__name__})"
    if not isinstance(image.header, nib.Nifti1Header) or not is_marked_synthetic(image.header):
        return "header is not marked SYNTHETIC"
    return None


def verify_release(*, release: Path, public_key: Path | None = None) -> VerifyReport:
    """Check every manifest hash, added/missing files, unsafe paths, signature and NIfTI marks."""
    root = Path(release)
    if not root.is_dir():
        raise NotAReleaseError(f"{root}: not a folder; pass the release folder you received")
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.exists() and not manifest_path.is_symlink():
        raise NotAReleaseError(f"{root}: no {MANIFEST_NAME}, so this is not a synthshare release folder")
    key = load_public_key(public_key) if public_key is not None else None
    report = VerifyReport(release=str(root))
    if manifest_path.is_symlink() or not manifest_path.is_file():
        report.unsafe.append(f"{MANIFEST_NAME} (not a regular file)")
        return report
    manifest = _read_regular(manifest_path)

    # 1. signature over the manifest bytes
    signature_path = root / SIGNATURE_NAME
    has_signature = signature_path.is_file() and not signature_path.is_symlink()
    if signature_path.is_symlink():
        report.unsafe.append(f"{SIGNATURE_NAME} (symlink)")
    if key is None:
        report.signature = "not_checked" if has_signature else "absent"
    elif not has_signature:
        report.signature = "missing"
    else:
        valid = signature_valid(public_key=key, data=manifest, signature_file=_read_regular(signature_path))
        report.signature = "valid" if valid else "invalid"

    # 2. every manifest entry: safe path, present, regular, same hash
    try:
        entries, problems = parse_manifest(manifest.decode("utf-8"))
    except UnicodeDecodeError:
        entries, problems = [], [f"{MANIFEST_NAME} is not UTF-8 text"]
    report.unsafe.extend(problems)
    listed = set()
    for entry in entries:
        listed.add(entry.path)
        path = root / entry.path
        if _link_on_the_way(root, entry.path):
            report.unsafe.append(f"{entry.path} (symlink)")
        elif not path.exists():
            report.missing.append(entry.path)
        elif not path.is_file():
            report.unsafe.append(f"{entry.path} (not a regular file)")
        else:
            report.checked += 1
            if sha256_file(path) != entry.digest:
                report.modified.append(entry.path)

    # 3. what is on disk but not in the manifest; links are never followed
    files, links = list_release_files(root)
    report.added.extend(rel for rel in files if rel not in listed and rel not in UNLISTED)
    report.unsafe.extend(f"{rel} (symlink)" for rel in links if f"{rel} (symlink)" not in report.unsafe)

    # 4. every NIfTI opens and is marked SYNTHETIC
    for rel in files:
        if rel.endswith((".nii", ".nii.gz")):
            problem = _nifti_problem(root / rel)
            if problem:
                report.not_synthetic.append(f"{rel} ({problem})")
    logger.info(report.summary())
    return report
