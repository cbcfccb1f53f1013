"""Check a release folder against its manifest, its signature and the SYNTHETIC header marks.

Nothing outside the release folder is ever read: manifest paths that are absolute, contain '..'
or pass through a symlink are reported as tampering and not opened. The files are untrusted: a
path that cannot be looked up or read is a finding, never a crash; only NIfTI files whose hash
matched the manifest are decompressed, in chunks, up to a fixed size (no gzip bomb is inflated).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import nibabel as nib

from synthshare.errors import BadInputError
from synthshare.release.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    UNLISTED,
    parse_manifest,
    sha256_file,
)
from synthshare.release.nifti_out import is_marked_synthetic
from synthshare.release.signing import load_public_key, signature_valid

logger = logging.getLogger(__name__)

SignatureState = Literal["valid", "invalid", "absent", "not_checked", "missing"]

# header plus voxel bytes verify streams per NIfTI file; synthetic cines are ~100 MB at ACDC shapes
MAX_NIFTI_BYTES = 2 << 30
_CHUNK = 1 << 20
# with the manifest gone, any of these at the root shows the folder was a synthshare release (a lost
# manifest is tampering, exit 1), not a wrong folder (exit 2). A BIDS tree alone is no evidence: real
# datasets have sub-* folders too.
RELEASE_EVIDENCE = (SIGNATURE_NAME, "reports/privacy.json", "reports/provenance.json")


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


def _entry_problem(root: Path, rel: str) -> tuple[str, str] | None:
    """Why manifest entry ``rel`` cannot be hashed, as (finding, detail); None for a regular file.

    Each component is checked with lstat, so no symlink is followed and nothing outside is touched.
    """
    current = root
    parts = rel.split("/")
    for i, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return ("missing", "")
        except OSError as err:  # a name too long, a folder that cannot be searched, ...
            return ("unsafe", f"cannot be looked up: {err.strerror or type(err).__name__}")
        if stat.S_ISLNK(mode):
            return ("unsafe", "symlink")
        if i < len(parts) - 1 and not stat.S_ISDIR(mode):
            return ("missing", "")  # a file where the manifest needs a folder: the entry is not there
        if i == len(parts) - 1 and not stat.S_ISREG(mode):
            return ("unsafe", "not a regular file")
    return None


@dataclass
class _Listing:
    files: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)  # fifos, sockets, devices: never opened
    empty_folders: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _walk(root: Path) -> _Listing:
    """Everything under ``root`` as POSIX relative paths, without following links or skipping errors."""
    found = _Listing()
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(root / folder if folder else root) as scan:
                entries = list(scan)
        except OSError as err:
            found.unreadable.append(f"{folder or '.'}/ (folder cannot be read: {err.strerror or type(err).__name__})")
            continue
        if folder and not entries:
            found.empty_folders.append(f"{folder}/")
        for entry in entries:
            rel = f"{folder}/{entry.name}" if folder else entry.name
            try:
                if entry.is_symlink():
                    found.links.append(rel)
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    found.files.append(rel)
                else:
                    found.special.append(rel)
            except OSError as err:
                found.unreadable.append(f"{rel} (cannot be looked up: {err.strerror or type(err).__name__})")
    for items in (found.files, found.links, found.special, found.empty_folders, found.unreadable):
        items.sort()
    return found


def _stream_voxels(path: Path, *, end: int) -> None:
    """Read the first ``end`` bytes (decompressed) in chunks and drop them; raise EOFError if fewer."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        left = end
        while left > 0:
            chunk = handle.read(min(left, _CHUNK))
            if not chunk:
                raise EOFError(f"{left} bytes short")
            left -= len(chunk)


def _nifti_problem(path: Path) -> str | None:
    """None if ``path`` opens as NIfTI-1, holds every voxel its header declares and is marked SYNTHETIC."""
    try:
        image = nib.load(path)  # the header only
        header, proxy = image.header, image.dataobj  # the proxy knows where nibabel would read the voxels
        shape = [int(n) for n in proxy.shape]
        if any(n < 0 for n in shape):
            return f"does not open as NIfTI (negative dimension in shape {tuple(shape)})"
        end = int(proxy.offset) + math.prod(shape) * proxy.dtype.itemsize
        if end > MAX_NIFTI_BYTES:
            return f"declares {end} bytes, more than the {MAX_NIFTI_BYTES} verify reads"
        _stream_voxels(path, end=end)  # a truncated file fails here, in constant memory
    except Exception as err:  # untrusted bytes: any failure to open is the finding (nibabel raises many types)
        return f"does not open as NIfTI ({type(err).__name__})"
    if not isinstance(header, nib.Nifti1Header) or not is_marked_synthetic(header):
        return "header is not marked SYNTHETIC"
    return None


def _signature_state(*, has_signature: bool, key_given: bool) -> SignatureState:
    if not key_given:
        return "not_checked" if has_signature else "absent"
    return "missing" if not has_signature else "invalid"


def _lost_manifest(root: Path, *, key_given: bool) -> VerifyReport | None:
    """A release whose manifest was deleted: tampered, with the manifest missing; None if no evidence."""
    evidence = [name for name in RELEASE_EVIDENCE if _entry_problem(root, name) is None]
    if not evidence:
        return None
    report = VerifyReport(release=str(root))
    report.missing.append(MANIFEST_NAME)
    has_signature = SIGNATURE_NAME in evidence
    report.signature = _signature_state(has_signature=has_signature, key_given=key_given)
    logger.info("%s: no %s, but %s: a release that lost its manifest", root, MANIFEST_NAME, ", ".join(evidence))
    return report


def verify_release(*, release: Path, public_key: Path | None = None) -> VerifyReport:
    """Check every manifest hash, added/missing files, unsafe paths, signature and NIfTI marks."""
    root = Path(release)
    if not root.is_dir():
        raise NotAReleaseError(f"{root}: not a folder; pass the release folder you received")
    manifest_path = root / MANIFEST_NAME
    key = load_public_key(public_key) if public_key is not None else None
    if not manifest_path.exists() and not manifest_path.is_symlink():
        lost = _lost_manifest(root, key_given=key is not None)
        if lost is None:
            raise NotAReleaseError(f"{root}: no {MANIFEST_NAME}, so this is not a synthshare release folder")
        return lost
    report = VerifyReport(release=str(root))
    if manifest_path.is_symlink() or not manifest_path.is_file():
        report.unsafe.append(f"{MANIFEST_NAME} (not a regular file)")
        return report
    try:
        manifest = _read_regular(manifest_path)
    except OSError as err:
        report.unsafe.append(f"{MANIFEST_NAME} (cannot be read: {err.strerror or type(err).__name__})")
        return report

    # 1. signature over the manifest bytes
    signature_path = root / SIGNATURE_NAME
    has_signature = signature_path.is_file() and not signature_path.is_symlink()
    if signature_path.is_symlink():
        report.unsafe.append(f"{SIGNATURE_NAME} (symlink)")
    report.signature = _signature_state(has_signature=has_signature, key_given=key is not None)
    if key is not None and has_signature:
        try:
            signature = _read_regular(signature_path)
        except OSError as err:
            report.unsafe.append(f"{SIGNATURE_NAME} (cannot be read: {err.strerror or type(err).__name__})")
        else:
            valid = signature_valid(public_key=key, data=manifest, signature_file=signature)
            report.signature = "valid" if valid else "invalid"

    # 2. every manifest entry: safe path, present, regular, same hash
    try:
        entries, problems = parse_manifest(manifest.decode("utf-8"))
    except UnicodeDecodeError:
        entries, problems = [], [f"{MANIFEST_NAME} is not UTF-8 text"]
    report.unsafe.extend(problems)
    listed = set()
    matched: list[str] = []
    for entry in entries:
        listed.add(entry.path)
        problem = _entry_problem(root, entry.path)
        if problem is not None:
            finding, detail = problem
            if finding == "missing":
                report.missing.append(entry.path)
            else:
                report.unsafe.append(f"{entry.path} ({detail})")
            continue
        try:
            digest = sha256_file(root / entry.path)
        except OSError as err:
            report.unsafe.append(f"{entry.path} (cannot be read: {err.strerror or type(err).__name__})")
            continue
        report.checked += 1
        if digest == entry.digest:
            matched.append(entry.path)
        else:
            report.modified.append(entry.path)

    # 3. what is on disk but not in the manifest; links are never followed, nothing unlisted is opened
    found = _walk(root)
    report.added.extend(sorted(rel for rel in found.files + found.special if rel not in listed and rel not in UNLISTED))
    report.added.extend(f"{rel} (empty folder)" for rel in found.empty_folders)
    odd = [f"{rel} (symlink)" for rel in found.links] + [f"{rel} (not a regular file)" for rel in found.special]
    report.unsafe.extend(item for item in odd + found.unreadable if item not in report.unsafe)

    # 4. every NIfTI whose hash matched opens and is marked SYNTHETIC (modified or added ones are
    #    reported above and never decompressed)
    for rel in matched:
        if rel.endswith((".nii", ".nii.gz")):
            problem = _nifti_problem(root / rel)
            if problem:
                report.not_synthetic.append(f"{rel} ({problem})")
    logger.info(report.summary())
    return report
