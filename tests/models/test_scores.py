"""Model-side audit scores are deterministic given the seed, and differ across seeds."""

from __future__ import annotations

import numpy as np
import pytest

from synthshare.models.scores import denoising_error_scores, vae_reconstruction_scores


@pytest.mark.parametrize("stage", ["static", "motion"])
def test_denoising_scores_deterministic(trained_run, cohort, stage):
    subjects = [cohort.load(k) for k in cohort.keys[:3]]
    a = denoising_error_scores(run_dir=trained_run.root, subjects=subjects, stage=stage, timesteps=[5, 25], seed=0)
    b = denoising_error_scores(run_dir=trained_run.root, subjects=subjects, stage=stage, timesteps=[5, 25], seed=0)
    c = denoising_error_scores(run_dir=trained_run.root, subjects=subjects, stage=stage, timesteps=[5, 25], seed=1)
    assert a.shape == (3,) and np.all(a > 0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_vae_reconstruction_scores(trained_run, cohort):
    subjects = [cohort.load(k) for k in cohort.keys[:2]]
    a = vae_reconstruction_scores(run_dir=trained_run.root, subjects=subjects)
    assert a.shape == (2,) and np.array_equal(a, vae_reconstruction_scores(run_dir=trained_run.root, subjects=subjects))
    assert a[0] != a[1]
