"""Cohort readers: detection, lazy loading, label remapping, .nii, padded CSV rows, --format."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest

from synthshare.data.cohort import detect_format, open_cohort
from synthshare.data.validate import summarize
from synthshare.errors import DataError
from synthshare.labels import LV, MYO, RV

LAYOUT_WRITERS = {"acdc": "write_acdc_cohort", "mnms2": "write_mnms2_cohort", "generic": "write_generic_cohort", "synthshare": "write_synthetic_cohort"}


@pytest.mark.parametrize(
    "layout, first_id, ed, es, labelled",
    [
        ("acdc", "patient001", 0, 2, [0, 2]),
        ("mnms2", "001", 0, 2, [0, 2]),
        ("generic", "case00", 0, 2, [0, 2]),
        ("synthshare", "sub-syn0001", 0, 2, [0, 1, 2, 3]),
    ],
)
def test_each_layout_is_detected_and_measured_exactly(cohorts, tmp_path, layout, first_id, ed, es, labelled):
    root = getattr(cohorts, LAYOUT_WRITERS[layout])(tmp_path / layout)
    assert detect_format(root) == layout
    reader = open_cohort(root)
    ids = reader.ids()
    assert len(ids) == cohorts.MIN_COHORT and ids == sorted(ids) and ids[0] == first_id
    subject = reader.load(first_id)
    assert subject.image.shape == (8, 8, 2, 4) and subject.image.dtype == np.float32
    assert subject.spacing == (1.5, 1.5, 8.0)
    assert (subject.ed, subject.es) == (ed, es)
    assert sorted(subject.labels) == labelled
    summary = summarize(subject).as_dict()
    for key, value in cohorts.EXPECTED.items():
        assert summary[key] == pytest.approx(value, abs=1e-9), key


def test_acdc_reversed_label_map_lands_on_internal_lv(cohorts, tmp_path):
    folder = cohorts.write_acdc_subject(tmp_path, "patient001", ed=1, es=3)
    raw = np.asarray(nib.load(str(folder / "patient001_frame01_gt.nii.gz")).dataobj)
    assert np.count_nonzero(raw == 3) == 40  # ACDC writes LV as 3 ...
    labels = open_cohort(tmp_path).load("patient001").labels[0]
    assert np.count_nonzero(labels == LV) == 40  # ... and it is read as internal 1
    assert np.count_nonzero(labels == RV) == 30 and np.count_nonzero(labels == MYO) == 20


def test_acdc_file_in_the_wrong_convention_gives_wrong_volumes(cohorts, tmp_path):
    # negative control: labels written in the M&Ms map are read as ACDC, so LV and RV swap
    cohorts.write_acdc_subject(tmp_path, "patient001", labels_convention="mnms")
    summary = summarize(open_cohort(tmp_path).load("patient001"))
    assert summary.lv_edv == pytest.approx(cohorts.EXPECTED["rv_edv"]) and summary.lv_edv != pytest.approx(cohorts.EXPECTED["lv_edv"])


def test_uncompressed_nii_everywhere(cohorts, tmp_path):
    for layout, kwargs in (("acdc", {"ext": ".nii"}), ("mnms2", {"ext": ".nii"}), ("generic", {"ext": ".nii"})):
        root = getattr(cohorts, LAYOUT_WRITERS[layout])(tmp_path / layout, n=2, **kwargs)
        assert not list(root.rglob("*.nii.gz"))
        subject = open_cohort(root).load(open_cohort(root).ids()[0])
        assert summarize(subject).lv_ef == pytest.approx(cohorts.EXPECTED["lv_ef"])


def test_mnms2_padding_rows_are_skipped(cohorts, tmp_path):
    root = cohorts.write_mnms2_cohort(tmp_path / "m", n=3, padding_rows=5)
    assert open_cohort(root).ids() == ["001", "002", "003"]
    subject = open_cohort(root).load("002")
    assert subject.group == "LV" and subject.clinical["vendor"] == "SIEMENS" and subject.clinical["field"] == 1.5


def test_mnms2_row_without_subject_code_is_an_error(cohorts, tmp_path):
    root = cohorts.write_mnms2_cohort(tmp_path / "m", n=2, padding_rows=0)
    with (root / "dataset_information.csv").open("a") as handle:
        handle.write(",NOR,GE,Signa,3\n")  # not padding: has values but no code
    with pytest.raises(DataError, match="dataset_information.csv.*no SUBJECT_CODE"):
        open_cohort(root).ids()


@pytest.mark.parametrize("ed, es", [(1, 3), (3, 0)])
def test_mnms2_ed_es_found_by_matching_cine_frames(cohorts, tmp_path, ed, es):
    root = cohorts.write_mnms2_cohort(tmp_path / "m", n=1, ed=ed, es=es)
    subject = open_cohort(root).load("001")
    assert (subject.ed, subject.es) == (ed, es)
    assert np.count_nonzero(subject.labels[ed] == LV) == 40 and np.count_nonzero(subject.labels[es] == LV) == 20


def test_generic_es_defaults_to_smallest_lv_frame(cohorts, tmp_path):
    root = cohorts.write_generic_cohort(tmp_path / "g", n=1, ed=None, es=None, label_es=3)
    subject = open_cohort(root).load("case00")
    assert (subject.ed, subject.es) == (0, 3)
    explicit = cohorts.write_generic_cohort(tmp_path / "h", n=1, ed=0, es=1, label_es=3)
    assert open_cohort(explicit).load("case00").es == 1  # the CSV wins when given


def test_acdc_root_may_be_the_training_folder_or_hold_both_splits(cohorts, tmp_path):
    cohorts.write_acdc_cohort(tmp_path / "a", n=2)
    cohorts.write_acdc_subject(tmp_path / "a", "patient101", split="testing")
    assert open_cohort(tmp_path / "a").ids() == ["patient001", "patient002", "patient101"]
    assert open_cohort(tmp_path / "a" / "training").ids() == ["patient001", "patient002"]


def test_format_overrides_detection(cohorts, tmp_path):
    root = cohorts.write_generic_cohort(tmp_path / "both", n=2)
    cohorts.write_acdc_cohort(root, n=3)  # the same folder also holds an ACDC training/ tree
    assert detect_format(root) == "generic"
    reader = open_cohort(root, format="acdc")
    assert reader.format == "acdc" and reader.ids() == ["patient001", "patient002", "patient003"]


def test_unknown_layout_names_the_folder_and_the_layouts(cohorts, tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"stuff: unknown cohort layout.*synthshare.*mnms2.*generic.*acdc"):
        detect_format(tmp_path / "stuff")


def test_loading_is_lazy_one_bad_subject_does_not_block_the_others(cohorts, tmp_path):
    root = cohorts.write_acdc_cohort(tmp_path / "a", n=3)
    (root / "training" / "patient002" / "patient002_4d.nii.gz").write_bytes(b"garbage")
    reader = open_cohort(root)
    assert reader.ids() == ["patient001", "patient002", "patient003"]
    assert reader.load("patient003").id == "patient003"
    with pytest.raises(DataError):
        reader.load("patient002")


def test_synthetic_layout_reads_group_and_every_frame(cohorts, tmp_path):
    root = cohorts.write_synthetic_cohort(tmp_path / "s", n=1, es=3)
    subject = open_cohort(root).load("sub-syn0001")
    assert subject.group == "NOR" and subject.es == 3 and len(subject.labels) == 4
    shutil.rmtree(root / "sub-syn0001")
    with pytest.raises(DataError, match="empty cohort"):
        open_cohort(root, format="synthshare").ids()


def test_a_released_subject_reads_back_with_its_requested_group(tmp_path):
    """The group comes from the sidecar the release writes (requested_conditions), not only a top-level key."""
    import numpy as np

    from synthshare.data.measures import measure
    from synthshare.data.prepared import SyntheticSubject
    from synthshare.release.bids import write_synthetic_subject

    labels = np.zeros((4, 3, 8, 8), dtype=np.uint8)
    labels[:, 1, 2:6, 2:6] = 1
    labels[2, 1, 3:5, 3:5] = 1
    labels[2, 1, 2, 2:6] = 0
    spacing = (2.0, 2.0, 8.0)
    subject = SyntheticSubject(key="syn0001", image=np.random.default_rng(0).random(labels.shape, dtype=np.float32),
                               labels=labels, spacing=spacing, requested={"group": "HCM", "lv_edv": 1.0}, seed=1,
                               measured=measure(ed_labels=labels[0], es_labels=labels[2], spacing=spacing), es_frame=2)
    write_synthetic_subject(subject=subject, out_dir=tmp_path)
    assert open_cohort(tmp_path, format="synthshare").load("sub-syn0001").group == "HCM"
