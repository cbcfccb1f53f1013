"""Cohort validation: per-subject checks shared by the readers, cohort-level checks, and the
collect-everything pass behind `synthshare data check`.

Readers raise on the first unusable subject (one DataError listing all of that subject's problems);
`check_cohort` loads every subject and collects every problem of the whole cohort: a subject that
fails to load for any reason, or that preprocessing would refuse, is listed, never fatal.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synthshare.config import DataConfig
from synthshare.data.measures import measure
from synthshare.data.nifti import SubjectDataError
from synthshare.data.preprocess import preparable_problems, subject_fingerprint
from synthshare.data.subject import Subject
from synthshare.errors import DataError

if TYPE_CHECKING:
    from synthshare.data.cohort import CohortReader

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One problem found in a cohort. ``subject`` is None for cohort-level problems."""

    subject: str | None
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return {"subject": self.subject, "message": self.message}


@dataclass(frozen=True, kw_only=True)
class SubjectSummary:
    """One row of the data-check report (volumes mL, EF percent, mass g; None where not measurable)."""

    id: str
    group: str
    frames: int
    slices: int
    spacing: tuple[float, float, float]
    labelled_frames: list[int]
    lv_edv: float | None
    lv_esv: float | None
    lv_ef: float | None
    rv_edv: float | None
    rv_esv: float | None
    rv_ef: float | None
    myo_mass: float | None

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "group": self.group,
            "frames": self.frames,
            "slices": self.slices,
            "spacing": list(self.spacing),
            "labelled_frames": list(self.labelled_frames),
            "lv_edv": self.lv_edv,
            "lv_esv": self.lv_esv,
            "lv_ef": self.lv_ef,
            "rv_edv": self.rv_edv,
            "rv_esv": self.rv_esv,
            "rv_ef": self.rv_ef,
            "myo_mass": self.myo_mass,
        }


@dataclass(frozen=True, kw_only=True)
class CohortCheck:
    subjects: list[SubjectSummary]
    problems: list[Problem]


def check_frame_index(*, name: str, value: int, frames: int, one_based: bool, source: str) -> str | None:
    """A problem line if an ED/ES frame index is outside the image's frames, else None."""
    low, high = (1, frames) if one_based else (0, frames - 1)
    if low <= value <= high:
        return None
    base = "1-based" if one_based else "0-based"
    return f"{source}: {name} = {value} is outside the image's {frames} frames ({base}: {low}..{high}); fix {name}"


def read_csv_rows(path: Path, *, required: tuple[str, ...], fix: str) -> list[dict[str, str]]:
    """Rows of a clinical CSV as stripped strings; all-empty padding rows are skipped.

    DataError (naming the file) if it is missing, unreadable or lacks a required column.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except FileNotFoundError as err:
        raise DataError(f"{path}: file is missing; {fix}") from err
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read the CSV ({err}); {fix}") from err
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing} (found {header}); {fix}")
    return [row for row in rows if any(row.values())]


def parse_float(value: str, *, column: str, source: str) -> float | None:
    """A float from a CSV/cfg field; empty = None; anything else raises DataError naming the field."""
    if value == "":
        return None
    try:
        return float(value)
    except ValueError as err:
        raise DataError(f"{source}: {column} = {value!r} is not a number; fix or empty the field") from err


def parse_int(value: str, *, column: str, source: str) -> int | None:
    """An integer from a CSV/cfg field ("12" or "12.0"); empty = None; anything else raises DataError."""
    number = parse_float(value, column=column, source=source)
    if number is None:
        return None
    if not number.is_integer():
        raise DataError(f"{source}: {column} = {value!r} is not a whole frame number; fix the field")
    return int(number)


def holdout_size(*, n_subjects: int, holdout_fraction: float, min_holdout: int | None = None) -> int:
    """Holdout subjects a split of n takes: round(n x fraction), the rule of synthshare.data.split.

    min_holdout is accepted for callers that pass the whole DataConfig; the split never enlarges the
    holdout to reach it (it refuses instead, see check_cohort_size), so it does not change the size.
    """
    return int(round(n_subjects * holdout_fraction))


def _size_ok(*, n: int, min_train: int, min_holdout: int, holdout_fraction: float) -> bool:
    n_holdout = holdout_size(n_subjects=n, holdout_fraction=holdout_fraction)
    return n_holdout >= min_holdout and n - n_holdout >= min_train


def check_cohort_size(*, n_subjects: int, min_train: int, min_holdout: int, holdout_fraction: float, source: str) -> None:
    """DataError if the split would give fewer than min_holdout holdout or min_train training subjects."""
    limits = dict(min_train=min_train, min_holdout=min_holdout, holdout_fraction=holdout_fraction)
    if _size_ok(n=n_subjects, **limits):
        return
    needed = max(n_subjects, min_holdout + min_train)
    while not _size_ok(n=needed, **limits):
        needed += 1
    raise DataError(
        f"{source}: {n_subjects} usable subjects are too few for an auditable holdout: at least {min_holdout} holdout "
        f"(holdout_fraction {holdout_fraction}) and {min_train} training subjects need {needed}; add subjects "
        "or lower data.min_holdout / data.min_train in the config (audits with fewer holdout subjects cannot measure small FPRs)"
    )


def _rounded(value: float, digits: int = 3) -> float | None:
    return None if not math.isfinite(value) else round(float(value), digits)


def summarize(subject: Subject) -> SubjectSummary:
    """Report row for one loaded subject; measures at native spacing from its ED and ES labels."""
    values: dict[str, float | None] = dict.fromkeys(("lv_edv", "lv_esv", "lv_ef", "rv_edv", "rv_esv", "rv_ef", "myo_mass"))
    if subject.ed in subject.labels and subject.es in subject.labels:
        m = measure(ed_labels=subject.labels[subject.ed], es_labels=subject.labels[subject.es], spacing=subject.spacing)
        values = {key: _rounded(getattr(m, key)) for key in values}
    return SubjectSummary(
        id=subject.id,
        group=subject.group,
        frames=subject.frames,
        slices=subject.slices,
        spacing=tuple(round(float(s), 6) for s in subject.spacing),  # type: ignore[arg-type]
        labelled_frames=sorted(subject.labels),
        **values,
    )


def _check_subject(reader: CohortReader, subject_id: str) -> tuple[Subject | None, list[Problem]]:
    """The loaded subject if training could ingest it, else None and every problem found.

    Any failure of one subject becomes a listed problem (a crafted file must not abort the check
    of the rest of the cohort); the preprocessing checks run here too, so that a cohort this
    passes is one `train` accepts.
    """
    try:
        subject = reader.load(subject_id)
    except SubjectDataError as err:
        return None, [Problem(subject=subject_id, message=f"subject {subject_id}: {p}") for p in err.problems]
    except DataError as err:
        return None, [Problem(subject=subject_id, message=str(err))]
    except Exception as err:  # noqa: BLE001 - untrusted files: list the subject, check the rest
        log.debug("subject %s: unexpected error while reading", subject_id, exc_info=True)
        return None, [
            Problem(
                subject=subject_id,
                message=f"subject {subject_id}: its files under {reader.root} cannot be read ({type(err).__name__}: {err}); "
                "re-export them or remove the subject from the cohort",
            )
        ]
    found = preparable_problems(subject)
    if found:
        where = f"subject {subject_id} ({subject.source or reader.root})"
        return None, [Problem(subject=subject_id, message=f"{where}: {p}") for p in found]
    log.debug("checked %s", subject_id)
    return subject, []


def check_cohort(
    reader: CohortReader, *, data: DataConfig | None = None, on_subject: Callable[[int, int], None] | None = None
) -> CohortCheck:
    """Load every subject (one at a time) and collect every problem, including the cohort size.

    on_subject(done, total) is called after each subject (the CLI's progress bar).
    """
    data = data or DataConfig()
    source = str(reader.root)
    try:
        ids = reader.ids()
    except DataError as err:
        return CohortCheck(subjects=[], problems=[Problem(subject=None, message=str(err))])
    summaries: list[SubjectSummary] = []
    problems: list[Problem] = []
    first_with: dict[str, str] = {}  # content fingerprint -> first subject id, as ingest deduplicates
    for done, subject_id in enumerate(ids, start=1):
        subject, found = _check_subject(reader, subject_id)
        problems.extend(found)
        if subject is not None:
            summaries.append(summarize(subject))
            key = subject_fingerprint(subject)
            if key in first_with:
                log.warning("subjects %s and %s have identical content; training keeps one", first_with[key], subject_id)
            first_with.setdefault(key, subject_id)
            del subject  # bounded memory: one subject at a time
        if on_subject is not None:
            on_subject(done, len(ids))
    try:
        check_cohort_size(
            n_subjects=len(first_with),
            min_train=data.min_train,
            min_holdout=data.min_holdout,
            holdout_fraction=data.holdout_fraction,
            source=source,
        )
    except DataError as err:
        problems.append(Problem(subject=None, message=str(err)))
    return CohortCheck(subjects=summaries, problems=problems)


def validate_cohort(reader: CohortReader, *, data: DataConfig | None = None) -> list[Problem]:
    """Every problem of the cohort (empty list = usable)."""
    return check_cohort(reader, data=data).problems
