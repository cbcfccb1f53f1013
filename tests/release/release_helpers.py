"""Tiny random synthetic subjects for the release tests (8 x 8 px, 2 slices, 4 frames)."""

from __future__ import annotations

import numpy as np
import pytest

from synthshare.data.measures import measure
from synthshare.data.prepared import SyntheticSubject


def make_subject(*, key: str, seed: int, frames: int = 4, slices: int = 2, size: int = 8) -> SyntheticSubject:
    rng = np.random.default_rng(seed)
    image = rng.random((frames, slices, size, size), dtype=np.float32)
    labels = rng.integers(0, 4, size=(frames, slices, size, size), dtype=np.uint8)
    spacing = (2.0, 2.0, 10.0)
    # nibabel's NIfTI axes are (X, Y, Z) = (H, W, S); measure on that order like the generator does
    measured = measure(ed_labels=labels[0].transpose(1, 2, 0), es_labels=labels[2].transpose(1, 2, 0), spacing=spacing)
    return SyntheticSubject(
        key=key,
        image=image,
        labels=labels,
        spacing=spacing,
        requested={"group": "NOR", "lv_edv": 120.0, "lv_esv": 50.0, "lv_ef": 58.3, "rv_edv": 110.0, "myo_mass": 90.0, "slices": float(slices)},
        measured=measured,
        seed=seed,
        es_frame=2,
    )


@pytest.fixture
def subjects() -> list[SyntheticSubject]:
    return [make_subject(key="syn0001", seed=1), make_subject(key="syn0002", seed=2)]


PRIVACY = {
    "dp": {"enabled": True, "epsilon": 8.0, "delta": 1e-5, "unit": "subject"},
    "gate": {"passed": True, "policy_sha256": "0" * 64, "criteria": []},
}


def build_tiny_release(out, subjects, *, signing_key=None, overwrite=False, reports=None):
    from synthshare.release.documents import DocumentContext
    from synthshare.release.package import build_release

    context = DocumentContext(
        dataset_name="SynthCine", license="CC-BY-NC-SA-4.0", nnunet_dataset_id=501,
        source_cohort="embedded phantom", dp_enabled=True, epsilon=8.0, delta=1e-5, config_name="tiny",
    )
    if reports is None:
        reports = {"privacy": PRIVACY, "fidelity": {"controllability": {"lv_edv": {"pearson_r": 0.9}}},
                   "utility": {"dice": {}}, "report.html": "<html><body>ok</body></html>\n"}
    provenance = {"config_sha256": "a" * 64, "code_version": "0.1.0", "seeds": [1, 2]}
    return build_release(out=out, subjects=subjects, reports=reports, context=context, provenance=provenance,
                         signing_key=signing_key, overwrite=overwrite)


@pytest.fixture
def release(tmp_path, subjects):
    return build_tiny_release(tmp_path / "RELEASE", subjects)


@pytest.fixture
def keypair(tmp_path):
    from synthshare.release.signing import generate_keypair

    private, public = tmp_path / "keys" / "release.pem", tmp_path / "keys" / "release.pub.pem"
    generate_keypair(private_key_path=private, public_key_path=public)
    return private, public
