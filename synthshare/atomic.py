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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(*, path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

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
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _finite(value.item())
    return value


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, indent 2, strict (no NaN), trailing newline."""
    return json.dumps(_finite(value), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(*, path: Path, value: Any) -> Path:
    return atomic_write_text(path=path, text=canonical_json(value))
