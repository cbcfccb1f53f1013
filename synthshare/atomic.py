"""Atomic, deterministic file writes: temp file in the same folder, fsync, then os.replace.

JSON is written canonically (sorted keys, fixed indent, non-finite floats as null) so identical
inputs give identical bytes, which the manifest and signature depend on.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

INTERNAL = 0o600  # owner-only: files that hold real data or real ids and stay inside


def atomic_write_with(*, path: Path, write: Callable[[str], None], mode: int = 0o644) -> Path:
    """Let ``write(tmp_path)`` fill a temp file beside ``path``, then rename it into place.

    For writers that want a path (safetensors' save_file); readers see the old file or the new one.
    ``mode``: 0o600 for hospital-internal files (prepared cache, id map, checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        _fsync_path(tmp)  # the bytes reach the disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)  # and the rename itself survives a crash
    return path


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """fsync a folder so a rename or link in it survives a crash (a no-op where folders cannot be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # platforms that cannot open a folder (Windows): the rename is all we get
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder (EINVAL); the file itself is synced
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(*, path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)

    return atomic_write_with(path=path, write=write, mode=mode)


def atomic_write_text(*, path: Path, text: str) -> Path:
    return atomic_write_bytes(path=path, data=text.encode("utf-8"))


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: map them to null, recursively; tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if callable(getattr(value, "tolist", None)):  # numpy arrays and scalars, torch tensors, of any size
        return _finite(value.tolist())
    if callable(getattr(value, "item", None)):  # other one-element scalars
        return _finite(value.item())
    return value


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, indent 2, strict (no NaN), trailing newline."""
    return json.dumps(_finite(value), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(*, path: Path, value: Any) -> Path:
    return atomic_write_text(path=path, text=canonical_json(value))
