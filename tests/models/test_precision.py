"""Training precision: bfloat16 autocast where native, float32 under DP, part of every stage's hash."""

from __future__ import annotations

import logging

import pytest
import torch

from synthshare.models import precision as precision_module
from synthshare.models.conditioning import CONDITION_DIM
from synthshare.models.precision import autocast, resolve_precision, training_precision
from synthshare.models.vae import latent_shape
from synthshare.train.latent_stage import motion_job, static_job
from synthshare.train.run_dir import stage_hash
from synthshare.train.vae_stage import vae_job


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bfloat16_only_where_native(monkeypatch, native):
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda device=None: native)
    assert resolve_precision("auto", private=False) == ("bfloat16" if native else "float32")
    assert resolve_precision("float32", private=False) == "float32"
    assert resolve_precision("bfloat16", private=False) == "bfloat16"


def test_dp_always_trains_in_float32(monkeypatch, tiny_config, caplog):
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda device=None: True)
    for requested in ("auto", "float32"):
        assert resolve_precision(requested, private=True) == "float32"
    with caplog.at_level(logging.WARNING):
        assert resolve_precision("bfloat16", private=True) == "float32"
    assert "DP-SGD trains in float32" in caplog.text
    private = tiny_config.with_updates({"precision": "bfloat16", "privacy": {"epsilon": 8.0}})
    assert training_precision(private) == "float32"


def test_the_precision_trained_in_is_part_of_the_stage_hash(monkeypatch, tiny_config):
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda device=None: True)

    def h(precision: str) -> str:
        config = tiny_config.with_updates({"precision": precision})
        return stage_hash(stage="static", config=config, train_keys=["a", "b"], upstream_hash="u")

    assert h("float32") != h("bfloat16")
    assert h("auto") == h("bfloat16")  # what it resolves to here, not the word
    monkeypatch.setattr(precision_module, "native_bfloat16", lambda device=None: False)
    assert h("auto") == h("float32")


def test_autocast_is_a_no_op_in_float32_and_bfloat16_otherwise():
    conv = torch.nn.Conv3d(2, 2, 3, padding=1)
    x = torch.rand(1, 2, 3, 4, 4)
    with autocast("float32", torch.device("cpu")):
        assert conv(x).dtype == torch.float32
    with autocast("bfloat16", torch.device("cpu")):
        assert conv(x).dtype == torch.bfloat16
    assert conv.weight.dtype == torch.float32


def _conv_dtypes(module: torch.nn.Module) -> list[torch.dtype]:
    seen: list[torch.dtype] = []
    for m in module.modules():
        if isinstance(m, torch.nn.Conv3d):
            m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    return seen


def _jobs(config, cohort):
    g = torch.Generator().manual_seed(0)
    z = latent_shape(config=config.vae, slices=config.data.slices, height=config.data.crop[0], width=config.data.crop[1])
    latents = torch.randn(4, config.data.frames, *z, generator=g)
    n = latents.shape[0]
    cond = torch.randn(n, CONDITION_DIM, generator=g)
    return {
        "vae": vae_job(config=config, train_keys=cohort.keys[:4], load=cohort.load, seed=0),
        "static": static_job(config=config, latents=latents, cond=cond, private=False, seed=0),
        "motion": motion_job(config=config, latents=latents, cond=cond, latent_scale=1.0, private=False, seed=0),
    }


@pytest.mark.parametrize("stage", ["vae", "static", "motion"])
def test_stage_losses_compute_in_bfloat16_and_return_float32_close_to_float32(tiny_config, cohort, stage):
    """Under bfloat16 the convolutions really run in bfloat16, the per-example loss is float32 and within
    bfloat16 rounding of the float32 loss on the same batch and random draws, and the gradients are float32."""
    losses, dtypes = {}, {}
    for precision in ("float32", "bfloat16"):
        config = tiny_config.with_updates({"precision": precision})
        job = _jobs(config, cohort)[stage]  # same seeds: the same weights, batch and draws in both
        batch = torch.utils.data.default_collate([job.dataset[i] for i in range(min(2, len(job.dataset)))])
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():  # the denoisers' output layer starts at zero (pred 0 in any precision): move it
            for p in job.module.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
        dtypes[precision] = _conv_dtypes(job.module)
        loss = job.loss(job.module, batch)
        loss.sum().backward()
        assert loss.dtype == torch.float32 and loss.shape == (batch[next(iter(batch))].shape[0],)
        assert all(p.grad is None or p.grad.dtype == torch.float32 for p in job.module.parameters())
        losses[precision] = loss.detach()
    assert set(dtypes["float32"]) == {torch.float32}
    assert set(dtypes["bfloat16"]) == {torch.bfloat16}
    torch.testing.assert_close(losses["bfloat16"], losses["float32"], rtol=3e-2, atol=1e-3)
    assert not torch.equal(losses["bfloat16"], losses["float32"])  # it did compute in another precision
