"""Preprocessing to the prepared grid, and the disk cache of prepared subjects."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthshare.config import DataConfig, load_config
from synthshare.data.cache import ID_MAP, prepare_cohort
from synthshare.data.measures import measure
from synthshare.data.phantom import draw_phantom_params, render_phantom_subject
from synthshare.data.preprocess import (
    prepare_subject,
    subject_fingerprint,
    target_frame,
)
from synthshare.data.subject import Subject
from synthshare.errors import DataError
from synthshare.labels import LV

TINY = load_config("tiny").data


def make_subject(*, seed: int, group: str = "NOR", all_labels: bool = False, subject_id: str = "patient042") -> Subject:
    p = draw_phantom_params(rng=np.random.default_rng(seed), group=group, size=(32, 32))
    image, labels, spacing = render_phantom_subject(p)
    frames = range(p.frames) if all_labels else (p.ed, p.es)
    return Subject(
        id=subject_id,
        image=image,
        spacing=spacing,
        affine=np.diag([*spacing, 1.0]),
        labels={f: labels[..., f] for f in frames},
        ed=p.ed,
        es=p.es,
        clinical={"group": group},
        source="in-memory phantom",
    )


@pytest.mark.parametrize(
    ("data", "expected_shape"),
    [
        (TINY, (4, 4, 16, 16)),
        (DataConfig(spacing=(2.0, 2.0, 8.0), crop=(24, 20), slices=6, frames=5), (5, 6, 24, 20)),
    ],
)
def test_prepared_shapes_and_range(data: DataConfig, expected_shape: tuple[int, ...]) -> None:
    prepared = prepare_subject(subject=make_subject(seed=0), data=data)
    assert prepared.image.shape == prepared.labels.shape == expected_shape
    assert prepared.image.dtype == np.float32 and prepared.labels.dtype == np.uint8
    assert 0.0 <= prepared.image.min() and prepared.image.max() <= 1.0 and prepared.image.max() > 0.9
    assert prepared.spacing == data.spacing
    assert prepared.group == "NOR"


def test_ed_first_and_es_mapped() -> None:
    subject = make_subject(seed=1, all_labels=True)
    data = DataConfig(spacing=(3.0, 3.0, 10.0), crop=(24, 24), slices=6, frames=8)
    prepared = prepare_subject(subject=subject, data=data)
    lv = [(prepared.labels[t] == LV).sum() for t in range(8)]
    assert int(np.argmax(lv)) == 0  # ED at frame 0
    assert prepared.es_frame == round((subject.es - subject.ed) / subject.frames * 8)
    assert prepared.labelled.all()
    # negative control: claiming ES is the ED frame puts the smallest LV first
    swapped = Subject(**{**subject.__dict__, "ed": subject.es, "es": subject.ed})
    lv_swapped = [(prepare_subject(subject=swapped, data=data).labels[t] == LV).sum() for t in range(8)]
    assert int(np.argmin(lv_swapped)) == 0


def test_only_ed_and_es_labelled_for_a_real_like_subject() -> None:
    subject = make_subject(seed=2)
    prepared = prepare_subject(subject=subject, data=TINY)
    assert np.flatnonzero(prepared.labelled).tolist() == [0, prepared.es_frame]
    assert not prepared.labels[~prepared.labelled].any()
    assert prepared.labels[0].any() and prepared.labels[prepared.es_frame].any()


@pytest.mark.parametrize(
    ("source", "ed", "frames_in", "frames_out", "expected"),
    [(0, 0, 20, 4, 0), (7, 0, 20, 4, 1), (8, 1, 20, 4, 1), (0, 1, 20, 4, 0), (10, 0, 30, 16, 5), (29, 0, 30, 16, 15), (29, 0, 30, 2, 0)],
)
def test_target_frame(source: int, ed: int, frames_in: int, frames_out: int, expected: int) -> None:
    assert target_frame(source=source, ed=ed, frames_in=frames_in, frames_out=frames_out) == expected


def test_measures_come_from_native_labels() -> None:
    subject = make_subject(seed=3, group="DCM")
    prepared = prepare_subject(subject=subject, data=TINY)
    native = measure(ed_labels=subject.labels[subject.ed], es_labels=subject.labels[subject.es], spacing=subject.spacing)
    assert prepared.measures == native
    assert 10.0 <= prepared.measures.lv_ef <= 35.0


def test_key_is_a_content_fingerprint_not_the_id() -> None:
    a = make_subject(seed=4, subject_id="patient001")
    b = make_subject(seed=4, subject_id="patient999")
    assert subject_fingerprint(a) == subject_fingerprint(b)
    assert "patient" not in subject_fingerprint(a) and len(subject_fingerprint(a)) == 64
    image = a.image.copy()
    image[0, 0, 0, 0] += 1.0
    changed = Subject(**{**a.__dict__, "image": image})
    assert subject_fingerprint(changed) != subject_fingerprint(a)


def test_missing_es_labels_is_a_data_error_naming_the_subject() -> None:
    subject = make_subject(seed=5)
    broken = Subject(**{**subject.__dict__, "labels": {subject.ed: subject.labels[subject.ed]}})
    with pytest.raises(DataError, match=r"patient042.*ES frame"):
        prepare_subject(subject=broken, data=TINY)


class CountingReader:
    """An in-memory reader that counts loads (no `root`: the id map is trusted)."""

    def __init__(self, subjects: list[Subject]) -> None:
        self.subjects = {s.id: s for s in subjects}
        self.loads = 0

    def ids(self) -> list[str]:
        return sorted(self.subjects)

    def load(self, subject_id: str) -> Subject:
        self.loads += 1
        return self.subjects[subject_id]


def test_cache_hit_does_no_work_and_config_change_redoes_it(tmp_path: Path) -> None:
    reader = CountingReader([make_subject(seed=s, group=g, subject_id=f"patient00{s}") for s, g in ((6, "NOR"), (7, "HCM"))])
    first = prepare_cohort(reader=reader, data=TINY, cache_dir=tmp_path)
    assert reader.loads == 2 and len(first) == 2 and first.groups == ["NOR", "HCM"]
    second = prepare_cohort(reader=reader, data=TINY, cache_dir=tmp_path)
    assert reader.loads == 2  # a cache hit reads no subject
    assert second.keys == first.keys and second.measures == first.measures
    other = TINY.model_copy(update={"frames": 6})
    third = prepare_cohort(reader=reader, data=other, cache_dir=tmp_path)
    assert reader.loads == 4 and third.load(third.keys[0]).image.shape[0] == 6


def test_cache_round_trip_and_internal_id_map(tmp_path: Path) -> None:
    subject = make_subject(seed=8, subject_id="patient123")
    cohort = prepare_cohort(reader=CountingReader([subject]), data=TINY, cache_dir=tmp_path)
    direct = prepare_subject(subject=subject, data=TINY)
    loaded = cohort.load(direct.key)
    for name in ("image", "labels", "labelled"):
        assert np.array_equal(getattr(loaded, name), getattr(direct, name))
    assert (loaded.measures, loaded.es_frame, loaded.group, loaded.spacing) == (
        direct.measures, direct.es_frame, direct.group, direct.spacing
    )
    id_map = json.loads((tmp_path / ID_MAP).read_text())
    assert id_map["ids"] == {"patient123": direct.key} and "INTERNAL" in id_map["note"]
    assert cohort.internal_id(direct.key) == "patient123" and cohort.internal_id("0" * 64) == "<unknown>"
    # the real id appears in the internal map only, never in a cache entry
    entries = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ID_MAP]
    assert entries and not any(b"patient123" in p.read_bytes() for p in entries)
    with pytest.raises(DataError, match="not part of this cohort"):
        cohort.load("0" * 64)


class CountingProxy:
    """Counts loads of a real reader; keeps its `root`, so the cache watches the cohort's files."""

    def __init__(self, reader) -> None:
        self.reader, self.root, self.loads = reader, reader.root, 0

    def ids(self) -> list[str]:
        return self.reader.ids()

    def load(self, subject_id: str) -> Subject:
        self.loads += 1
        return self.reader.load(subject_id)


def test_phantom_to_open_cohort_to_prepare_cohort(tmp_path: Path) -> None:
    cohort_mod = pytest.importorskip("synthshare.data.cohort")
    from synthshare.data.phantom_writers import write_phantom_cohort

    root = write_phantom_cohort(out=tmp_path / "phantom", n=3, seed=1, size=(32, 32))
    reader = CountingProxy(cohort_mod.open_cohort(root))
    cohort = prepare_cohort(reader=reader, data=TINY, cache_dir=tmp_path / "cache")
    assert len(cohort) == 3 and cohort.groups == ["NOR", "MINF", "DCM"] and reader.loads == 3
    assert cohort.load(cohort.keys[2]).image.shape == (4, 4, 16, 16)
    truth = (root / "phantom_truth.csv").read_text().splitlines()[3].split(",")
    assert cohort.measures[2].lv_edv == pytest.approx(float(truth[2]), abs=1e-3)
    prepare_cohort(reader=reader, data=TINY, cache_dir=tmp_path / "cache")
    assert reader.loads == 3  # unchanged files: nothing re-read
    # a changed source file is noticed: every subject is re-read, the new group is picked up
    info = root / "training" / "patient002" / "Info.cfg"
    info.write_text(info.read_text().replace("Group: MINF", "Group: HCM"))
    again = prepare_cohort(reader=reader, data=TINY, cache_dir=tmp_path / "cache")
    assert reader.loads == 6 and again.keys == cohort.keys and again.groups == ["NOR", "HCM", "DCM"]


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_preparing_in_worker_processes_gives_what_one_process_gives(tmp_path: Path, caplog) -> None:
    """Entries, ids, the duplicate and stale-entry warnings and their order do not depend on the number of workers."""
    from synthshare.data.cohort import open_cohort
    from synthshare.data.phantom_writers import write_phantom_cohort

    root = write_phantom_cohort(out=tmp_path / "ph", n=4, seed=3, size=(32, 32))
    copy = root / "training" / "patient005"  # a byte copy of patient002: one of the two is dropped, with a warning
    shutil.copytree(root / "training" / "patient002", copy)
    for path in copy.iterdir():
        path.rename(copy / path.name.replace("patient002", "patient005"))
    runs = {}
    for workers in (1, 2):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            cohort = prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=tmp_path / f"cache{workers}", workers=workers)
        runs[workers] = (cohort, _warnings(caplog))
    (one, one_warnings), (two, two_warnings) = runs[1], runs[2]
    assert len(one) == 4 and one.keys == two.keys and one.groups == two.groups and one.measures == two.measures
    assert one_warnings == two_warnings and len(one_warnings) == 2
    assert "patient002 and patient005" in one_warnings[0] and one_warnings[1].startswith("4 of 4 subjects' hearts are cut")
    assert sorted(p.name for p in one.folder.iterdir()) == sorted(p.name for p in two.folder.iterdir())
    for key in one.keys:
        assert (one.folder / f"{key}.json").read_bytes() == (two.folder / f"{key}.json").read_bytes()
        a, b = one.load(key), two.load(key)
        assert all(np.array_equal(getattr(a, n), getattr(b, n)) for n in ("image", "labels", "labelled"))
    # a changed cohort file: every subject is re-read in the workers; a stale entry found there is warned about here
    for cohort, _ in runs.values():
        (cohort.folder / f"{cohort.keys[0]}.json").write_text("{}")
    info = root / "training" / "patient003" / "Info.cfg"
    info.write_text(info.read_text() + "\n")
    for workers, (cohort, _) in runs.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            again = prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=tmp_path / f"cache{workers}", workers=workers)
        stale = [m for m in _warnings(caplog) if "re-preparing" in m]
        assert len(stale) == 1 and f"{cohort.keys[0]}.json" in stale[0], (workers, _warnings(caplog))
        assert again.keys == cohort.keys and again.measures == cohort.measures
