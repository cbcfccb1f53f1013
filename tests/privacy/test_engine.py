"""Training stages: per-sample gradients against a loop of single-example gradients, clipping,
Poisson sampling over subjects, empty batches, resume, module validation."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from privacy import (
    PrivacyError,
    PrivacyLedger,
    UnsupportedModuleError,
    plain_stage,
    private_stage,
    unwrap,
)
from privacy.sampling import PoissonSubjectSampler, UniformSubjectSampler


class ConvNet(nn.Module):
    """3D conv + GroupNorm + Linear: the layer types of the generator."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 4, 3, padding=1)
        self.norm = nn.GroupNorm(2, 4)
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.norm(self.conv(x))).mean((2, 3, 4)))


def conv_data(n: int = 5) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(2, 2, 8, 8, generator=g), torch.randn(1, generator=g)) for _ in range(n)]


def conv_loss(module: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return ((module(x) - y) ** 2).flatten(1).mean(1)


def unet() -> nn.Module:
    from monai.networks.nets import DiffusionModelUNet

    torch.manual_seed(0)
    model = DiffusionModelUNet(spatial_dims=3, in_channels=2, out_channels=2, channels=(4, 8),
                               attention_levels=(False, False), num_res_blocks=1, norm_num_groups=2)
    with torch.no_grad():  # MONAI zero-initialises output convs, which would zero every upstream gradient
        for p in model.parameters():
            if not p.any():
                p.normal_(0.0, 0.1)
    return model


def unet_data(n: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(2, 8, 8, 4, generator=g), torch.randint(0, 50, (), generator=g)) for _ in range(n)]


def unet_loss(module: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, t = batch
    return ((module(x, t) - x) ** 2).flatten(1).mean(1)


def loop_grads(model: nn.Module, data: list, indices: list[int], loss) -> list[list[torch.Tensor]]:
    """Ground truth: one backward per example, batch of one."""
    out = []
    for i in indices:
        model.zero_grad()
        batch = tuple(t.unsqueeze(0) for t in data[i])
        loss(model, batch).sum().backward()
        out.append([p.grad.detach().clone() for p in model.parameters()])
    return out


def full_batch_stage(model: nn.Module, data: list, *, mode: str, max_grad_norm: float):
    """q = 1 (every subject every step), lr = 0 (weights stay put), sigma = 0 (exact comparison)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    return private_stage(module=model, optimizer=opt, dataset=data, expected_batch_size=len(data), noise_multiplier=0.0,
                         max_grad_norm=max_grad_norm, generator=torch.Generator().manual_seed(0), mode=mode)


@pytest.mark.parametrize("mode", ["hooks", "functorch"])
@pytest.mark.parametrize("build, data, loss", [(ConvNet, conv_data, conv_loss), (unet, unet_data, unet_loss)],
                         ids=["convnet", "monai-unet"])
def test_per_sample_gradients_equal_loop(mode, build, data, loss) -> None:
    torch.manual_seed(0)
    model = build()
    reference = copy.deepcopy(model)
    ds = data()
    stage = full_batch_stage(model, ds, mode=mode, max_grad_norm=1e9)
    stage.step(loss)
    assert stage.last_indices == list(range(len(ds)))
    expected = loop_grads(reference, ds, stage.last_indices, loss)
    params = list(unwrap(stage.module).parameters())
    for j, p in enumerate(params):
        for i in range(len(ds)):
            torch.testing.assert_close(p.grad_sample[i], expected[i][j], rtol=1e-4, atol=1e-6)
    # negative control: gradients are non-trivial and differ between examples (a batch mean would fail above)
    nonzero = [p for p in params if p.grad_sample.abs().sum() > 0]
    assert len(nonzero) == len(params)
    assert all(not torch.allclose(p.grad_sample[0], p.grad_sample[1]) for p in nonzero if p.dim() > 1)


@pytest.mark.parametrize("mode", ["hooks", "functorch", "ghost"])
def test_clipped_mean_gradient_equals_loop(mode: str) -> None:
    torch.manual_seed(0)
    model = ConvNet()
    reference = copy.deepcopy(model)
    ds = conv_data()
    expected = loop_grads(reference, ds, list(range(len(ds))), conv_loss)
    norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in gs)) for gs in expected])
    clip = float(norms.median())  # some examples clipped, some not
    stage = full_batch_stage(model, ds, mode=mode, max_grad_norm=clip)
    stage.step(conv_loss)
    factors = (clip / (norms + 1e-6)).clamp(max=1.0)
    assert (factors < 1).any() and (factors == 1).any()
    for j, p in enumerate(unwrap(stage.module).parameters()):
        want = sum(factors[i] * expected[i][j] for i in range(len(ds))) / len(ds)
        torch.testing.assert_close(p.grad, want, rtol=1e-4, atol=1e-6)
    # negative control: the unclipped mean differs
    p0 = next(unwrap(stage.module).parameters())
    assert not torch.allclose(p0.grad, sum(e[0] for e in expected) / len(ds), rtol=1e-3, atol=1e-6)


def test_poisson_batches_hold_each_subject_at_most_once() -> None:
    sampler = PoissonSubjectSampler(n_subjects=50, sample_rate=0.2, generator=torch.Generator().manual_seed(3))
    batches = [sampler.sample() for _ in range(300)]
    assert all(len(b) == len(set(b)) for b in batches)
    sizes = torch.tensor([len(b) for b in batches], dtype=torch.float)
    assert abs(float(sizes.mean()) - 10.0) < 0.7  # E = n q = 10; sd of the mean ~0.16
    assert float(sizes.std()) > 1.5  # Poisson sampling: the size varies (binomial sd 2.8)
    # same seed -> same batches (replayable); other seed -> other batches
    again = PoissonSubjectSampler(n_subjects=50, sample_rate=0.2, generator=torch.Generator().manual_seed(3))
    assert [again.sample() for _ in range(300)] == batches
    other = PoissonSubjectSampler(n_subjects=50, sample_rate=0.2, generator=torch.Generator().manual_seed(4))
    assert [other.sample() for _ in range(300)] != batches


def test_plain_batches_distinct_and_fixed_size() -> None:
    sampler = UniformSubjectSampler(n_subjects=7, batch_size=4, generator=torch.Generator().manual_seed(0))
    for _ in range(100):
        b = sampler.sample()
        assert len(b) == 4 and len(set(b)) == 4 and all(0 <= i < 7 for i in b)


@pytest.mark.parametrize("mode", ["hooks", "ghost"])
def test_empty_batch_is_a_noise_only_step_that_counts(mode: str) -> None:
    torch.manual_seed(0)
    model = ConvNet()
    before = [p.detach().clone() for p in model.parameters()]
    ledger = PrivacyLedger(delta=1e-5)
    stage = private_stage(module=model, optimizer=torch.optim.SGD(model.parameters(), lr=1.0), dataset=conv_data(),
                          expected_batch_size=1, noise_multiplier=1.0, max_grad_norm=1.0,
                          generator=torch.Generator().manual_seed(0), mode=mode, ledger=ledger, stage_name="vae")
    stage.sampler.sample = list  # force an empty Poisson draw

    def never(module, batch):
        raise AssertionError("the loss must not be evaluated on an empty batch")

    loss = stage.step(never)
    assert math.isnan(loss)
    assert stage.steps_taken == 1
    assert ledger.to_dict()["stages"]["vae"]["steps"] == 1
    moved = [not torch.equal(a, b) for a, b in zip(before, unwrap(stage.module).parameters())]
    assert all(moved)  # noise reached every parameter
    # negative control: with sigma = 0 an empty step changes nothing
    torch.manual_seed(0)
    quiet_model = ConvNet()
    quiet = private_stage(module=quiet_model, optimizer=torch.optim.SGD(quiet_model.parameters(), lr=1.0),
                          dataset=conv_data(), expected_batch_size=1, noise_multiplier=0.0, max_grad_norm=1.0,
                          generator=torch.Generator().manual_seed(0), mode=mode)
    quiet.sampler.sample = list
    quiet.step(never)
    assert all(torch.equal(a, b) for a, b in zip(before, unwrap(quiet.module).parameters()))


def _run(steps: int, *, resume_after: int | None = None) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = ConvNet()
    ds = conv_data(8)

    def make(m: nn.Module, seed: int):
        return private_stage(module=m, optimizer=torch.optim.Adam(m.parameters(), lr=1e-2), dataset=ds,
                             expected_batch_size=3, noise_multiplier=0.8, max_grad_norm=1.0,
                             generator=torch.Generator().manual_seed(seed))

    stage = make(model, 0)
    for _ in range(steps if resume_after is None else resume_after):
        stage.step(conv_loss)
    if resume_after is not None:
        weights, state = copy.deepcopy(unwrap(stage.module).state_dict()), copy.deepcopy(stage.state_dict())
        fresh = ConvNet()
        fresh.load_state_dict(weights)
        stage = make(fresh, 12345)  # a different seed: the state must override it
        stage.load_state_dict(state)
        for _ in range(steps - resume_after):
            stage.step(conv_loss)
    assert stage.steps_taken == steps
    return [p.detach().clone() for p in unwrap(stage.module).parameters()]


def test_resume_equals_uninterrupted() -> None:
    whole = _run(4)
    resumed = _run(4, resume_after=2)
    assert all(torch.equal(a, b) for a, b in zip(whole, resumed))
    # negative control: a different schedule ends elsewhere
    assert not all(torch.equal(a, b) for a, b in zip(whole, _run(3)))


def test_resume_with_other_privacy_parameters_refused() -> None:
    ds = conv_data()
    m = ConvNet()
    stage = private_stage(module=m, optimizer=torch.optim.SGD(m.parameters(), lr=0.1), dataset=ds, expected_batch_size=2,
                          noise_multiplier=1.0, max_grad_norm=1.0, generator=torch.Generator().manual_seed(0))
    m2 = ConvNet()
    other = private_stage(module=m2, optimizer=torch.optim.SGD(m2.parameters(), lr=0.1), dataset=ds, expected_batch_size=2,
                          noise_multiplier=2.0, max_grad_norm=1.0, generator=torch.Generator().manual_seed(0))
    with pytest.raises(PrivacyError, match="same privacy plan"):
        other.load_state_dict(stage.state_dict())


def test_plain_stage_steps_and_rejects_scalar_loss() -> None:
    torch.manual_seed(0)
    model = ConvNet()
    stage = plain_stage(module=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), dataset=conv_data(),
                        batch_size=2, generator=torch.Generator().manual_seed(0))
    first = stage.step(conv_loss)
    assert math.isfinite(first) and stage.steps_taken == 1 and len(stage.last_indices) == 2
    with pytest.raises(PrivacyError, match="one loss per example"):
        stage.step(lambda m, b: conv_loss(m, b).mean())


def test_validator_lists_every_offending_module() -> None:
    bad = nn.Sequential(nn.Conv3d(1, 4, 3), nn.BatchNorm3d(4), nn.ReLU(), nn.Conv3d(4, 4, 3), nn.BatchNorm3d(4))
    with pytest.raises(UnsupportedModuleError) as err:
        private_stage(module=bad, optimizer=torch.optim.SGD(bad.parameters(), lr=0.1), dataset=conv_data(),
                      expected_batch_size=2, noise_multiplier=1.0, max_grad_norm=1.0,
                      generator=torch.Generator().manual_seed(0))
    assert len(err.value.problems) == 2 and "GroupNorm" in str(err.value)
    assert err.value.exit_code == 1
    # negative control: the GroupNorm model is accepted
    good = ConvNet()
    private_stage(module=good, optimizer=torch.optim.SGD(good.parameters(), lr=0.1), dataset=conv_data(),
                  expected_batch_size=2, noise_multiplier=1.0, max_grad_norm=1.0, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("conv, shape", [
    (lambda: nn.Conv3d(4, 6, 3, padding=1), (3, 4, 6, 6, 4)),
    (lambda: nn.Conv3d(4, 6, 3, stride=2, padding=1, bias=False), (3, 4, 8, 8, 4)),
    (lambda: nn.Conv3d(4, 6, (3, 3, 1), padding=(1, 1, 0), dilation=(2, 1, 1), groups=2), (2, 4, 8, 8, 3)),
    (lambda: nn.Conv2d(2, 4, 3, padding="same"), (3, 2, 6, 6)),  # string padding: Opacus' sampler
])
def test_grouped_conv_sampler_equals_opacus_unfold(conv, shape) -> None:
    from opacus.grad_sample.conv import compute_conv_grad_sample

    from privacy.grad_samplers import grouped_conv_grad_sample

    torch.manual_seed(0)
    layer = conv()
    a = torch.randn(*shape)
    b = torch.randn_like(layer(a))
    ours = grouped_conv_grad_sample(layer, [a], b)
    ref = compute_conv_grad_sample(layer, [a], b)
    assert set(ours) == set(ref)
    for p in ours:
        assert ours[p].shape == (shape[0], *p.shape)
        torch.testing.assert_close(ours[p], ref[p], rtol=1e-4, atol=1e-5)
    # negative control: swapping two examples' backprops changes their per-sample gradients
    swapped = grouped_conv_grad_sample(layer, [a], b.flip(0))
    assert not torch.allclose(swapped[layer.weight][0], ours[layer.weight][0])


def test_auto_mode_follows_the_measured_table(monkeypatch) -> None:
    from privacy import modes

    assert modes.choose_mode(module=ConvNet(), expected_batch_size=4) == "hooks"
    # negative control: if ghost had measured fastest, auto would pick it
    monkeypatch.setitem(modes.MEASURED, "vae", (46_089, 8, {"hooks": 2.0, "functorch": 2.5, "ghost": 1.2}))
    assert modes.choose_mode(module=ConvNet(), expected_batch_size=4) == "ghost"
    m = ConvNet()
    stage = private_stage(module=m, optimizer=torch.optim.SGD(m.parameters(), lr=0.1), dataset=conv_data(),
                          expected_batch_size=2, noise_multiplier=1.0, max_grad_norm=1.0,
                          generator=torch.Generator().manual_seed(0), mode="auto")
    assert stage.mode == "ghost"
