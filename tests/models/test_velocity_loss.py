"""motion.velocity_weight: the MDM-style velocity loss on the motion denoiser's x0 estimate.

Its differences run around the closed cycle with the ED residual 0 at both ends; with the weight 0 the
loss is the plain v-prediction loss exactly; with a weight it adds that weight times the mean squared
frame-to-frame difference of the x0 error, so an error that jerks between frames costs more than one
shared by every frame; the option reaches the training job and the motion stage's hash.
"""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from synthshare.config import MotionConfig
from synthshare.models.conditioning import CONDITION_DIM
from synthshare.train.latent_stage import _diffusion_loss, cycle_velocity

C, S, H, FRAMES = 2, 3, 4, 4


def test_cycle_velocity_closes_the_cycle_at_ed():
    # one channel, frames 1..3 hold 1, 3, 2: differences 1-0, 3-1, 2-3, 0-2
    x = torch.tensor([1.0, 3.0, 2.0]).reshape(1, 3, 1, 1, 1)
    v = cycle_velocity(x, frames=FRAMES)
    assert v.shape == (1, FRAMES, 1, 1, 1, 1)
    assert v.flatten().tolist() == [1.0, 2.0, -1.0, -2.0]


def test_cycle_velocity_keeps_channels_apart():
    # frames in channels: frame t holds channels [t*C, (t+1)*C); a constant frame gives zero inner differences
    x = torch.arange(1, C + 1, dtype=torch.float32).repeat(FRAMES - 1).reshape(1, C * (FRAMES - 1), 1, 1, 1)
    v = cycle_velocity(x, frames=FRAMES)
    assert torch.equal(v[0, 1:-1], torch.zeros_like(v[0, 1:-1]))
    assert v[0, 0].flatten().tolist() == [1.0, 2.0] and v[0, -1].flatten().tolist() == [-1.0, -2.0]


class _Constant(torch.nn.Module):
    """A denoiser that outputs a fixed tensor whatever its input."""

    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, cond, context=None):
        return self.out + 0.0 * self.w


def _batch(b: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"x0": torch.randn(b, C * (FRAMES - 1), S, H, H, generator=g), "cond": torch.randn(b, CONDITION_DIM, generator=g),
            "context": torch.randn(b, C, S, H, H, generator=g)}


def _loss(section, weight: float, out: torch.Tensor, batch):
    fn = _diffusion_loss(section=section, generator=torch.Generator().manual_seed(7), has_context=True, precision="float32",
                         velocity_weight=weight, frames=FRAMES)
    return fn(_Constant(out), batch)


def test_weight_zero_is_the_plain_loss_and_a_weight_adds_the_velocity_term(tiny_config):
    from synthshare.models.schedulers import train_scheduler, training_target

    section = tiny_config.motion
    batch = _batch(6)
    out = torch.randn(batch["x0"].shape, generator=torch.Generator().manual_seed(1))
    plain = _diffusion_loss(section=section, generator=torch.Generator().manual_seed(7), has_context=True,
                            precision="float32")(_Constant(out), batch)
    assert torch.equal(_loss(section, 0.0, out, batch), plain)
    # replay the loss's random stream to rebuild the x0 error by hand
    g = torch.Generator().manual_seed(7)
    noise = torch.randn(batch["x0"].shape, generator=g)
    t = torch.randint(0, section.num_train_timesteps, (6,), generator=g)
    scheduler = train_scheduler(config=section)
    err = out - training_target(scheduler=scheduler, x0=batch["x0"], noise=noise, t=t)
    x0_err = -(1.0 - scheduler.alphas_cumprod[t]).sqrt().reshape(6, 1, 1, 1, 1) * err
    expected = plain + 2.5 * cycle_velocity(x0_err, frames=FRAMES).pow(2).reshape(6, -1).mean(dim=1)
    torch.testing.assert_close(_loss(section, 2.5, out, batch), expected)


def test_a_jerking_error_costs_more_than_a_shared_one(tiny_config):
    """Same size of error in every frame: shared by all frames vs alternating in sign between frames."""
    section = tiny_config.motion
    batch = _batch(8, seed=2)
    g = torch.Generator().manual_seed(7)
    noise = torch.randn(batch["x0"].shape, generator=g)
    t = torch.randint(0, section.num_train_timesteps, (8,), generator=g)
    from synthshare.models.schedulers import train_scheduler, training_target

    target = training_target(scheduler=train_scheduler(config=section), x0=batch["x0"], noise=noise, t=t)
    bump = torch.randn(8, C, S, H, H, generator=torch.Generator().manual_seed(3))
    shared = bump.repeat(1, FRAMES - 1, 1, 1, 1)
    signs = torch.tensor([1.0, -1.0, 1.0]).repeat_interleave(C).reshape(1, -1, 1, 1, 1)
    jerk = shared * signs
    plain_shared, plain_jerk = _loss(section, 0.0, target + shared, batch), _loss(section, 0.0, target + jerk, batch)
    torch.testing.assert_close(plain_shared, plain_jerk)  # the plain loss cannot tell them apart
    assert bool((_loss(section, 1.0, target + jerk, batch) > _loss(section, 1.0, target + shared, batch)).all())


def test_a_weight_needs_the_frames(tiny_config):
    with pytest.raises(ValueError, match="frames"):
        _diffusion_loss(section=tiny_config.motion, generator=torch.Generator(), has_context=True, precision="float32",
                        velocity_weight=1.0)


def test_negative_weight_is_refused():
    with pytest.raises(ValidationError):
        MotionConfig(velocity_weight=-1.0)


def test_the_weight_reaches_the_motion_job_and_its_hash(tiny_config):
    from synthshare.train.latent_stage import motion_job
    from synthshare.train.run_dir import stage_hash

    frames, slices = tiny_config.data.frames, tiny_config.data.slices
    latents = torch.randn(4, frames, C, slices, H, H, generator=torch.Generator().manual_seed(0))
    cond = torch.randn(4, CONDITION_DIM)
    weighted = tiny_config.with_updates({"motion": {"velocity_weight": 3.0}})
    losses = []
    for cfg in (tiny_config, weighted):
        job = motion_job(config=cfg, latents=latents, cond=cond, latent_scale=1.0, private=False, seed=0)
        batch = {k: v[:4] for k, v in job.dataset.tensors.items()}
        losses.append(job.loss(job.module, batch))
    assert not torch.allclose(losses[0], losses[1])
    keys = ["sub-1", "sub-2"]
    assert stage_hash(stage="motion", config=tiny_config, train_keys=keys, upstream_hash="u") != \
        stage_hash(stage="motion", config=weighted, train_keys=keys, upstream_hash="u")
