"""What every cohort reader shares: a lazily built subject index, its sorted ids, the lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Generic, TypeVar

from synthshare.errors import DataError

Entry = TypeVar("Entry")


class IndexedReader(Generic[Entry]):
    """Subclasses build {subject id: entry} once in `_build_index` (raising on duplicates or an empty cohort)."""

    format: str

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._entries: dict[str, Entry] | None = None

    def _build_index(self) -> dict[str, Entry]:
        raise TypeError(f"{type(self).__name__} must define _build_index")

    def _index(self) -> dict[str, Entry]:
        if self._entries is None:
            self._entries = self._build_index()
        return self._entries

    def ids(self) -> list[str]:
        return sorted(self._index())

    def _entry(self, subject_id: str, *, where: Path | None = None) -> Entry:
        entry = self._index().get(subject_id)
        if entry is None:
            raise DataError(f"{where or self.root}: no subject {subject_id}; run `synthshare data check {self.root}` to list the IDs")
        return entry
