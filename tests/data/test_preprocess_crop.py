"""The crop window around the heart: centred on its bounding box, and a warning when the heart is cut."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from synthshare.config import DataConfig
from synthshare.data.phantom import draw_phantom_params, render_phantom_subject
from synthshare.data.preprocess import check_heart_fits, heart_box, prepare_subject
from synthshare.data.subject import Subject


def make_subject(*, seed: int, group: str, subject_id: str) -> Subject:
    p = draw_phantom_params(rng=np.random.default_rng(seed), group=group, size=(32, 32))
    image, labels, spacing = render_phantom_subject(p)
    return Subject(id=subject_id, image=image, spacing=spacing, affine=np.diag([*spacing, 1.0]),
                   labels={f: labels[..., f] for f in (p.ed, p.es)}, ed=p.ed, es=p.es, clinical={"group": group},
                   source="in-memory phantom")


def _blob() -> np.ndarray:
    """(C=2, X, Y, Z) labels: a 10 x 6 x 3 block plus, in the other frame, a one-voxel tail 7 voxels away."""
    labels = np.zeros((2, 30, 20, 6), dtype=np.uint8)
    labels[0, 5:15, 4:10, 1:4] = 1
    labels[1, 21, 6, 2] = 3
    return labels


def test_heart_box_over_all_frames_by_hand() -> None:
    assert heart_box(_blob()) == ((5, 21), (4, 9), (1, 3))
    assert heart_box(np.zeros((1, 4, 4, 4), dtype=np.uint8)) is None


@pytest.mark.parametrize(
    ("crop", "slices", "expected"),
    [((17, 6), 3, None), ((20, 8), 5, None), ((16, 6), 3, (17, 6, 3)), ((17, 5), 3, (17, 6, 3)), ((17, 6), 2, (17, 6, 3))],
)
def test_check_heart_fits_by_hand(crop, slices, expected, caplog) -> None:
    data = DataConfig(spacing=(2.0, 2.0, 10.0), crop=crop, slices=slices)
    with caplog.at_level(logging.WARNING, logger="synthshare.data.preprocess"):
        assert check_heart_fits(subject_id="patient007", labels=_blob(), data=data) == expected
    if expected is None:
        assert not caplog.records
    else:
        (record,) = caplog.records
        assert "patient007" in record.getMessage() and "cuts it" in record.getMessage()
        assert f"data.crop >= [{max(17, crop[0])}, {max(6, crop[1])}]" in record.getMessage()


def _foreground(subject, data: DataConfig) -> int:
    return int(np.count_nonzero(prepare_subject(subject=subject, data=data).labels))


def test_warns_on_a_big_heart_and_not_on_a_small_one(caplog) -> None:
    big, small = make_subject(seed=3, group="DCM", subject_id="big001"), make_subject(seed=3, group="HCM", subject_id="small01")
    data = DataConfig(spacing=(3.0, 3.0, 10.0), crop=(36, 36), slices=12, frames=4)  # DCM 37 x 39, HCM 33 x 33
    wide = data.model_copy(update={"crop": (64, 64)})
    with caplog.at_level(logging.WARNING, logger="synthshare.data.preprocess"):
        cut, whole = _foreground(big, data), _foreground(small, data)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "big001" in messages[0] and "data.crop >= [37, 39]" in messages[0]
    assert cut < _foreground(big, wide)  # the warning is true: the DCM heart lost voxels
    assert whole == _foreground(small, wide)  # the HCM heart fits whole
    # a window exactly as large as the warning asked for holds the big heart whole, without a warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="synthshare.data.preprocess"):
        fits = _foreground(big, data.model_copy(update={"crop": (37, 39)}))
    assert not caplog.records and fits == _foreground(big, wide)


def test_a_cohort_warns_once_for_all_its_cut_hearts(tmp_path, caplog) -> None:
    """prepare_cohort gives one summary naming how many hearts were cut and the window they need."""
    from synthshare.data.cache import prepare_cohort
    from synthshare.data.cohort import open_cohort
    from synthshare.data.phantom_writers import write_phantom_cohort

    write_phantom_cohort(out=tmp_path / "ph", n=6, seed=0, size=(32, 32))
    small = DataConfig(spacing=(3.0, 3.0, 10.0), crop=(12, 12), slices=4, frames=4)
    with caplog.at_level(logging.WARNING):
        prepare_cohort(reader=open_cohort(tmp_path / "ph"), data=small, cache_dir=tmp_path / "cache")
    cut = [r.getMessage() for r in caplog.records if "window" in r.getMessage()]
    assert len(cut) == 1 and cut[0].startswith("6 of 6 subjects' hearts are cut by the 12 x 12 x 4 window")
    assert "use data.crop >= [" in cut[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # a wide enough window: no warning
        prepare_cohort(reader=open_cohort(tmp_path / "ph"), data=small.model_copy(update={"crop": (64, 64), "slices": 16}),
                       cache_dir=tmp_path / "cache2")
    assert not [r for r in caplog.records if "window" in r.getMessage()]
