"""The bad-input table: every problem is a DataError naming the subject and the file.

Each case breaks one subject of a good cohort; the untouched cohort is the negative control.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from synthshare.data.cohort import open_cohort
from synthshare.data.nifti import SubjectDataError
from synthshare.data.validate import check_cohort_size, validate_cohort
from synthshare.errors import BadInputError, DataError

PID = "patient002"


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _info(folder: Path, **changes: str | None) -> None:
    lines = dict(line.split(": ", 1) for line in (folder / "Info.cfg").read_text().splitlines())
    for key, value in changes.items():
        if value is None:
            lines.pop(key)
        else:
            lines[key] = value
    (folder / "Info.cfg").write_text("".join(f"{k}: {v}\n" for k, v in lines.items()))


def _image(c, folder: Path, array: np.ndarray, spacing=None) -> None:
    c.write_nifti(folder / f"{PID}_4d.nii.gz", array, spacing or c.SPACING)


def _gt(c, folder: Path, frame: int, array: np.ndarray, spacing=None) -> None:
    c.write_nifti(folder / f"{PID}_frame{frame:02d}_gt.nii.gz", array, spacing or c.SPACING)


def _nan_image(c):
    image = c.cine(c.SHAPE, c.FRAMES, 1)
    image[1, 2, 0, 3] = np.nan
    return image


def _inf_image(c):
    image = c.cine(c.SHAPE, c.FRAMES, 1)
    image[0, 0, 1, 0] = np.inf
    return image


def _gt_values(c):
    labels = c.label_volume(c.SHAPE, c.ED_COUNTS)
    labels[7, 7, 1] = 7
    return labels


# (case, break the subject folder, file named in the message, what the message says)
CASES = [
    ("missing image", lambda c, f: (f / f"{PID}_4d.nii.gz").unlink(), f"{PID}_4d.nii.gz", "file is missing"),
    ("truncated image", lambda c, f: _truncate(f / f"{PID}_4d.nii.gz"), f"{PID}_4d.nii.gz", "truncated or corrupt"),
    ("truncated labels", lambda c, f: _truncate(f / f"{PID}_frame03_gt.nii.gz"), f"{PID}_frame03_gt.nii.gz", "truncated or corrupt"),
    ("3D image", lambda c, f: _image(c, f, c.cine(c.SHAPE, 1, 0)[..., 0]), f"{PID}_4d.nii.gz", "expected a 4D"),
    ("NaN voxels", lambda c, f: _image(c, f, _nan_image(c)), f"{PID}_4d.nii.gz", "1 NaN/Inf voxels"),
    ("Inf voxels", lambda c, f: _image(c, f, _inf_image(c)), f"{PID}_4d.nii.gz", "1 NaN/Inf voxels"),
    ("label value 7", lambda c, f: _gt(c, f, 1, _gt_values(c)), f"{PID}_frame01_gt.nii.gz", r"outside the map .*\[7\.0\]"),
    ("label shape", lambda c, f: _gt(c, f, 1, np.zeros((8, 8, 3), np.uint8)), f"{PID}_frame01_gt.nii.gz", r"label shape \(8, 8, 3\) differs"),
    ("label spacing", lambda c, f: _gt(c, f, 3, c.label_volume(c.SHAPE, c.ES_COUNTS), (1.5, 1.5, 9.0)), f"{PID}_frame03_gt.nii.gz", "label voxel size"),
    ("missing ES labels", lambda c, f: (f / f"{PID}_frame03_gt.nii.gz").unlink(), f"{PID}_frame03_gt.nii.gz", "ES label file is missing"),
    ("Info.cfg missing", lambda c, f: (f / "Info.cfg").unlink(), "Info.cfg", "Info.cfg is missing"),
    ("Info.cfg lacks ES", lambda c, f: _info(f, ES=None), "Info.cfg", "lacks ES"),
    ("ES out of range", lambda c, f: _info(f, ES="9"), "Info.cfg", r"ES = 9 is outside the image's 4 frames"),
    ("ED out of range", lambda c, f: _info(f, ED="0"), "Info.cfg", r"ED = 0 is outside"),
    ("NbFrame mismatch", lambda c, f: _info(f, NbFrame="30"), "Info.cfg", "NbFrame = 30"),
]


@pytest.mark.parametrize("case, breaker, filename, what", CASES, ids=[c[0] for c in CASES])
def test_bad_subject_is_a_data_error_naming_subject_and_file(cohorts, tmp_path, case, breaker, filename, what):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc", n=cohorts.MIN_COHORT + 1)  # still big enough without one
    reader = open_cohort(root)
    assert validate_cohort(reader) == []  # negative control: the untouched cohort is clean
    breaker(cohorts, root / "training" / PID)
    with pytest.raises(DataError, match=what) as info:
        open_cohort(root).load(PID)
    message = str(info.value)
    assert PID in message and filename in message
    assert isinstance(info.value, BadInputError)  # exit code 2 at the CLI
    problems = validate_cohort(open_cohort(root))
    assert [p.subject for p in problems] == [PID] and filename in problems[0].message
    assert open_cohort(root).load("patient001").id == "patient001"


def test_every_problem_of_a_subject_and_the_cohort_is_collected(cohorts, tmp_path):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc")
    folder = root / "training" / PID
    _gt(cohorts, folder, 1, _gt_values(cohorts))
    _gt(cohorts, folder, 3, cohorts.label_volume(cohorts.SHAPE, cohorts.ES_COUNTS), (1.5, 1.5, 9.0))
    _info(root / "training" / "patient005", ES="9")
    with pytest.raises(SubjectDataError) as info:
        open_cohort(root).load(PID)
    assert len(info.value.problems) == 2
    problems = validate_cohort(open_cohort(root))
    messages = [p.message for p in problems]
    assert [p.subject for p in problems] == [PID, PID, "patient005", None], messages
    assert "frame01_gt" in messages[0] and "frame03_gt" in messages[1] and "too few" in messages[3]


def test_duplicate_acdc_subject_ids(cohorts, tmp_path):
    root = cohorts.write_acdc_cohort(tmp_path / "acdc", n=2)
    cohorts.write_acdc_subject(root, "patient003", split="testing")
    assert open_cohort(root).ids() == ["patient001", "patient002", "patient003"]  # control
    cohorts.write_acdc_subject(root, "patient002", split="testing")
    with pytest.raises(DataError, match=r"duplicate subject ID patient002 .*testing"):
        open_cohort(root).ids()


def test_duplicate_ids_in_a_clinical_csv(cohorts, tmp_path):
    root = cohorts.write_generic_cohort(tmp_path / "g", n=2)
    assert open_cohort(root).ids() == ["case00", "case01"]  # control
    with (root / "clinical.csv").open("a", newline="") as handle:
        csv.writer(handle).writerow(["case01", "NOR", "", "", "", "", ""])
    with pytest.raises(DataError, match=r"clinical.csv: duplicate subject ID case01"):
        open_cohort(root).ids()


@pytest.mark.parametrize("layout", ["acdc", "generic", "mnms2"])
def test_empty_cohort(cohorts, tmp_path, layout):
    root = tmp_path / layout
    if layout == "acdc":
        (root / "training").mkdir(parents=True)
    elif layout == "generic":
        (root / "images").mkdir(parents=True)
        (root / "clinical.csv").write_text("id,group\n,\n")
    else:
        cohorts.write_mnms2_cohort(root, n=0, padding_rows=4)
    with pytest.raises(DataError, match="empty cohort"):
        open_cohort(root, format=layout).ids()
    problems = validate_cohort(open_cohort(root, format=layout))
    assert len(problems) == 1 and "empty cohort" in problems[0].message


@pytest.mark.parametrize(
    "n, min_train, min_holdout, fraction, ok",
    [
        (19, 2, 5, 0.25, True),
        (18, 2, 5, 0.25, False),
        (12, 2, 4, 0.4, True),
        (8, 2, 4, 0.4, False),
        (40, 30, 5, 0.25, True),
        (40, 31, 5, 0.25, False),
    ],
)
def test_cohort_size_for_an_auditable_holdout(n, min_train, min_holdout, fraction, ok):
    kwargs = dict(n_subjects=n, min_train=min_train, min_holdout=min_holdout, holdout_fraction=fraction, source="COHORT")
    if ok:
        check_cohort_size(**kwargs)
    else:
        with pytest.raises(DataError, match=r"COHORT: .* too few for an auditable holdout"):
            check_cohort_size(**kwargs)


@pytest.mark.parametrize("fraction, min_holdout, min_train", [(0.25, 5, 2), (0.4, 4, 2), (0.5, 1, 3)])
def test_cohort_size_agrees_with_the_split(fraction, min_holdout, min_train):
    from synthshare.data.split import split_subjects

    for n in range(1, 30):
        kwargs = dict(holdout_fraction=fraction, min_holdout=min_holdout, min_train=min_train)
        keys = [f"k{i:02d}" for i in range(n)]
        try:
            split_subjects(keys=keys, groups=["NOR"] * n, seed=0, **kwargs)
            split_ok = True
        except DataError:
            split_ok = False
        try:
            check_cohort_size(n_subjects=n, source="COHORT", **kwargs)
            check_ok = True
        except DataError:
            check_ok = False
        assert check_ok == split_ok, n


def test_other_layouts_name_their_files(cohorts, tmp_path):
    generic = cohorts.write_generic_cohort(tmp_path / "g", n=2)
    cohorts.write_nifti(generic / "labels" / "case01_frame02.nii.gz", cohorts.label_volume(cohorts.SHAPE, cohorts.ES_COUNTS), (1.5, 1.6, 8.0))
    with pytest.raises(DataError, match=r"subject case01: .*case01_frame02.nii.gz: label voxel size"):
        open_cohort(generic).load("case01")
    open_cohort(generic).load("case00")  # control

    mnms = cohorts.write_mnms2_cohort(tmp_path / "m", n=2)
    (mnms / "dataset" / "002" / "002_SA_ES.nii.gz").unlink()
    with pytest.raises(DataError, match=r"subject 002: .*002_SA_ES.nii.gz: file is missing"):
        open_cohort(mnms).load("002")
    open_cohort(mnms).load("001")  # control

    synthetic = cohorts.write_synthetic_cohort(tmp_path / "s", n=2)
    anat = synthetic / "sub-syn0002" / "anat"
    cohorts.write_nifti(anat / "sub-syn0002_dseg.nii.gz", cohorts.label_volume(cohorts.SHAPE, cohorts.ED_COUNTS), cohorts.SPACING)
    with pytest.raises(DataError, match=r"subject sub-syn0002: .*sub-syn0002_dseg.nii.gz: expected a 4D"):
        open_cohort(synthetic).load("sub-syn0002")
    open_cohort(synthetic).load("sub-syn0001")  # control
