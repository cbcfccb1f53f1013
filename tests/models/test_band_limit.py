"""sampler.band_limit: a projection onto a few cardiac-cycle harmonics that keeps ED at zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthshare.sample.sampler import band_limit, harmonic_projector


def _cycle(frames: int, coefficients: dict[int, tuple[float, float]]) -> np.ndarray:
    """s_t for t = 1..T-1 of sum_k a_k (cos - 1) + b_k sin (0 at t = 0)."""
    t = np.arange(1, frames)
    return sum(a * (np.cos(2 * np.pi * k * t / frames) - 1) + b * np.sin(2 * np.pi * k * t / frames)
               for k, (a, b) in coefficients.items())


@pytest.mark.parametrize("frames", [8, 9, 30])
def test_projector_is_a_symmetric_idempotent_projection(frames):
    p = harmonic_projector(frames=frames, harmonics=2).numpy()
    np.testing.assert_allclose(p, p.T, atol=1e-12)
    np.testing.assert_allclose(p @ p, p, atol=1e-12)
    assert round(np.trace(p)) == 4  # two harmonics: 2 x (cos, sin)


def test_band_limited_cycles_pass_unchanged_and_higher_harmonics_are_removed():
    frames = 8
    low = _cycle(frames, {1: (0.7, -0.2), 2: (0.1, 0.3)})
    high = _cycle(frames, {3: (0.5, 0.4)})
    x = torch.from_numpy(np.stack([low, low + high]))[:, :, None]  # (B=2, T-1, 1)
    out = band_limit(x, frames=frames, harmonics=2)[:, :, 0].numpy()
    np.testing.assert_allclose(out[0], low, atol=1e-12)  # already band-limited: untouched
    assert np.abs(out[1] - low).max() < np.abs(high).max()  # the third harmonic is largely removed
    assert not np.allclose(out[1], low + high)


def test_enough_harmonics_is_the_identity_and_subjects_stay_separate():
    frames = 8
    x = torch.randn(3, frames - 1, 2, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(band_limit(x, frames=frames, harmonics=4), x)
    y = x.clone()
    y[1] += 1.0
    a, b = band_limit(x, frames=frames, harmonics=1), band_limit(y, frames=frames, harmonics=1)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[2], b[2])
    assert not torch.allclose(a[1], b[1])


def test_sampling_with_harmonics_changes_motion_not_anatomy(trained_run):
    from dataclasses import replace

    from synthshare.sample.conditions import complete
    from synthshare.sample.generator import load_generator
    from synthshare.sample.sampler import sample_batch

    g = load_generator(run_dir=trained_run.root)
    band = replace(g, config=g.config.model_copy(
        update={"sampling": g.config.sampling.model_copy(update={"motion_harmonics": 1})}))
    conditions = [complete(condition={"group": "NOR", "lv_edv": 120.0, "lv_esv": 50.0}, prior=g.prior)] * 2
    images, _ = sample_batch(generator=g, conditions=conditions, seeds=[1, 2])
    banded, _ = sample_batch(generator=band, conditions=conditions, seeds=[1, 2])
    np.testing.assert_array_equal(images[:, 0], banded[:, 0])  # ED frame: the same anatomy
    assert not np.array_equal(images[:, 1:], banded[:, 1:])
