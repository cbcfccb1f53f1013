"""Phantom cohort: parameter ranges, determinism, volume truth, the two real layouts, the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from synthshare.data.measures import measure, volume_curve_ml
from synthshare.data.phantom import (
    GROUP_RANGES,
    draw_phantom_params,
    phantom_groups,
    render_phantom_subject,
)
from synthshare.data.phantom_writers import TRUTH_COLUMNS, write_phantom_cohort
from synthshare.errors import BadInputError
from synthshare.labels import LV, MYO, RV

SMALL = (40, 40)


def _truth(root: Path) -> list[dict[str, str]]:
    with (root / "phantom_truth.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("group", sorted(GROUP_RANGES))
def test_params_within_group_ranges(group: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        p = draw_phantom_params(rng=rng, group=group)
        ranges = GROUP_RANGES[group]
        assert ranges["lv_edv"][0] <= p.lv_edv <= ranges["lv_edv"][1]
        assert ranges["lv_ef"][0] <= p.lv_ef <= ranges["lv_ef"][1]
        assert ranges["rv_edv"][0] <= p.rv_edv <= ranges["rv_edv"][1]
        assert 12 <= p.frames <= 30 and 8 <= p.slices <= 12
        assert 5.0 <= p.spacing[2] <= 10.0 and 1.3 <= p.spacing[0] <= 2.0
        assert 0.28 <= (p.es - p.ed) / p.frames <= 0.42  # ES near 35% of the cycle


def test_group_ranges_differ_as_in_the_clinic() -> None:
    assert GROUP_RANGES["DCM"]["lv_edv"][0] > GROUP_RANGES["NOR"]["lv_edv"][1]  # dilated LV
    assert GROUP_RANGES["RV"]["rv_edv"][0] > GROUP_RANGES["NOR"]["rv_edv"][1]  # dilated RV
    assert GROUP_RANGES["HCM"]["wall"][0] > GROUP_RANGES["NOR"]["wall"][1]  # thick wall


def test_unknown_group_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="unknown"):
        draw_phantom_params(rng=np.random.default_rng(0), group="XYZ")


def test_render_shapes_dtypes_and_labels() -> None:
    p = draw_phantom_params(rng=np.random.default_rng(1), group="NOR", size=SMALL)
    image, labels, spacing = render_phantom_subject(p)
    assert image.shape == labels.shape == (*SMALL, p.slices, p.frames)
    assert image.dtype == np.float32 and labels.dtype == np.uint8
    assert spacing == p.spacing
    assert set(np.unique(labels)) == {0, LV, MYO, RV}
    # bSSFP contrast: blood brighter than myocardium
    ed_img, ed_lab = image[..., p.ed], labels[..., p.ed]
    assert ed_img[ed_lab == LV].mean() > 2.0 * ed_img[ed_lab == MYO].mean()


def test_same_seed_same_bytes_other_seed_differs() -> None:
    def render(seed: int) -> tuple[np.ndarray, np.ndarray]:
        p = draw_phantom_params(rng=np.random.default_rng(seed), group="HCM", size=SMALL)
        image, labels, _ = render_phantom_subject(p)
        return image, labels

    a, b, c = render(3), render(3), render(4)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert a[0].shape != c[0].shape or a[0].tobytes() != c[0].tobytes()


def test_rendered_ef_within_two_points_of_request_over_30_subjects() -> None:
    rng = np.random.default_rng(11)
    errors, wrong_es_errors = [], []
    for group in phantom_groups(30):
        p = draw_phantom_params(rng=rng, group=group, size=(48, 48))
        _, labels, spacing = render_phantom_subject(p)
        m = measure(ed_labels=labels[..., p.ed], es_labels=labels[..., p.es], spacing=spacing)
        errors.append(abs(m.lv_ef - p.lv_ef))
        wrong = measure(ed_labels=labels[..., p.ed], es_labels=labels[..., p.ed + 1], spacing=spacing)
        wrong_es_errors.append(abs(wrong.lv_ef - p.lv_ef))
        assert abs(m.lv_edv - p.lv_edv) < 0.02 * p.lv_edv
        assert abs(m.myo_mass - 1.05 * p.myo_volume) < 0.02 * 1.05 * p.myo_volume
    assert max(errors) < 2.0
    # negative control: the same measurement on the wrong ES frame misses by far more
    assert np.median(wrong_es_errors) > 5.0


def test_volume_curve_has_ed_maximum_and_es_minimum() -> None:
    p = draw_phantom_params(rng=np.random.default_rng(5), group="NOR", size=SMALL)
    _, labels, spacing = render_phantom_subject(p)
    curve = volume_curve_ml(labels, LV, spacing)
    assert int(np.argmax(curve)) == p.ed and int(np.argmin(curve)) == p.es
    # slower filling than emptying: halfway through diastole the LV is refilled by more than half
    mid = p.es + (p.frames - (p.es - p.ed)) // 2
    assert curve[mid % p.frames] - curve[p.es] > 0.5 * (curve[p.ed] - curve[p.es])


def test_acdc_layout(tmp_path: Path) -> None:
    out = write_phantom_cohort(out=tmp_path / "acdc", n=3, seed=0, layout="acdc", size=(32, 32))
    truth = _truth(out)
    assert list(truth[0]) == list(TRUTH_COLUMNS)
    assert [r["group"] for r in truth] == ["NOR", "MINF", "DCM"]
    folder = out / "training" / "patient001"
    info = dict(line.split(": ") for line in (folder / "Info.cfg").read_text().splitlines())
    assert set(info) == {"ED", "ES", "Group", "Height", "Weight", "NbFrame"}
    ed, es = int(info["ED"]), int(info["ES"])
    assert ed == int(truth[0]["ed"]) + 1 and es == int(truth[0]["es"]) + 1  # Info.cfg is 1-based
    cine = nib.load(folder / "patient001_4d.nii.gz")
    assert cine.shape[3] == int(info["NbFrame"]) and cine.shape[:2] == (32, 32)
    assert np.allclose(cine.header.get_zooms()[:3], np.diag(cine.affine)[:3])
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["Info.cfg", "patient001_4d.nii.gz"] + [f"patient001_frame{f:02d}{s}.nii.gz" for f in (ed, es) for s in ("", "_gt")]
    )
    gt = np.asarray(nib.load(folder / f"patient001_frame{ed:02d}_gt.nii.gz").dataobj)
    voxel_ml = float(np.prod(cine.header.get_zooms()[:3])) / 1000.0
    lv_edv = float(truth[0]["lv_edv"])
    assert abs((gt == 3).sum() * voxel_ml - lv_edv) < 0.01  # ACDC: 3 = LV
    assert abs((gt == 1).sum() * voxel_ml - lv_edv) > 1.0  # ACDC: 1 = RV, not the LV


def test_mnms2_layout(tmp_path: Path) -> None:
    out = write_phantom_cohort(out=tmp_path / "mnms", n=2, seed=0, layout="mnms2", size=(32, 32))
    with (out / "dataset_information.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["SUBJECT_CODE", "DISEASE", "VENDOR", "SCANNER", "FIELD"]
    assert [r[0] for r in rows[1:3]] == ["1", "2"] and all(not any(r) for r in rows[3:]) and len(rows) > 3
    folder = out / "dataset" / "001"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"001_SA_{n}.nii.gz" for n in ("CINE", "ED", "ED_gt", "ES", "ES_gt")
    )
    truth = _truth(out)[0]
    cine = np.asarray(nib.load(folder / "001_SA_CINE.nii.gz").dataobj)
    ed_vol = np.asarray(nib.load(folder / "001_SA_ED.nii.gz").dataobj)
    assert np.array_equal(cine[..., int(truth["ed"])], ed_vol)
    gt = np.asarray(nib.load(folder / "001_SA_ED_gt.nii.gz").dataobj)
    zooms = nib.load(folder / "001_SA_ED_gt.nii.gz").header.get_zooms()
    voxel_ml = float(np.prod(zooms[:3])) / 1000.0
    assert abs((gt == 1).sum() * voxel_ml - float(truth["lv_edv"])) < 0.01  # M&Ms: 1 = LV
    assert abs((gt == 3).sum() * voxel_ml - float(truth["rv_edv"])) < 0.01  # M&Ms: 3 = RV


def test_refuses_non_empty_out_and_leaves_it_alone(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(BadInputError, match="not empty"):
        write_phantom_cohort(out=out, n=1, seed=0)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no temporary folder left behind


def test_cli_phantom_exit_codes(tmp_path: Path) -> None:
    from synthshare.cli.app import app

    runner = CliRunner()
    ok = runner.invoke(app, ["-q", "phantom", str(tmp_path / "c"), "--n", "2", "--size", "24"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "c" / "training" / "patient002" / "Info.cfg").is_file()
    again = runner.invoke(app, ["-q", "phantom", str(tmp_path / "c"), "--n", "2", "--size", "24"])
    assert again.exit_code == 2


def test_readers_ingest_both_layouts(tmp_path: Path) -> None:
    cohort = pytest.importorskip("synthshare.data.cohort")
    for layout, first in (("acdc", "patient001"), ("mnms2", "001")):
        out = write_phantom_cohort(out=tmp_path / layout, n=2, seed=2, layout=layout, size=(24, 24))
        reader = cohort.open_cohort(out)
        assert reader.ids()[0] == first
        subject = reader.load(first)
        truth = _truth(out)[0]
        assert (subject.ed, subject.es, subject.group) == (int(truth["ed"]), int(truth["es"]), truth["group"])
        m = measure(ed_labels=subject.labels[subject.ed], es_labels=subject.labels[subject.es], spacing=subject.spacing)
        assert m.lv_ef == pytest.approx(float(truth["lv_ef"]), abs=1e-3)
        assert m.rv_edv == pytest.approx(float(truth["rv_edv"]), abs=1e-3)


def test_cohort_files_are_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    a = files(write_phantom_cohort(out=tmp_path / "a", n=2, seed=5, size=(24, 24)))
    b = files(write_phantom_cohort(out=tmp_path / "b", n=2, seed=5, size=(24, 24)))
    c = files(write_phantom_cohort(out=tmp_path / "c", n=2, seed=6, size=(24, 24)))
    assert a == b
    assert a != c and a["phantom_truth.csv"] != c["phantom_truth.csv"]


@pytest.mark.parametrize("layout", ["acdc", "mnms2"])
def test_worker_processes_write_the_same_bytes_as_one_process(tmp_path: Path, layout: str, caplog) -> None:
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    one = files(write_phantom_cohort(out=tmp_path / "one", n=3, seed=5, layout=layout, size=(24, 24), workers=1))
    with caplog.at_level("WARNING", logger="synthshare.parallel"):
        two = files(write_phantom_cohort(out=tmp_path / "two", n=3, seed=5, layout=layout, size=(24, 24), workers=2))
    assert not any("running the remaining" in r.getMessage() for r in caplog.records)  # the workers did the work
    assert one == two
    assert len([k for k in one if k.endswith(".nii.gz")]) >= 3 * 3  # control: every subject was written


@pytest.mark.parametrize("layout", ["acdc", "mnms2"])
def test_a_subject_rendered_again_overwrites_its_partial_files(tmp_path: Path, layout: str) -> None:
    """After a dead worker, its subject is rendered again in the parent: the rerun must not trip on its files."""
    from synthshare.data.phantom import draw_phantom_params
    from synthshare.data.phantom_writers import _render_and_write

    params = draw_phantom_params(rng=np.random.default_rng(0), group="NOR", size=(24, 24))
    first = _render_and_write((tmp_path, layout), (1, params))
    written = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    next(iter(written)).write_bytes(b"half")  # a partial file left by the dead worker
    assert _render_and_write((tmp_path, layout), (1, params)) == first
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()} == written
