"""Disk cache of prepared subjects: preprocess each subject once per data config.

CACHE_DIR/
  internal_id_map.json          INTERNAL: the cohort's real ids -> pseudonymous keys (never released)
  prepared-<config sha256[:16]>/<key>.npz    image, labels, labelled (np.load allow_pickle=False)
                               /<key>.json   group, measures, es_frame, spacing, config hash
An entry is keyed by the subject fingerprint and the DataConfig hash, so a changed config
re-preprocesses into a new folder. Subjects are loaded and prepared one at a time (bounded memory);
every file is written atomically and the JSON sidecar last, so a half-written entry is never used.
A second call does no work: the id map says which key each id has; it is trusted while the
cohort's files (relative paths, sizes, mtimes under `reader.root`) are unchanged, and otherwise
every subject is re-read and re-fingerprinted (but only changed ones are re-prepared).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from synthshare.atomic import INTERNAL, atomic_write_bytes
from synthshare.config import DataConfig
from synthshare.data.measures import Measures
from synthshare.data.prepared import PreparedSubject
from synthshare.data.preprocess import (
    prepare_subject,
    subject_fingerprint,
    warn_cut_hearts,
)
from synthshare.data.subject import Subject
from synthshare.errors import DataError

log = logging.getLogger(__name__)

ID_MAP = "internal_id_map.json"
CACHE_VERSION = 1
_NOTE = "INTERNAL ONLY: maps the cohort's real subject ids to pseudonymous keys; never copy it out of the hospital"


class SubjectReader(Protocol):
    def ids(self) -> list[str]: ...

    def load(self, subject_id: str) -> Subject: ...


def data_config_sha256(data: DataConfig) -> str:
    payload = {"version": CACHE_VERSION, "data": data.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _source_stamp(reader: Any, *, skip: Path) -> str | None:
    """Hash of (relative path, size, mtime) of every file under reader.root (but not under `skip`,
    the cache itself); None for a reader without a root folder."""
    root = getattr(reader, "root", None)
    if root is None or not Path(root).is_dir():
        return None
    skip = skip.resolve()
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and not p.resolve().is_relative_to(skip)):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class _Entry:
    key: str
    group: str
    measures: Measures


class PreparedCohort:
    """Prepared subjects on disk: metadata in memory, images loaded one at a time by key."""

    def __init__(self, *, folder: Path, entries: list[_Entry], config_sha256: str, id_of: dict[str, str]) -> None:
        self.folder = folder
        self.config_sha256 = config_sha256
        self._entries = entries
        self._index = {e.key: e for e in entries}
        self._id_of = id_of  # key -> real id, for internal error messages only

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self._entries]

    @property
    def groups(self) -> list[str]:
        return [e.group for e in self._entries]

    @property
    def measures(self) -> list[Measures]:
        return [e.measures for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def internal_id(self, key: str) -> str:
        """The real id behind a key, for error messages inside the hospital only."""
        return self._id_of.get(key, "<unknown>")

    def load(self, key: str) -> PreparedSubject:
        if key not in self._index:
            raise DataError(f"{self.folder}: no prepared subject with key {key[:12]}...; it is not part of this cohort")
        return read_entry(self.folder, key)


def _write_entry(folder: Path, prepared: PreparedSubject, config_sha256: str) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, image=prepared.image, labels=prepared.labels, labelled=prepared.labelled)
    atomic_write_bytes(path=folder / f"{prepared.key}.npz", data=buffer.getvalue(), mode=INTERNAL)
    sidecar = {
        "key": prepared.key,
        "group": prepared.group,
        "measures": prepared.measures.as_dict(),
        "es_frame": prepared.es_frame,
        "spacing": list(prepared.spacing),
        "data_config_sha256": config_sha256,
    }
    atomic_write_bytes(path=folder / f"{prepared.key}.json", data=json.dumps(sidecar, indent=1, sort_keys=True).encode(), mode=INTERNAL)


def _read_sidecar(folder: Path, key: str) -> dict:
    path = folder / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: unreadable cache entry ({err}); delete {folder} and run again to re-prepare") from err


def read_entry(folder: Path, key: str) -> PreparedSubject:
    """One prepared subject from the cache folder."""
    sidecar = _read_sidecar(folder, key)
    path = folder / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as arrays:
            image, labels, labelled = arrays["image"], arrays["labels"], arrays["labelled"]
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"{path}: unreadable cache entry ({err}); delete {folder} and run again to re-prepare") from err
    return PreparedSubject(
        key=key,
        image=image,
        labels=labels,
        labelled=labelled,
        spacing=tuple(sidecar["spacing"]),  # type: ignore[arg-type]
        measures=Measures(**sidecar["measures"]),
        group=sidecar["group"],
        es_frame=int(sidecar["es_frame"]),
    )


def _load_id_map(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        log.warning("%s is unreadable; every subject will be re-read", path)
        return {}
    return data if isinstance(data, dict) else {}


def prepare_cohort(*, reader: SubjectReader, data: DataConfig, cache_dir: Path, progress: bool = False) -> PreparedCohort:
    """Prepare every subject of `reader` into `cache_dir` (or reuse the cache) and index them."""
    cache_dir = Path(cache_dir)
    config_sha256 = data_config_sha256(data)
    folder = cache_dir / f"prepared-{config_sha256[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    map_path = cache_dir / ID_MAP
    stored = _load_id_map(map_path)
    stamp = _source_stamp(reader, skip=cache_dir)
    trusted = stamp is not None and stored.get("source_stamp") == stamp
    known: dict[str, str] = dict(stored.get("ids", {})) if trusted or stamp is None else {}
    ids = reader.ids()
    entries: list[_Entry] = []
    seen: dict[str, str] = {}
    cut: list[tuple[str, tuple[int, int, int]]] = []  # hearts the window cuts, among those prepared now
    prepared = 0
    iterator = ids
    if progress:
        from rich.progress import track

        iterator = track(ids, description="preparing subjects")
    for subject_id in iterator:
        key = known.get(subject_id)
        if key is None or not (folder / f"{key}.json").is_file():
            subject = reader.load(subject_id)
            key = subject_fingerprint(subject)
            entry = folder / f"{key}.json"
            # the key covers image and labels only: a clinical field (the group) may have changed
            if not entry.is_file() or _read_sidecar(folder, key).get("group") != subject.group:
                _write_entry(folder, prepare_subject(subject=subject, data=data, cut=cut), config_sha256)
                prepared += 1
                log.debug("prepared %s", key[:12])
            del subject  # bounded memory: one subject at a time
            known[subject_id] = key
            atomic_write_bytes(path=map_path, data=json.dumps({"note": _NOTE, "source_stamp": stamp, "ids": known}, indent=1).encode(), mode=INTERNAL)
        if key in seen:
            log.warning("subjects %s and %s have identical content; keeping one (a duplicate could sit in train and holdout)", seen[key], subject_id)
            continue
        seen[key] = subject_id
        sidecar = _read_sidecar(folder, key)
        entries.append(_Entry(key=key, group=sidecar["group"], measures=Measures(**sidecar["measures"])))
    warn_cut_hearts(cut=cut, n=prepared, data=data)
    if stored.get("source_stamp") != stamp or stored.get("ids") != known:
        atomic_write_bytes(path=map_path, data=json.dumps({"note": _NOTE, "source_stamp": stamp, "ids": known}, indent=1).encode(), mode=INTERNAL)
    return PreparedCohort(folder=folder, entries=entries, config_sha256=config_sha256, id_of=dict(seen))  # key -> id
