"""DP release of per-category counts, means and pooled covariance (Gaussian mechanism)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from privacy import PrivacyConfigError, ReleasedStatistics, release_statistics

LOWER = np.array([0.0, 10.0])
UPPER = np.array([10.0, 30.0])


def _cohort() -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[1.0, 12.0], [3.0, 14.0], [5.0, 20.0], [7.0, 26.0], [9.0, 28.0], [25.0, 5.0]])  # last row clipped
    c = np.array([0, 0, 0, 1, 1, 1])
    return x, c


def test_exact_release_is_the_clipped_statistics() -> None:
    x, c = _cohort()
    out = release_statistics(vectors=x, categories=c, n_categories=3, lower=LOWER, upper=UPPER, noise_multiplier=None,
                             rng=np.random.default_rng(0))
    xc = np.clip(x, LOWER, UPPER)  # last row -> [10, 10]
    np.testing.assert_allclose(out.counts, [3, 3, 0])
    np.testing.assert_allclose(out.means[0], [3.0, 46 / 3])
    np.testing.assert_allclose(out.means[1], [26 / 3, 64 / 3])
    resid = np.concatenate([xc[:3] - xc[:3].mean(0), xc[3:] - xc[3:].mean(0)])
    np.testing.assert_allclose(out.covariance, resid.T @ resid / (6 - 3), atol=1e-9)
    assert out.noise_multiplier is None and out.sensitivity == pytest.approx(math.sqrt(3))
    # negative control: without clipping the second group's mean would be different
    assert not np.allclose(out.means[1], x[3:].mean(0))


def test_noise_has_the_calibrated_std_over_seeds() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(LOWER, UPPER, size=(300, 2))
    c = rng.integers(0, 2, size=300)
    exact = release_statistics(vectors=x, categories=c, n_categories=2, lower=LOWER, upper=UPPER, noise_multiplier=None,
                               rng=np.random.default_rng(0))
    sigma = 0.5
    counts = np.array([release_statistics(vectors=x, categories=c, n_categories=2, lower=LOWER, upper=UPPER,
                                          noise_multiplier=sigma, rng=np.random.default_rng(s)).counts for s in range(400)])
    std = (counts - exact.counts).std(axis=0)
    np.testing.assert_allclose(std, sigma * math.sqrt(3), rtol=0.1)  # sd of a sample sd over 400 draws ~3.5%
    assert abs((counts - exact.counts).mean()) < 0.15
    # negative control: sigma twice as large gives twice the spread
    wide = np.array([release_statistics(vectors=x, categories=c, n_categories=2, lower=LOWER, upper=UPPER,
                                        noise_multiplier=2 * sigma, rng=np.random.default_rng(s)).counts
                     for s in range(400)])
    assert (wide - exact.counts).std() == pytest.approx(2 * sigma * math.sqrt(3), rel=0.1)


def test_noisy_release_is_valid_and_round_trips() -> None:
    x, c = _cohort()
    out = release_statistics(vectors=x, categories=c, n_categories=3, lower=LOWER, upper=UPPER, noise_multiplier=3.0,
                             rng=np.random.default_rng(1))
    assert np.all(out.counts >= 0)
    assert np.all(out.means >= LOWER) and np.all(out.means <= UPPER)
    assert np.min(np.linalg.eigvalsh(out.covariance)) >= -1e-9
    back = ReleasedStatistics.from_dict(out.to_dict())
    assert back.to_dict() == out.to_dict()
    same = release_statistics(vectors=x, categories=c, n_categories=3, lower=LOWER, upper=UPPER, noise_multiplier=3.0,
                              rng=np.random.default_rng(1))
    np.testing.assert_array_equal(same.covariance, out.covariance)


def test_bad_input_lists_every_problem() -> None:
    x, c = _cohort()
    with pytest.raises(PrivacyConfigError) as err:
        release_statistics(vectors=x, categories=c + 5, n_categories=3, lower=UPPER, upper=LOWER, noise_multiplier=0.0,
                           rng=np.random.default_rng(0))
    msg = str(err.value)
    assert "categories must be integers" in msg and "upper bound" in msg and "noise_multiplier" in msg
