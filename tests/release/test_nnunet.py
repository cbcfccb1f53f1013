from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from synthshare.data.prepared import PREPARED_TO_NIFTI
from synthshare.errors import BadInputError
from synthshare.release.nifti_out import is_marked_synthetic
from synthshare.release.nnunet import dataset_folder_name, export_nnunet


def test_export_layout_and_dataset_json(tmp_path, subjects):
    folder = export_nnunet(subjects=subjects, out_dir=tmp_path, dataset_id=7, name="SynthCine", license_name="CC-BY-4.0")
    assert folder == tmp_path / "Dataset007_SynthCine"
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "cineMRI"}
    assert meta["labels"] == {"background": 0, "LV": 1, "MYO": 2, "RV": 3}
    assert meta["numTraining"] == 4
    assert meta["file_ending"] == ".nii.gz"
    images = sorted(p.name for p in (folder / "imagesTr").iterdir())
    labels = sorted(p.name for p in (folder / "labelsTr").iterdir())
    assert images == ["syn0001_ED_0000.nii.gz", "syn0001_ES_0000.nii.gz", "syn0002_ED_0000.nii.gz", "syn0002_ES_0000.nii.gz"]
    assert labels == ["syn0001_ED.nii.gz", "syn0001_ES.nii.gz", "syn0002_ED.nii.gz", "syn0002_ES.nii.gz"]


def test_es_case_is_the_es_frame(tmp_path, subjects):
    folder = export_nnunet(subjects=subjects, out_dir=tmp_path, dataset_id=501, name="SynthCine", license_name="x")
    subject = subjects[0]
    es = nib.load(folder / "labelsTr" / "syn0001_ES.nii.gz")
    ed = nib.load(folder / "imagesTr" / "syn0001_ED_0000.nii.gz")
    assert es.shape == (8, 8, 2) and is_marked_synthetic(es.header)
    expected_es = subject.labels.transpose(PREPARED_TO_NIFTI)[..., subject.es_frame]
    np.testing.assert_array_equal(np.asarray(es.dataobj), expected_es)
    # negative control: the ES labels are not the ED labels of the random subject
    assert not np.array_equal(np.asarray(es.dataobj), subject.labels.transpose(PREPARED_TO_NIFTI)[..., 0])
    np.testing.assert_array_equal(np.asarray(ed.dataobj), subject.image.transpose(PREPARED_TO_NIFTI)[..., 0])


@pytest.mark.parametrize("dataset_id, name", [(0, "SynthCine"), (1000, "SynthCine"), (5, "Synth_Cine")])
def test_bad_dataset_id_or_name(dataset_id, name):
    with pytest.raises(BadInputError):
        dataset_folder_name(dataset_id=dataset_id, name=name)
