"""Make report dicts JSON-serialisable: plain floats/ints, NaN and infinity -> null plus a note."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def _explained(path: str, notes: list[str]) -> bool:
    for note in notes:
        noted = note.split(":", 1)[0]
        if path == noted or path.startswith(noted + ".") or path.startswith(noted + "["):
            return True
    return False


def jsonable(value: Any, *, notes: list[str], path: str = "") -> Any:
    """A copy of ``value`` with numpy scalars/arrays unwrapped and non-finite floats replaced by None.

    Each replaced float appends "PATH: not computable (nan|inf)" to ``notes`` unless a note for
    that path or an enclosing one is already there (the computing code may have written a more
    precise reason).
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy scalar or array
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if not _explained(path, notes):
            notes.append(f"{path}: not computable ({'nan' if math.isnan(value) else 'inf'})")
        return None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, notes=notes, path=f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [jsonable(v, notes=notes, path=f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path or '<root>'}: {type(value).__name__} is not JSON-serialisable")
