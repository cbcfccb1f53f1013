"""The time-axis motion denoiser: its reshapes are exact inverses, it convolves along the cycle,
it takes its context, and its per-sample gradients are per subject (DP-ready)."""

from __future__ import annotations

import copy

import pytest
import torch

from privacy import private_stage, unwrap
from synthshare.models.conditioning import CONDITION_DIM
from synthshare.models.motion import PHASE_CHANNELS, TimeAxisMotionDenoiser, phase_channels
from synthshare.train.latent_stage import build_motion

C, S, H, FRAMES = 2, 4, 8, 4


@pytest.fixture()
def config(tiny_config):
    return tiny_config.with_updates({"motion": {"layout": "time_axis"}, "data": {"frames": FRAMES, "slices": S}})


def _inputs(b: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, C * (FRAMES - 1), S, H, H, generator=g)
    return x, torch.randint(0, 50, (b,), generator=g), torch.randn(b, CONDITION_DIM, generator=g), torch.randn(b, C, S, H, H, generator=g)


def _randomise(net: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():  # MONAI zero-initialises the output conv, which would zero every gradient upstream
        for p in net.parameters():
            if not p.any():
                p.normal_(0.0, 0.1)
    return net


def test_build_motion_follows_the_layout(config):
    assert isinstance(build_motion(config=config, latent_channels=C), TimeAxisMotionDenoiser)
    other = config.with_updates({"motion": {"layout": "frames_in_channels"}})
    assert not isinstance(build_motion(config=other, latent_channels=C), TimeAxisMotionDenoiser)


def test_clip_reshapes_are_exact_inverses(config, monkeypatch):
    """With the inner UNet replaced by 'return the clip', the module is the identity, bit for bit; and the
    clip it hands the UNet holds frame t of slice s of channel k at [k*S + s, t - 1]."""
    net = build_motion(config=config, latent_channels=C)
    seen = {}

    class Inner(torch.nn.Module):
        def forward(self, clip, timesteps, cond, context):
            seen["clip"], seen["context"] = clip, context
            return clip

    monkeypatch.setattr(net, "net", Inner())
    x, t, cond, context = _inputs(2)
    out = net(x, t, cond, context)
    assert torch.equal(out, x)
    frames = x.reshape(2, FRAMES - 1, C, S, H, H)
    for k, s, f in [(0, 0, 0), (1, 3, 2), (0, 2, 1)]:
        assert torch.equal(seen["clip"][:, k * S + s, f], frames[:, f, k, s])
    # context: z_ED at every frame, then the phase channels
    assert seen["context"].shape == (2, C * S + PHASE_CHANNELS, FRAMES - 1, H, H)
    for f in range(FRAMES - 1):
        assert torch.equal(seen["context"][:, : C * S, f], context.reshape(2, C * S, H, H))
    torch.testing.assert_close(seen["context"][0, C * S :, :, 0, 0], phase_channels(FRAMES))


def test_phase_channels_values():
    torch.testing.assert_close(phase_channels(4), torch.tensor([[1.0, 0.0, -1.0], [0.0, -1.0, 0.0]]), atol=1e-6, rtol=0)


def test_output_depends_on_neighbouring_frames_only_through_the_time_convolutions(config):
    """A change at one frame moves the neighbouring frames' outputs (convolution along time): the
    layout really mixes frames; and nothing leaks between subjects of one batch."""
    torch.manual_seed(0)
    net = _randomise(build_motion(config=config, latent_channels=C)).eval()
    x, t, cond, context = _inputs(2)
    bumped = x.clone()
    bumped[0, C : 2 * C] += 1.0  # subject 0, frame 2
    with torch.no_grad():
        a, b = net(x, t, cond, context), net(bumped, t, cond, context)
    delta = (a - b).abs().reshape(2, FRAMES - 1, -1).amax(dim=2)
    assert delta[0, 0] > 1e-4 and delta[0, 2] > 1e-4  # frames 1 and 3 respond
    assert torch.equal(a[1], b[1])  # subject 1 is untouched


def test_needs_its_context(config):
    net = build_motion(config=config, latent_channels=C)
    x, t, cond, _ = _inputs(1)
    with pytest.raises(ValueError, match="context"):
        net(x, t, cond)
    with pytest.raises(ValueError, match="does not match"):
        net(x[:, :C], t, cond, torch.randn(1, C, S, H, H))


def test_per_sample_gradients_are_per_subject(config):
    """Opacus hooks on the time-axis net: each subject's gradient equals its own backward pass."""
    torch.manual_seed(0)
    model = _randomise(build_motion(config=config, latent_channels=C))
    reference = copy.deepcopy(model)
    x, t, cond, context = _inputs(3, seed=1)
    data = [(x[i], t[i], cond[i], context[i]) for i in range(3)]

    def loss(module, batch):
        xb, tb, cb, zb = batch
        return (module(xb, tb, cb, zb) - xb).pow(2).flatten(1).mean(1)

    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    stage = private_stage(module=model, optimizer=opt, dataset=data, expected_batch_size=3, noise_multiplier=0.0,
                          max_grad_norm=1e9, generator=torch.Generator().manual_seed(0), mode="hooks")
    stage.step(loss)
    params = list(unwrap(stage.module).parameters())
    for i in stage.last_indices:
        reference.zero_grad()
        loss(reference, tuple(v.unsqueeze(0) for v in data[i])).sum().backward()
        for p, q in zip(params, reference.parameters()):
            torch.testing.assert_close(p.grad_sample[stage.last_indices.index(i)], q.grad, rtol=1e-4, atol=1e-6)
    assert all(not torch.allclose(p.grad_sample[0], p.grad_sample[1]) for p in params if p.dim() > 1 and p.grad_sample.abs().sum() > 0)


class _Recorder(torch.nn.Module):
    """A stand-in denoiser that records the context it is given and predicts zeros."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # the loss reads the device off a parameter
        self.contexts: list[torch.Tensor] = []

    def forward(self, x, timesteps, cond, context=None):
        self.contexts.append(context.clone())
        return torch.zeros_like(x)


@pytest.mark.parametrize("noise_std", [0.0, 0.5])
def test_context_noise_perturbs_only_the_context(config, noise_std):
    """context_noise = 0 hands the model the exact z_ED and leaves the loss's random stream as it was;
    context_noise > 0 adds noise of that std to the context and to nothing else."""
    from synthshare.train.latent_stage import _diffusion_loss

    section = config.motion.model_copy(update={"context_noise": noise_std})
    x, _, cond, context = _inputs(64, seed=3)
    batch = {"x0": x, "cond": cond, "context": context}
    model = _Recorder()
    losses = _diffusion_loss(section=section, generator=torch.Generator().manual_seed(5), has_context=True,
                             precision="float32", context_noise=noise_std)(model, batch)
    plain = _diffusion_loss(section=section, generator=torch.Generator().manual_seed(5), has_context=True,
                            precision="float32")(_Recorder(), batch)
    torch.testing.assert_close(losses, plain)  # the target (x0, noise, t) is drawn first either way
    delta = model.contexts[0] - context
    if noise_std == 0.0:
        assert torch.equal(delta, torch.zeros_like(delta))
    else:
        assert abs(float(delta.std()) - noise_std) < 0.02 and abs(float(delta.mean())) < 0.02
