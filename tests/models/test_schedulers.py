import pytest

from synthshare.config import DiffusionConfig
from synthshare.models.schedulers import sample_scheduler, train_scheduler


@pytest.mark.parametrize("timesteps", [50, 200, 1000])
def test_every_schedule_ends_in_noise(timesteps):
    # the sampler starts from pure noise, so training must reach it too (50 steps once ended at 0.64)
    alpha_bar = train_scheduler(config=DiffusionConfig(num_train_timesteps=timesteps)).alphas_cumprod
    assert float(alpha_bar[-1]) < 1e-3
    assert float(alpha_bar[0]) > 0.95


def test_reference_schedule_is_unchanged_at_1000_steps():
    config = train_scheduler(config=DiffusionConfig(num_train_timesteps=1000)).config
    assert (config.beta_start, config.beta_end) == (0.0015, 0.0195)


def test_sampler_uses_the_training_betas():
    config = DiffusionConfig(num_train_timesteps=50)
    train, sample = train_scheduler(config=config), sample_scheduler(config=config, steps=10)
    assert float((train.alphas_cumprod - sample.alphas_cumprod).abs().max()) == 0.0
    assert len(sample.timesteps) == 10
