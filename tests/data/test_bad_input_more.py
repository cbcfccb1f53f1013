"""More bad input: crafted NIfTI headers, non-UTF-8 text, malformed cache entries, shifted CSV rows,
cohorts training would refuse, repeat scans of one patient. Each case beside a negative control.
"""

from __future__ import annotations

import gzip
import json
import logging
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from synthshare.config import DataConfig, load_config
from synthshare.data.cache import prepare_cohort, read_entry
from synthshare.data.cohort import open_cohort
from synthshare.data.mnms2 import Mnms2Reader, subject_folder_name
from synthshare.data.nifti import MAX_VOXELS, SubjectDataError, read_volume
from synthshare.data.validate import check_cohort
from synthshare.errors import DataError
from synthshare.models.conditioning import CONDITION_GROUPS, MEASURE_FIELDS
from synthshare.sample.conditions import ConditionsError, read_conditions_csv

TINY = load_config("tiny").data
# Small enough that a cohort of 3 passes the size check: check_cohort then reports subject problems only.
SMALL = DataConfig(min_holdout=1, min_train=1, holdout_fraction=0.34)


# --- crafted NIfTI headers ---------------------------------------------------------------------

def _nifti_bytes(array: np.ndarray) -> bytearray:
    return bytearray(nib.Nifti1Image(array, np.diag([1.5, 1.5, 8.0, 1.0])).to_bytes())


def _patched(offset: int, fmt: str, *values) -> bytearray:
    data = _nifti_bytes(np.zeros((4, 4, 2, 3), np.float32))
    struct.pack_into(fmt, data, offset, *values)
    return data


# (case, file bytes, what the message says); offsets are those of the NIfTI-1 header
CRAFTED = [
    ("unknown datatype code", lambda: _patched(70, "<h", 999), r"HeaderDataError: data code 999"),
    ("dims beyond memory", lambda: _patched(40, "<hhhhh", 4, 32767, 32767, 32767, 32767), r"1\.15e\+18 voxels, more than"),
    ("negative dim", lambda: _patched(42, "<h", -4), r"shape \(-4, 4, 2, 3\) with a dimension below 1"),
    ("negative vox_offset", lambda: _patched(108, "<f", -1000.0), r"HeaderDataError: vox offset -1000"),
    ("complex data", lambda: _nifti_bytes(np.ones((4, 4, 2, 3), np.complex64)), r"complex-valued data \(complex64\)"),
]


@pytest.mark.parametrize("case, make, expected", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_crafted_nifti_is_a_subject_error_naming_the_file(tmp_path, case, make, expected):
    path = tmp_path / "crafted.nii"
    path.write_bytes(make())
    with pytest.raises(SubjectDataError, match=expected) as info:
        read_volume(path, subject_id="p1", ndim=4)
    assert str(path) in str(info.value) and info.value.subject_id == "p1"


def test_untouched_header_reads(tmp_path):
    """Negative control for CRAFTED: the same bytes, patched with the value they hold, read fine."""
    path = tmp_path / "ok.nii"
    path.write_bytes(_patched(70, "<h", 16))  # 16 = float32, the code it already has
    volume = read_volume(path, subject_id="p1", ndim=4)
    assert volume.data.shape == (4, 4, 2, 3) and volume.data.dtype == np.float32


def test_voxel_limit_is_generous_for_real_cines():
    assert 512 * 512 * 20 * 50 < MAX_VOXELS < 32767**2


def test_data_check_lists_a_crafted_subject_and_checks_the_rest(tmp_path, cohorts):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc", n=3)
    bad = root / "training" / "patient002" / "patient002_4d.nii.gz"
    bad.write_bytes(gzip.compress(bytes(_patched(40, "<hhhhh", 4, 32767, 32767, 32767, 32767))))
    result = check_cohort(open_cohort(root), data=SMALL)
    assert [s.id for s in result.subjects] == ["patient001", "patient003"]
    assert [p.subject for p in result.problems] == ["patient002"]
    assert str(bad) in result.problems[0].message and "voxels, more than" in result.problems[0].message


def test_any_failure_of_one_subject_is_listed_not_raised(tmp_path, cohorts):
    reader = open_cohort(cohorts.write_acdc_cohort(tmp_path / "acdc", n=3))
    load = reader.load

    def flaky(subject_id):
        if subject_id == "patient003":
            raise RuntimeError("boom")
        return load(subject_id)

    reader.load = flaky  # type: ignore[method-assign]
    result = check_cohort(reader, data=SMALL)
    assert [s.id for s in result.subjects] == ["patient001", "patient002"]
    assert len(result.problems) == 1 and result.problems[0].subject == "patient003"
    assert "RuntimeError: boom" in result.problems[0].message and str(reader.root) in result.problems[0].message


# --- data check runs preprocessing's checks; a refused ingest leaves no cache -----------------

def test_data_check_lists_what_preprocessing_refuses(tmp_path, cohorts):
    acdc = cohorts.write_acdc_cohort(tmp_path / "acdc", n=3)
    info = acdc / "training" / "patient002" / "Info.cfg"
    info.write_text(info.read_text().replace("ES: 3", "ES: 1"))  # ED == ES: the reader accepts it
    result = check_cohort(open_cohort(acdc), data=SMALL)
    assert [p.subject for p in result.problems] == ["patient002"]
    assert "ED and ES are the same frame" in result.problems[0].message
    assert str(info.parent) in result.problems[0].message
    assert [s.id for s in result.subjects] == ["patient001", "patient003"]


def test_generic_cohort_without_labels_is_not_passed(tmp_path, cohorts):
    root = cohorts.write_generic_cohort(tmp_path / "generic", n=3, ed=None, es=None)
    good = check_cohort(open_cohort(root), data=SMALL)
    assert good.problems == []  # negative control: labels at frames 0 and 2
    for path in (root / "labels").iterdir():
        path.unlink()
    result = check_cohort(open_cohort(root), data=SMALL)
    assert result.subjects == []
    messages = [p.message for p in result.problems if p.subject == "case01"]
    assert any("ED frame (1, 1-based) has no labels" in m for m in messages)
    assert all(str(root / "images" / "case01.nii.gz") in m for m in messages)


def test_duplicate_subjects_do_not_count_towards_the_cohort_size(tmp_path, cohorts):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc", n=3)
    data = DataConfig(min_holdout=1, min_train=2, holdout_fraction=0.34)
    assert check_cohort(open_cohort(root), data=data).problems == []  # 3 distinct subjects
    for name in ("patient003_4d.nii.gz", "patient003_frame01_gt.nii.gz", "patient003_frame03_gt.nii.gz"):
        source = root / "training" / "patient002" / name.replace("patient003", "patient002")
        (root / "training" / "patient003" / name).write_bytes(source.read_bytes())
    result = check_cohort(open_cohort(root), data=data)
    assert len(result.subjects) == 3 and len(result.problems) == 1
    assert "2 usable subjects are too few" in result.problems[0].message  # what the split would get


@pytest.mark.parametrize("workers", [1, 2])
def test_a_refused_ingest_leaves_no_cache_folder(tmp_path, cohorts, workers):
    """Also when the subject is read in a worker process: the same error class and message."""
    root = cohorts.write_generic_cohort(tmp_path / "generic", n=3)
    for path in (root / "labels").glob("case01_*"):
        path.unlink()
    run = tmp_path / "run"
    with pytest.raises(DataError, match="case01.*has no labels") as caught:
        prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=run / "cache", workers=workers)
    assert type(caught.value) is DataError
    assert not run.exists()


def test_a_good_ingest_publishes_the_folder_and_no_partial_one(tmp_path, cohorts):
    root = cohorts.write_generic_cohort(tmp_path / "generic", n=2)
    cache = tmp_path / "cache"
    cohort = prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=cache)
    assert len(cohort) == 2 and cohort.folder.is_dir()
    assert sorted(p.name for p in cache.iterdir()) == sorted([cohort.folder.name, "internal_id_map.json"])
    assert len(list(cohort.folder.glob("*.json"))) == 2 and len(list(cohort.folder.glob("*.npz"))) == 2


# --- malformed cache entries -------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"{}", b'{"group": "HCM"}', b"\xff\xfe not json", b"[1, 2]"])
def test_malformed_cache_entry_is_re_prepared(tmp_path, cohorts, caplog, content):
    root = cohorts.write_generic_cohort(tmp_path / "generic", n=2)
    cache = tmp_path / "cache"
    first = prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=cache)
    sidecar = first.folder / f"{first.keys[0]}.json"
    good = sidecar.read_bytes()
    sidecar.write_bytes(content)
    with pytest.raises(DataError, match=rf"{sidecar}: (malformed|unreadable) cache entry .*delete {first.folder}"):
        read_entry(first.folder, first.keys[0])
    with caplog.at_level(logging.WARNING, logger="synthshare.data.cache"):
        again = prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=cache)
    assert again.keys == first.keys and again.measures == first.measures
    assert json.loads(sidecar.read_bytes()) == json.loads(good)
    assert any(str(sidecar) in r.getMessage() and "re-preparing" in r.getMessage() for r in caplog.records)


# --- non-UTF-8 text ----------------------------------------------------------------------------

def test_non_utf8_synthetic_sidecar_is_a_listed_problem(tmp_path, cohorts):
    root = cohorts.write_synthetic_cohort(tmp_path / "syn", n=3)
    sidecar = root / "sub-syn0002" / "anat" / "sub-syn0002_cine.json"
    sidecar.write_bytes(b'\xff{"es_frame": 2}')
    reader = open_cohort(root)
    with pytest.raises(DataError, match=rf"{sidecar}: not UTF-8 text \(byte 0xff at offset 0\)"):
        reader.load("sub-syn0002")
    result = check_cohort(reader, data=SMALL)
    assert [p.subject for p in result.problems] == ["sub-syn0002"] and len(result.subjects) == 2


# --- M&Ms-2 SUBJECT_CODE -----------------------------------------------------------------------

@pytest.mark.parametrize("code, folder", [("7", "007"), ("123", "123"), ("²", "²"), ("٣", "٣"), ("A12", "A12")])
def test_only_ascii_digit_codes_are_zero_padded(code, folder):
    assert subject_folder_name(code) == folder


def test_superscript_subject_code_is_a_missing_subject_not_a_crash(tmp_path, cohorts):
    root = cohorts.write_mnms2_cohort(tmp_path / "mnms2", n=2)
    csv = root / "dataset_information.csv"
    csv.write_text(csv.read_text().replace("\n2,", "\n²,", 1), encoding="utf-8")
    reader = Mnms2Reader(root)
    assert reader.ids() == ["001", "²"]
    with pytest.raises(SubjectDataError, match="²_SA_CINE.nii.gz: file is missing"):
        reader.load("²")


# --- conditions CSV with a row longer than its header -----------------------------------------

def _prior() -> dict:
    means = [[100.0] * len(MEASURE_FIELDS) for _ in CONDITION_GROUPS]
    return {"statistics": {"means": means, "counts": [1.0] * len(CONDITION_GROUPS)}}


def test_conditions_row_longer_than_the_header_is_refused(tmp_path):
    path = tmp_path / "conditions.csv"
    path.write_text("group,lv_edv,lv_esv\nNOR,150,60\nNOR,150,60,EXTRA\n")
    with pytest.raises(ConditionsError, match=r"conditions\.csv: 1 row\(s\) longer than the header:\n  - row 3: 4 fields .*'EXTRA'"):
        read_conditions_csv(path=path, prior=_prior(), grid_slices=4)
    path.write_text("group,lv_edv,lv_esv\nNOR,150,60\nNOR,150,60\n")  # negative control
    assert [c["lv_edv"] for c in read_conditions_csv(path=path, prior=_prior(), grid_slices=4)] == [150.0, 150.0]


# --- generic layout: one scan per patient -----------------------------------------------------

def _with_patients(root: Path, patients: list[str], column: str = "patient_id") -> None:
    csv = root / "clinical.csv"
    lines = csv.read_text().splitlines()
    lines = [f"{lines[0]},{column}"] + [f"{line},{p}" for line, p in zip(lines[1:], patients)]
    csv.write_text("\n".join(lines) + "\n")


def test_repeat_scans_of_one_patient_are_refused(tmp_path, cohorts):
    root = cohorts.write_generic_cohort(tmp_path / "generic", n=3)
    _with_patients(root, ["P1", "P2", "P1"])
    with pytest.raises(DataError, match=r"clinical\.csv: one scan per patient .*\n  - patient_id P1: scans case00, case02"):
        open_cohort(root).ids()
    result = check_cohort(open_cohort(root), data=SMALL)
    assert result.subjects == [] and "one scan per patient" in result.problems[0].message


def test_distinct_patients_pass_and_an_empty_patient_id_is_refused(tmp_path, cohorts):
    root = cohorts.write_generic_cohort(tmp_path / "generic", n=3)
    _with_patients(root, ["P1", "P2", "P3"], column="patient")
    assert open_cohort(root).ids() == ["case00", "case01", "case02"]
    root2 = cohorts.write_generic_cohort(tmp_path / "generic2", n=3)
    _with_patients(root2, ["P1", "", "P3"])
    with pytest.raises(DataError, match=r"empty patient_id in the row\(s\) of case01"):
        open_cohort(root2).ids()


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unreadable_subject_read_in_a_worker_keeps_its_error_and_fields(tmp_path, cohorts, caplog, workers):
    root = cohorts.write_generic_cohort(tmp_path / "generic", n=3)
    image = root / "images" / "case02.nii.gz"
    image.write_bytes(image.read_bytes()[:200])  # truncated
    with caplog.at_level(logging.WARNING), pytest.raises(SubjectDataError, match=f"case02.*{image}") as caught:
        prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=tmp_path / "cache", workers=workers)
    assert caught.value.subject_id == "case02" and caught.value.problems and not (tmp_path / "cache").exists()
    # it came back from the worker as raised, not by a broken pool and a rerun here (an unpicklable error)
    assert not [r for r in caplog.records if "worker processes failed" in r.getMessage()]


def test_errors_with_fields_pickle_whole():
    """Errors raised in worker processes (synthshare.parallel) come back pickled: class, fields and message intact."""
    import pickle

    from synthshare.errors import ConfigError
    from synthshare.labels import LabelValueError

    for err in (SubjectDataError("case07", ["a.nii.gz: truncated", "b.nii.gz: no labels"]),
                ConfigError("config.yaml: invalid", ["vae.steps: must be > 0"]), LabelValueError([4.0, 7.5])):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and vars(back) == vars(err)


@pytest.mark.parametrize("layout", ["acdc", "mnms2", "generic", "synthetic"])
def test_every_layout_prepares_the_same_in_worker_processes(tmp_path, cohorts, layout):
    """Each reader crosses to the workers (it pickles) and gives there what it gives here."""
    root = getattr(cohorts, f"write_{layout}_cohort")(tmp_path / layout, n=3)
    one = prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=tmp_path / "c1", workers=1)
    two = prepare_cohort(reader=open_cohort(root), data=TINY, cache_dir=tmp_path / "c2", workers=2)
    assert len(one) == 3 and (one.keys, one.groups, one.measures) == (two.keys, two.groups, two.measures)
    for key in one.keys:
        a, b = one.load(key), two.load(key)
        assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
