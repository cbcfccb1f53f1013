from __future__ import annotations

import gzip
import json

import nibabel as nib
import numpy as np
import pytest
from release_helpers import make_subject

from synthshare import __version__
from synthshare.data.prepared import PREPARED_TO_NIFTI
from synthshare.errors import BadInputError
from synthshare.release.bids import write_synthetic_subject
from synthshare.release.nifti_out import NOMINAL_FRAME_DURATION_S, header_text_fields


def test_layout_shapes_and_dtypes(tmp_path, subjects):
    subject = subjects[0]
    paths = write_synthetic_subject(subject=subject, out_dir=tmp_path)
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    assert rel == [
        "sub-syn0001/anat/sub-syn0001_cine.json",
        "sub-syn0001/anat/sub-syn0001_cine.nii.gz",
        "sub-syn0001/anat/sub-syn0001_dseg.nii.gz",
    ]
    img = nib.load(tmp_path / rel[1])
    seg = nib.load(tmp_path / rel[2])
    assert img.shape == (8, 8, 2, 4) and img.get_data_dtype() == np.float32
    assert seg.shape == (8, 8, 2, 4) and seg.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asarray(img.dataobj), subject.image.transpose(PREPARED_TO_NIFTI))
    np.testing.assert_array_equal(np.asarray(seg.dataobj), subject.labels.transpose(PREPARED_TO_NIFTI))
    np.testing.assert_allclose(img.affine, np.diag([2.0, 2.0, 10.0, 1.0]))
    assert img.header.get_zooms() == pytest.approx((2.0, 2.0, 10.0, NOMINAL_FRAME_DURATION_S))
    assert img.header.get_xyzt_units() == ("mm", "sec")
    # no stray files (temp files of the atomic writes are gone)
    assert sorted(p.name for p in (tmp_path / "sub-syn0001/anat").iterdir()) == sorted(p.rsplit("/", 1)[1] for p in rel)


def test_header_says_synthetic_and_nothing_else(tmp_path, subjects):
    paths = write_synthetic_subject(subject=subjects[0], out_dir=tmp_path)
    for path in paths[:2]:
        header = nib.load(path).header
        assert header_text_fields(header) == {
            "data_type": "",
            "db_name": "",
            "aux_file": "",
            "descrip": f"SYNTHETIC synthshare {__version__}",
            "intent_name": "SYNTHETIC",
        }
        assert header.get_intent()[0] == "none"
        raw = gzip.decompress(path.read_bytes())[:348]
        # the only printable runs in the 348-byte header are the two marks and the magic
        printable = [r for r in raw.split(b"\x00") if len(r) >= 4 and r.isascii() and r.decode().isprintable()]
        assert printable == [f"SYNTHETIC synthshare {__version__}".encode(), b"SYNTHETIC"]


def test_sidecar_contents(tmp_path, subjects):
    paths = write_synthetic_subject(subject=subjects[1], out_dir=tmp_path)
    side = json.loads(paths[2].read_text())
    assert side["synthetic"] is True
    assert side["subject"] == "syn0002" and side["seed"] == 2
    assert side["ed_frame"] == 0 and side["es_frame"] == 2 and side["frames"] == 4
    assert side["spacing_mm"] == [2.0, 2.0, 10.0]
    assert side["label_map"] == {"0": "background", "1": "LV", "2": "MYO", "3": "RV"}
    assert side["requested_conditions"]["lv_edv"] == 120.0
    assert side["measured"]["lv_edv"] == pytest.approx(subjects[1].measured.lv_edv)


def test_bytes_deterministic_and_content_sensitive(tmp_path):
    a = write_synthetic_subject(subject=make_subject(key="syn0001", seed=5), out_dir=tmp_path / "a")
    b = write_synthetic_subject(subject=make_subject(key="syn0001", seed=5), out_dir=tmp_path / "b")
    c = write_synthetic_subject(subject=make_subject(key="syn0001", seed=6), out_dir=tmp_path / "c")
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.read_bytes() != pc.read_bytes()  # negative control: other arrays, other bytes
    assert a[0].read_bytes()[4:8] == b"\x00\x00\x00\x00"  # gzip mtime field is zero


@pytest.mark.parametrize("key", ["syn_0001", "../evil", ""])
def test_bad_key_rejected(tmp_path, key):
    with pytest.raises(BadInputError, match="cannot be released"):
        write_synthetic_subject(subject=make_subject(key=key, seed=1), out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_bad_labels_rejected(tmp_path):
    subject = make_subject(key="syn0001", seed=1)
    bad = subject.labels.copy()
    bad[0, 0, 0, 0] = 7
    from dataclasses import replace

    with pytest.raises(BadInputError, match="labels must be in 0..3"):
        write_synthetic_subject(subject=replace(subject, labels=bad), out_dir=tmp_path)
