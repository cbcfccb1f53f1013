"""motion.residual_norm: the motion model sees each subject's residuals over its own stroke; the sampler and
the audit's motion scores use the same divisor (of the requested / the subject's own conditions)."""

from __future__ import annotations

import math

import pytest
import torch

from synthshare.models.residual_norm import FLOOR, stroke_scale
from synthshare.train.latent_stage import motion_job, residuals


def test_stroke_scale_is_the_change_of_the_cavity_size_with_a_floor():
    s = stroke_scale([{"lv_edv": 125.0, "lv_esv": 64.0}, {"lv_edv": 100.0, "lv_esv": 99.0}], mode="stroke")
    assert s[0].item() == pytest.approx(5.0 - 4.0)  # cbrt 125 - cbrt 64
    assert s[1].item() == pytest.approx(FLOOR)  # a still heart: the floor, not ~0.01
    assert torch.equal(stroke_scale([{"lv_edv": 125.0, "lv_esv": 64.0}], mode="none"), torch.ones(1))
    with pytest.raises(ValueError, match="residual_norm"):
        stroke_scale([{"lv_edv": 1.0, "lv_esv": 0.0}], mode="volume")


def test_the_motion_model_trains_on_residuals_over_each_subjects_stroke(tiny_config):
    torch.manual_seed(0)
    latents = torch.randn(3, tiny_config.data.frames, 2, 2, 4, 4)
    cond = torch.zeros(3, 13)
    stroke = torch.tensor([0.5, 1.0, 2.0])
    config = tiny_config.with_updates({"motion": {"residual_norm": "stroke"}})
    plain = motion_job(config=config, latents=latents, cond=cond, latent_scale=1.0, private=True, seed=0)  # DP: scale 1
    normed = motion_job(config=config, latents=latents, cond=cond, latent_scale=1.0, private=True, seed=0, stroke=stroke)
    x_plain, x_normed = plain.dataset.tensors["x0"], normed.dataset.tensors["x0"]
    assert torch.equal(x_plain, residuals(latents))
    for i, s in enumerate(stroke.tolist()):
        assert torch.allclose(x_normed[i] * s, x_plain[i])
    assert not math.isclose(float(x_normed[0].abs().mean()), float(x_plain[0].abs().mean()))  # control: it moved


def test_the_setting_keys_the_motion_stage(tiny_config):
    from synthshare.train.trainer import stage_hashes

    keys = ["a", "b", "c"]
    base = stage_hashes(config=tiny_config, train_keys=keys, conditions_sha256="x")
    other = stage_hashes(config=tiny_config.with_updates({"motion": {"residual_norm": "stroke"}}), train_keys=keys,
                         conditions_sha256="x")
    assert base["static"] == other["static"] and base["motion"] != other["motion"]


def test_the_sampler_multiplies_the_motion_by_the_requested_stroke(trained_run, tiny_config):
    """Same seeds and model: the sampled residuals of the stroke setting are those of 'none' times s(requested)."""
    import dataclasses

    from synthshare.models.encode import encode_frames
    from synthshare.sample.conditions import complete
    from synthshare.sample.generator import load_generator
    from synthshare.sample.sampler import sample_batch

    gen = load_generator(run_dir=trained_run.root)
    stroked = dataclasses.replace(gen, config=gen.config.with_updates({"motion": {"residual_norm": "stroke"}}))
    conditions = [complete(condition={"group": "NOR", "lv_edv": 150.0, "lv_esv": 40.0}, prior=gen.prior)]
    calls = []
    decode = gen.vae.decode

    def spy(z):  # what reaches the decoder: anatomy + residual, frame by frame
        calls.append(z.clone())
        return decode(z)

    for g in (gen, stroked):
        g.vae.decode = spy
        sample_batch(generator=g, conditions=conditions, seeds=[7])
        g.vae.decode = decode
    plain, normed = torch.cat(calls[: len(calls) // 2]), torch.cat(calls[len(calls) // 2 :])
    s = stroke_scale(conditions, mode="stroke").item()
    assert s != pytest.approx(1.0)
    assert torch.allclose(normed[0], plain[0])  # ED: the anatomy alone, the same
    assert torch.allclose(normed[1:] - normed[:1], (plain[1:] - plain[:1]) * s, atol=1e-5)


@pytest.mark.parametrize("mode", ["none", "stroke"])
def test_the_audit_scores_the_motion_model_on_the_divided_residuals(trained_run, cohort, mode):
    """The motion score is the model's error on x0 = residual / s(own conditions) * scale, in both settings."""
    import dataclasses

    from synthshare.models.scores import denoising_error_scores
    from synthshare.sample.generator import load_generator

    gen = load_generator(run_dir=trained_run.root)
    gen = dataclasses.replace(gen, config=gen.config.with_updates({"motion": {"residual_norm": mode}}))
    subjects = [cohort.load(k) for k in cohort.keys[:2]]
    scores = denoising_error_scores(run_dir=trained_run.root, subjects=subjects, stage="motion", timesteps=[1, 25],
                                    seed=0, generator=gen)
    assert scores.shape == (2,) and (scores > 0).all()
