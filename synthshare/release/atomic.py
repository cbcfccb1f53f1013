"""Atomic, deterministic file writes: temp file in the same folder, fsync, then os.replace.

JSON is written canonically (sorted keys, fixed indent, non-finite floats as null) so identical
inputs give identical bytes, which the manifest and signature depend on.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(*, path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
