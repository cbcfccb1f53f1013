"""Sampling: reproducible by seed, different across seeds, conditions CSV validation."""

from __future__ import annotations

import numpy as np
import pytest

from synthshare.errors import BadInputError
from synthshare.sample.conditions import (
    ConditionsError,
    draw_conditions,
    read_conditions_csv,
)
from synthshare.sample.sampler import (
    guidance,
    network_evaluations_per_subject,
    sample_batch,
    sample_cohort,
    subject_seed,
)


def test_same_seed_same_sample_other_seed_different(trained_run, generator):
    a = sample_cohort(run_dir=trained_run.root, n=3, seed=11, generator=generator)
    b = sample_cohort(run_dir=trained_run.root, n=3, seed=11, generator=generator)
    c = sample_cohort(run_dir=trained_run.root, n=3, seed=12, generator=generator)
    assert [s.key for s in a] == ["syn0001", "syn0002", "syn0003"]
    assert all(np.array_equal(x.image, y.image) and np.array_equal(x.labels, y.labels) for x, y in zip(a, b))
    assert not any(np.array_equal(x.image, y.image) for x, y in zip(a, c))
    s = a[0]
    assert s.image.shape == (4, 4, 16, 16) and s.image.dtype == np.float32
    assert s.labels.shape == s.image.shape and s.labels.dtype == np.uint8 and s.labels.max() <= 3
    assert 0 <= s.es_frame < 4 and s.spacing == (3.0, 3.0, 10.0)


def test_subject_is_reproduced_by_its_own_seed(trained_run, generator):
    """A subject sampled in a batch equals the same subject sampled alone from its recorded seed and the conditions
    the networks were given (configs/tiny.yaml calibrates them: model_conditions, not requested)."""
    cohort = sample_cohort(run_dir=trained_run.root, n=3, seed=5, generator=generator)
    third = cohort[2]
    assert third.seed == subject_seed(seed=5, index=2)
    image, _ = sample_batch(generator=generator, conditions=[third.model_conditions], seeds=[third.seed])
    np.testing.assert_allclose(image[0], third.image, atol=1e-5)


def test_network_evaluations(generator):
    # tiny: 2 DDIM steps x 2 (guidance) x 2 stages + 4 frames decoded
    assert network_evaluations_per_subject(generator=generator) == 12


def _with_sampling(generator, **update):
    import dataclasses

    config = generator.config.model_copy(update={"sampling": generator.config.sampling.model_copy(update=update)})
    return dataclasses.replace(generator, config=config)


def test_motion_guidance_is_its_own_setting(generator):
    """motion_guidance_scale None follows guidance_scale; 1.0 drops the unconditional motion pass."""
    unguided = _with_sampling(generator, motion_guidance_scale=1.0)
    assert guidance(generator=generator, section="motion") == generator.config.sampling.guidance_scale
    assert guidance(generator=unguided, section="motion") == 1.0
    assert guidance(generator=unguided, section="static") == generator.config.sampling.guidance_scale
    # tiny: 2 DDIM steps x 2 (static, guided) + 2 x 1 (motion, unguided) + 4 frames decoded
    assert network_evaluations_per_subject(generator=unguided) == 10
    cond = draw_conditions(prior=generator.prior, n=1, rng=np.random.default_rng(0))
    a_img, _ = sample_batch(generator=generator, conditions=cond, seeds=[3])
    b_img, _ = sample_batch(generator=unguided, conditions=cond, seeds=[3])
    # same anatomy (frame 0 comes from the static stage only), other motion
    np.testing.assert_array_equal(a_img[0, 0], b_img[0, 0])
    assert not np.allclose(a_img[0, 1:], b_img[0, 1:])


def test_prior_draws_are_valid(generator):
    conds = draw_conditions(prior=generator.prior, n=50, rng=np.random.default_rng(0))
    assert all(0 < c["lv_esv"] < c["lv_edv"] for c in conds)
    assert all(abs(c["lv_ef"] - 100 * (c["lv_edv"] - c["lv_esv"]) / c["lv_edv"]) < 1e-9 for c in conds)


def _csv(tmp_path, text: str):
    path = tmp_path / "conditions.csv"
    path.write_text(text)
    return path


def test_conditions_csv_completes_rows(tmp_path, generator):
    rows = read_conditions_csv(path=_csv(tmp_path, "group,lv_edv,lv_esv\nNOR,150,60\nDCM,250,200\n"), prior=generator.prior,
                               grid_slices=generator.config.data.slices)
    assert rows[0]["lv_ef"] == pytest.approx(60.0) and rows[1]["group"] == "DCM"
    assert set(rows[0]) == {"group", "lv_edv", "lv_esv", "lv_ef", "rv_edv", "myo_mass", "slices"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("group,lv_edv\nNOR,150\n", "missing column(s) lv_esv"),
        ("group,lv_edv,lv_esv\nNOR,150,60\nNOR,9000,60\n", "row 3, column lv_edv: 9000 is outside"),
        ("group,lv_edv,lv_esv\nNOR,150,abc\n", "row 2, column lv_esv: 'abc' is not a number"),
        ("group,lv_edv,lv_esv\nXYZ,150,60\n", "row 2, column group"),
        ("group,lv_edv,lv_esv\nNOR,100,120\n", "row 2, column lv_esv: 120 must be below lv_edv 100"),
    ],
)
def test_bad_conditions_csv_names_file_row_and_column(tmp_path, generator, text, message):
    path = _csv(tmp_path, text)
    with pytest.raises(ConditionsError) as info:
        read_conditions_csv(path=path, prior=generator.prior, grid_slices=generator.config.data.slices)
    assert message in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, BadInputError)
