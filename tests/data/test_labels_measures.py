import numpy as np
import pytest

from synthshare.data.measures import measure, volume_curve_ml
from synthshare.labels import LV, MYO, RV, LabelValueError, remap, to_convention


@pytest.mark.parametrize(
    "convention, file_values, internal",
    [
        ("acdc", [0, 1, 2, 3], [0, RV, MYO, LV]),
        ("mnms", [0, 1, 2, 3], [0, LV, MYO, RV]),
        ("internal", [0, 1, 2, 3], [0, 1, 2, 3]),
    ],
)
def test_remap_table(convention, file_values, internal):
    assert remap(np.array(file_values), convention).tolist() == internal


def test_to_convention_inverts_remap():
    labels = np.array([0, 1, 2, 3, 3, 1], dtype=np.uint8)
    for convention in ("acdc", "mnms", "internal"):
        assert remap(to_convention(labels, convention), convention).tolist() == labels.tolist()


@pytest.mark.parametrize("bad", [np.array([0, 4]), np.array([-1, 0]), np.array([0.5, 1.0])])
def test_remap_rejects_values_outside_the_map(bad):
    with pytest.raises(LabelValueError):
        remap(bad, "acdc")


def test_measures_use_real_spacing():
    spacing = (1.5, 1.5, 10.0)  # 22.5 uL per voxel
    ed = np.zeros((10, 10, 4), np.uint8)
    es = np.zeros_like(ed)
    ed[:4, :5, :2] = LV  # 40 voxels -> 0.9 mL
    es[:2, :5, :2] = LV  # 20 voxels -> 0.45 mL
    ed[5:7, :, :1] = MYO  # 20 voxels -> 0.45 mL -> 0.4725 g
    ed[8:, :, 0] = RV  # 20 voxels
    es[8:, :5, 0] = RV  # 10 voxels
    m = measure(ed_labels=ed, es_labels=es, spacing=spacing)
    assert m.lv_edv == pytest.approx(0.9)
    assert m.lv_esv == pytest.approx(0.45)
    assert m.lv_ef == pytest.approx(50.0)
    assert m.lv_sv == pytest.approx(0.45)
    assert m.myo_mass == pytest.approx(0.4725)
    assert m.rv_ef == pytest.approx(50.0)


def test_volume_curve():
    labels = np.zeros((4, 4, 1, 3), np.uint8)
    labels[:2, :2, 0, 0] = LV
    labels[:1, :2, 0, 1] = LV
    curve = volume_curve_ml(labels, LV, (10.0, 10.0, 10.0))
    assert curve.tolist() == [4.0, 2.0, 0.0]
