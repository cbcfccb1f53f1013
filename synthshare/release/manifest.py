"""manifest-sha256.txt: one `<sha256>  <path>` line per file (sha256sum format), sorted by path.

Paths are POSIX and relative to the release root. Every file is listed except the manifest itself
and the signature. Parsing is strict: a path that could leave the release folder is never accepted.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MANIFEST_NAME = "manifest-sha256.txt"
SIGNATURE_NAME = "signature"
UNLISTED = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
_LINE = re.compile(r"^([0-9a-f]{64})  (.+)$")
_CHUNK = 1 << 20


class ManifestFormatError(ValueError):
    """A manifest line is malformed or names a path outside the release folder."""


def sha256_file(path: Path) -> str:
    """Streamed sha256 of a regular file; refuses to follow a symlink at the last component."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_release_files(root: Path) -> tuple[list[str], list[str]]:
    """(regular files, symlinks) under ``root`` as sorted POSIX relative paths; links are never followed."""
    files: list[str] = []
    links: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in list(dirnames):
            if (base / name).is_symlink():
                links.append((base / name).relative_to(root).as_posix())
                dirnames.remove(name)
        for name in filenames:
            path = base / name
            rel = path.relative_to(root).as_posix()
            (links if path.is_symlink() else files).append(rel)
    return sorted(files), sorted(links)


def safe_relative_path(text: str) -> PurePosixPath:
    """A manifest path that stays inside the release: relative, no '..' or '.', no empty parts."""
    if not text or "\\" in text or "\x00" in text or text.startswith("/"):
        raise ManifestFormatError(f"unsafe path {text!r}: absolute or malformed")
    path = PurePosixPath(text)
    if path.as_posix() != text or any(part in ("..", ".", "") for part in text.split("/")):
        raise ManifestFormatError(f"unsafe path {text!r}: escapes or is not normalised")
    return path


def build_manifest(root: Path) -> str:
    """The manifest text for every file under ``root`` (except the manifest and signature)."""
    files, links = list_release_files(root)
    if links:
        raise ManifestFormatError(f"release folder {root} holds symlinks: {links}")
    lines = [f"{sha256_file(root / rel)}  {rel}\n" for rel in files if rel not in UNLISTED]
    return "".join(lines)


@dataclass(frozen=True)
class ManifestEntry:
    digest: str
    path: str


def parse_manifest(text: str) -> tuple[list[ManifestEntry], list[str]]:
    """(entries with safe paths, problems): malformed lines and unsafe paths are reported, not read."""
    entries: list[ManifestEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if match is None:
            problems.append(f"line {number}: not '<sha256>  <path>': {line[:80]!r}")
            continue
        digest, path = match.groups()
        try:
            safe_relative_path(path)
        except ManifestFormatError as err:
            problems.append(f"line {number}: {err}")
            continue
        if path in seen or path in UNLISTED:
            problems.append(f"line {number}: {path!r} listed twice or not listable")
            continue
        seen.add(path)
        entries.append(ManifestEntry(digest=digest, path=path))
    return entries, problems
