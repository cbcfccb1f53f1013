"""Disk cache of prepared subjects: preprocess each subject once per data config.

CACHE_DIR/
  internal_id_map.json          INTERNAL: the cohort's real ids -> pseudonymous keys (never released)
  prepared-<config sha256[:16]>/<key>.npz    image, labels, labelled (np.load allow_pickle=False)
                               /<key>.json   group, measures, es_frame, spacing, config hash
An entry is keyed by the subject fingerprint and the DataConfig hash, so a changed config
re-preprocesses into a new folder. Subjects are loaded and prepared one at a time per worker process (bounded memory);
every file is written atomically and the JSON sidecar last, so a half-written entry is never used;
a sidecar that is unreadable or lacks fields is stale: warned about and re-prepared. A new prepared
folder is built under a temporary name and renamed into place once every subject is prepared.
A second call does no work: the id map says which key each id has; it is trusted while the
cohort's files (relative paths, sizes, mtimes under `reader.root`) are unchanged, and otherwise
every subject is re-read and re-fingerprinted (but only changed ones are re-prepared).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import zipfile
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
from synthshare.parallel import available_cpus, resolve_workers, run_pieces

log = logging.getLogger(__name__)

ID_MAP = "internal_id_map.json"
# each preparing worker holds one subject (a real 4D cine and its resampled copies: a few hundred MB)
MAX_PREPARE_WORKERS = 8
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


_SIDECAR_FIELDS = ("group", "measures", "es_frame", "spacing")
_MEASURE_FIELDS = tuple(Measures.__dataclass_fields__)


def _sidecar_problem(sidecar: Any) -> str | None:
    """What is wrong with a parsed sidecar (None if it is a complete entry of this version)."""
    if not isinstance(sidecar, dict):
        return f"a JSON {type(sidecar).__name__}, not an object"
    missing = [name for name in _SIDECAR_FIELDS if name not in sidecar]
    if missing:
        return f"lacks {', '.join(missing)}"
    measures = sidecar["measures"]
    if not isinstance(measures, dict) or sorted(measures) != sorted(_MEASURE_FIELDS):
        return f"measures are not the fields {', '.join(_MEASURE_FIELDS)}"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in measures.values()):
        return "measures are not all numbers"
    if not isinstance(sidecar["group"], str):
        return "group is not a string"
    if not isinstance(sidecar["es_frame"], int) or isinstance(sidecar["es_frame"], bool):
        return "es_frame is not an integer"
    spacing = sidecar["spacing"]
    if not isinstance(spacing, list) or len(spacing) != 3 or not all(isinstance(v, (int, float)) for v in spacing):
        return "spacing is not 3 numbers"
    return None


def _read_sidecar(folder: Path, key: str) -> dict:
    """A complete sidecar; DataError naming it (and the folder to delete) if unreadable or malformed."""
    path = folder / f"{key}.json"
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: JSONDecodeError and UnicodeDecodeError
        raise DataError(f"{path}: unreadable cache entry ({err}); delete {folder} and run again to re-prepare") from err
    problem = _sidecar_problem(sidecar)
    if problem:
        raise DataError(f"{path}: malformed cache entry ({problem}); delete {folder} and run again to re-prepare")
    return sidecar


def _usable_sidecar(folder: Path, key: str, *, notes: list[str] | None = None) -> dict | None:
    """The entry's sidecar if the entry is complete; None if absent or stale (warned: it is re-prepared).

    notes: where to put the warning instead of logging it (a worker hands it back to the main process)."""
    path = folder / f"{key}.json"
    if not path.is_file():
        return None
    try:
        sidecar = _read_sidecar(folder, key)
    except DataError as err:
        problem = f"{str(err).split('; delete', 1)[0]}; re-preparing that subject"
    else:
        if (folder / f"{key}.npz").is_file():
            return sidecar
        problem = f"{path}: cache entry has no {key}.npz; re-preparing that subject"
    if notes is None:
        log.warning("%s", problem)
    else:
        notes.append(problem)
    return None


def read_entry(folder: Path, key: str) -> PreparedSubject:
    """One prepared subject from the cache folder."""
    sidecar = _read_sidecar(folder, key)
    path = folder / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as arrays:
            image, labels, labelled = arrays["image"], arrays["labels"], arrays["labelled"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
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
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: JSONDecodeError and UnicodeDecodeError
        log.warning("%s is unreadable; every subject will be re-read", path)
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("ids", {}), dict):
        log.warning("%s is malformed; every subject will be re-read", path)
        return {}
    return data


def _missing_dirs(folder: Path) -> list[Path]:
    """folder and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    return missing


def _write_id_map(path: Path, *, stamp: str | None, known: dict[str, str]) -> None:
    payload = {"note": _NOTE, "source_stamp": stamp, "ids": known}
    atomic_write_bytes(path=path, data=json.dumps(payload, indent=1).encode(), mode=INTERNAL)


def _publish(work: Path, folder: Path) -> None:
    """Move a freshly built folder into place; merge it if another process published one meanwhile."""
    try:
        os.rename(work, folder)
        return
    except OSError:
        if not folder.is_dir():
            raise
    for path in sorted(work.iterdir(), key=lambda p: p.suffix != ".npz"):  # npz before its sidecar
        os.replace(path, folder / path.name)
    work.rmdir()


def prepare_cohort(
    *, reader: SubjectReader, data: DataConfig, cache_dir: Path, progress: bool = False, workers: int = 1
) -> PreparedCohort:
    """Prepare every subject of `reader` into `cache_dir` (or reuse the cache) and index them.

    A new prepared folder is built under a temporary name and renamed into place only when every
    subject is prepared, so a subject training refuses leaves no half-built cache (and no empty
    folders this call created); a folder that already exists gains complete entries only.

    workers: processes reading and preparing subjects side by side (synthshare.parallel; 0 is one per
    available core, at most MAX_PREPARE_WORKERS); each holds one subject at a time. The reader is sent
    to them, so it must pickle (the cohort readers do). The entries, the warnings and their order do
    not depend on the number (tested).
    """
    cache_dir = Path(cache_dir)
    config_sha256 = data_config_sha256(data)
    folder = cache_dir / f"prepared-{config_sha256[:16]}"
    created = _missing_dirs(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = folder if folder.is_dir() else Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{folder.name}.", suffix=".partial"))
    try:
        cohort = _prepare_into(reader=reader, data=data, cache_dir=cache_dir, work=work, config_sha256=config_sha256,
                               progress=progress, workers=workers)
        if work != folder:
            _publish(work, folder)
    except BaseException:
        if work != folder:
            shutil.rmtree(work, ignore_errors=True)
        for path in created:  # deepest first; only if still empty
            try:
                path.rmdir()
            except OSError:
                break
        raise
    return PreparedCohort(folder=folder, entries=cohort[0], config_sha256=config_sha256, id_of=cohort[1])


def _prepare_one(shared: tuple[SubjectReader, DataConfig, Path, str], subject_id: str) -> tuple[str, dict, list, bool, list[str]]:
    """Read, fingerprint and (unless its entry is already in `work`) prepare one subject, in a worker or here.

    Returns (key, sidecar, hearts the window cut, whether it was prepared now, warnings for the caller to log)."""
    reader, data, work, config_sha256 = shared
    subject = reader.load(subject_id)
    key = subject_fingerprint(subject)
    notes: list[str] = []
    cut: list[tuple[str, tuple[int, int, int]]] = []
    sidecar = _usable_sidecar(work, key, notes=notes)
    # the key covers image and labels only: a clinical field (the group) may have changed
    if sidecar is not None and sidecar["group"] == subject.group:
        return key, sidecar, cut, False, notes
    _write_entry(work, prepare_subject(subject=subject, data=data, cut=cut), config_sha256)
    return key, _read_sidecar(work, key), cut, True, notes


def _prepare_into(
    *, reader: SubjectReader, data: DataConfig, cache_dir: Path, work: Path, config_sha256: str, progress: bool,
    workers: int = 1,
) -> tuple[list[_Entry], dict[str, str]]:
    """Entries (and key -> id) of every subject, preparing the missing ones into `work`."""
    map_path = cache_dir / ID_MAP
    stored = _load_id_map(map_path)
    stamp = _source_stamp(reader, skip=cache_dir)
    trusted = stamp is not None and stored.get("source_stamp") == stamp
    known: dict[str, str] = dict(stored.get("ids", {})) if trusted or stamp is None else {}
    ids = reader.ids()
    # 1. subjects the id map names with a complete entry: nothing to read
    hits: dict[str, dict] = {}
    for subject_id in ids:
        key = known.get(subject_id)
        sidecar = _usable_sidecar(work, key) if isinstance(key, str) else None
        if sidecar is not None:
            hits[subject_id] = sidecar
    # 2. the others are read (and prepared where their entry is missing) side by side, coming back in id order
    todo = [subject_id for subject_id in ids if subject_id not in hits]
    n_workers = resolve_workers(workers or min(available_cpus(), MAX_PREPARE_WORKERS), len(todo))
    results = run_pieces(_prepare_one, todo, workers=n_workers, shared=(reader, data, work, config_sha256))
    entries: list[_Entry] = []
    seen: dict[str, str] = {}
    cut: list[tuple[str, tuple[int, int, int]]] = []  # hearts the window cuts, among those prepared now
    prepared = 0
    iterator = ids
    if progress:
        from rich.progress import track

        iterator = track(ids, description="preparing subjects")
    try:
        for subject_id in iterator:
            if subject_id in hits:
                key, sidecar = known[subject_id], hits[subject_id]
            else:
                key, sidecar, subject_cut, fresh, notes = next(results)
                for note in notes:
                    log.warning("%s", note)
                if fresh and key not in seen:  # a duplicate two workers prepared at once counts once, as in one process
                    prepared += 1
                    cut.extend(subject_cut)
                    log.debug("prepared %s", key[:12])
                known[subject_id] = key
            if key in seen:
                log.warning("subjects %s and %s have identical content; keeping one (a duplicate could sit in train and holdout)", seen[key], subject_id)
                continue
            seen[key] = subject_id
            entries.append(_Entry(key=key, group=sidecar["group"], measures=Measures(**sidecar["measures"])))
    finally:
        results.close()  # shuts the workers down now (in this process: gives torch its threads back)
    warn_cut_hearts(cut=cut, n=prepared, data=data)
    if stored.get("source_stamp") != stamp or stored.get("ids") != known:
        _write_id_map(map_path, stamp=stamp, known=known)
    return entries, dict(seen)  # key -> id
