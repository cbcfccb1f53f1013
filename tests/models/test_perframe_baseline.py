"""The published per-frame motion baseline of benchmarks/generator_bench.py (benchmarks/perframe_baseline.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synthshare.sample.conditions import draw_conditions
from synthshare.sample.sampler import network_evaluations_per_subject, sample_batch

# site-packages holds an unrelated `benchmarks` package, so the benchmark folder is put on the path itself
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from perframe_baseline import (
    PHASE_CHANNELS,
    evaluations_per_subject,
    frame_pairs,
    motion_noise,
    perframe_for_run,
    phase_context,
    sample_perframe_batch,
)


@pytest.fixture(scope="module")
def baseline(trained_run, generator, cohort, tmp_path_factory):
    return perframe_for_run(generator=generator, motion_hash=trained_run.done("motion")["hash"], cohort=cohort,
                            train_keys=cohort.keys[:6], folder=tmp_path_factory.mktemp("perframe"))


def test_phase_channels_are_sin_cos_of_the_phase():
    phase = phase_context(frame=torch.tensor([0, 1, 2]), frames=4, spatial=(2, 3, 3))
    assert phase.shape == (3, PHASE_CHANNELS, 2, 3, 3)
    np.testing.assert_allclose(phase[:, :, 1, 2, 0].numpy(), [[0.0, 1.0], [1.0, 0.0], [0.0, -1.0]], atol=1e-6)
    assert not torch.equal(phase[1], phase[2])  # negative control: other frames, other context


def test_frame_pairs_fold_frames_into_rows():
    latents = torch.arange(2 * 4 * 1 * 1 * 1 * 1, dtype=torch.float32).reshape(2, 4, 1, 1, 1, 1) ** 2
    rows = frame_pairs(latents=latents, cond=torch.tensor([[1.0], [2.0]]), latent_scale=0.5, residual_scale=2.0)
    assert rows["subject"].tolist() == [0, 0, 0, 1, 1, 1] and rows["frame"].tolist() == [1, 2, 3, 1, 2, 3]
    # subject 1: latents 16, 25, 36, 49 -> residuals 9, 20, 33, x2; z_ED 16 x 0.5 = 8
    assert rows["x0"][3:, 0, 0, 0, 0].tolist() == [18.0, 40.0, 66.0]
    assert rows["context"][3:, 0, 0, 0, 0].tolist() == [8.0, 8.0, 8.0]
    assert rows["context"].shape[1] == 1 + PHASE_CHANNELS and rows["cond"][:, 0].tolist() == [1, 1, 1, 2, 2, 2]


def test_shared_noise_is_one_draw_for_every_frame_independent_is_not():
    gens = lambda: [torch.Generator().manual_seed(s) for s in (3, 4)]
    shared = motion_noise(generators=gens(), shape=(2, 1, 2, 2), frames=4, noise="shared")
    independent = motion_noise(generators=gens(), shape=(2, 1, 2, 2), frames=4, noise="independent")
    assert shared.shape == independent.shape == (2, 3, 2, 1, 2, 2)
    assert all(torch.equal(shared[:, 0], shared[:, t]) for t in (1, 2))
    assert not torch.equal(shared[0], shared[1])  # but each subject its own
    assert not any(torch.equal(independent[:, 0], independent[:, t]) for t in (1, 2))  # negative control
    # the independent draw holds the numbers of the joint sampler's motion draw (frames in channels)
    joint = torch.stack([torch.randn((3 * 2, 1, 2, 2), generator=g) for g in gens()])
    assert torch.equal(independent.reshape(joint.shape), joint)


def test_trains_and_samples_the_right_shapes(trained_run, generator, baseline, tmp_path_factory):
    assert baseline.net.channels == 2 and baseline.net.context_channels == 2 + PHASE_CHANNELS
    assert np.isfinite(baseline.final_loss)
    conditions = draw_conditions(prior=generator.prior, n=2, rng=np.random.default_rng(0))
    joint_images, _ = sample_batch(generator=generator, conditions=conditions, seeds=[7, 8])
    out = {mode: sample_perframe_batch(generator=generator, baseline=baseline, conditions=conditions, seeds=[7, 8], noise=mode)
           for mode in ("shared", "independent")}
    for images, labels in out.values():
        assert images.shape == labels.shape == (2, 4, 4, 16, 16)
        assert images.dtype == np.float32 and labels.dtype == np.uint8 and labels.max() <= 3
        # the same anatomy as the joint sampler for the same seeds: the ED frame is decoded from the same z_ED
        np.testing.assert_allclose(images[:, 0], joint_images[:, 0], atol=1e-5)
    assert not np.allclose(out["shared"][0][:, 1:], out["independent"][0][:, 1:])  # the noise mode matters
    other, _ = sample_perframe_batch(generator=generator, baseline=baseline, conditions=conditions, seeds=[9, 10], noise="shared")
    assert not np.allclose(other[:, 0], joint_images[:, 0])  # negative control: other seeds, other anatomy


def test_cached_weights_are_reused_and_a_new_key_retrains(generator, cohort, tmp_path, monkeypatch):
    import perframe_baseline

    kwargs = {"generator": generator, "cohort": cohort, "train_keys": cohort.keys[:6], "folder": tmp_path}
    first = perframe_for_run(motion_hash="a", **kwargs)
    assert (tmp_path / "weights.safetensors").exists()
    trained: list[str] = []
    original = perframe_baseline.train_perframe
    monkeypatch.setattr(perframe_baseline, "train_perframe", lambda **kw: trained.append("x") or original(**kw))
    again = perframe_for_run(motion_hash="a", **kwargs)
    assert trained == []  # cached: loaded, not trained
    assert all(torch.equal(v, again.net.state_dict()[k]) for k, v in first.net.state_dict().items())
    perframe_for_run(motion_hash="b", **kwargs)
    assert trained == ["x"]  # negative control: another run's motion stage retrains


def test_evaluations_count_one_motion_chain_per_moving_frame(generator):
    # tiny: 2 DDIM steps x 2 (guidance) anatomy + 3 moving frames x 2 x 2 motion + 4 decodes; joint: 12
    assert evaluations_per_subject(generator=generator) == 4 + 12 + 4
    assert network_evaluations_per_subject(generator=generator) == 12
