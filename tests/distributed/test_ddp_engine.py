"""Training stages on 2 gloo ranks against the same stage in one process.

One spawn of 2 processes runs every scenario (module fixture); each test compares one scenario
with the single-process stage computed here, plus a negative control that the comparison can
tell apart. Tiny Conv3d + GroupNorm + Linear model (the generator's layer types), 5 subjects.
"""

from __future__ import annotations

import math

import pytest
import torch
from ranks import load_json, load_tensors, run_ranks, save_json, save_tensors
from torch import nn

from privacy import (
    PrivacyConfigError,
    PrivacyLedger,
    plain_stage,
    private_stage,
    unwrap,
)
from privacy.distributed import SINGLE, Shard, current_shard

N = 5
CLIP = 0.05  # small enough that every example is clipped


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 4, 3, padding=1)
        self.norm = nn.GroupNorm(2, 4)
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.norm(self.conv(x))).mean((2, 3, 4)))


def data(n: int = N) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(2, 3, 6, 6, generator=g), torch.randn(1, generator=g)) for _ in range(n)]


def loss(module: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return ((module(x) - y) ** 2).flatten(1).mean(1)


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in unwrap(module).state_dict().items()}


def plain(shard: Shard, *, subset: list[int] | None = None) -> tuple[dict[str, torch.Tensor], float, list[int]]:
    torch.manual_seed(0)
    model = Net()
    dataset = data() if subset is None else [data()[i] for i in subset]
    stage = plain_stage(module=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.5), dataset=dataset,
                        batch_size=3 if subset is None else len(subset), generator=torch.Generator().manual_seed(1), shard=shard)
    value = stage.step(loss)
    return weights(stage.module), value, stage.last_indices


def private_run(shard: Shard, **kw) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = Net()
    ledger = kw.pop("ledger", None)
    steps = kw.pop("steps", 1)
    stage = private_stage(module=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.5), dataset=data(),
                          expected_batch_size=kw.pop("ebs", N), noise_multiplier=kw.pop("sigma", 0.0),
                          max_grad_norm=kw.pop("clip", CLIP), generator=torch.Generator().manual_seed(kw.pop("seed", 2)),
                          mode=kw.pop("mode", "hooks"), ledger=ledger, stage_name="s", shard=shard)
    for _ in range(steps):
        stage.step(loss)
    return weights(stage.module)


def noise_only(shard: Shard) -> torch.Tensor:
    """One DP step of a Linear(64, 64) with zero data gradient: the update is the noise / expected batch."""
    torch.manual_seed(0)
    model = nn.Linear(64, 64)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    dataset = [torch.randn(64) for _ in range(8)]
    stage = private_stage(module=model, optimizer=torch.optim.SGD(model.parameters(), lr=1.0), dataset=dataset,
                          expected_batch_size=4, noise_multiplier=1.5, max_grad_norm=2.0,
                          generator=torch.Generator().manual_seed(3), shard=shard)
    stage.step(lambda m, x: (m(x) * 0.0).sum(1))
    return before - torch.cat([p.detach().flatten() for p in unwrap(stage.module).parameters()])


SCENARIOS = {
    "dp_hooks": {"mode": "hooks"},
    "dp_ghost": {"mode": "ghost"},
    "dp_functorch": {"mode": "functorch"},
    "dp_noise": {"sigma": 1.0},
    "dp_poisson_small": {"ebs": 1, "steps": 4},  # batches of 0-2 subjects: empty shards on a rank
}


def _worker(rank: int, folder) -> None:
    shard = current_shard()
    w, value, idx = plain(shard)
    save_tensors(folder / f"plain-{rank}.safetensors", w)
    save_json(folder / f"plain-{rank}.json", {"loss": value, "indices": idx})
    for name, kw in SCENARIOS.items():
        save_tensors(folder / f"{name}-{rank}.safetensors", private_run(shard, **kw))
    ledger = PrivacyLedger(delta=1e-5)
    private_run(shard, sigma=1.0, ebs=2, steps=3, ledger=ledger)
    save_json(folder / f"ledger-{rank}.json", ledger.to_dict())
    save_tensors(folder / f"noise-{rank}.safetensors", {"delta": noise_only(shard)})
    try:  # every rank seeded differently: refused on every rank (no rank left waiting)
        private_run(shard, sigma=1.0, seed=10 + rank)
        save_json(folder / f"mismatch-{rank}.json", "accepted")
    except PrivacyConfigError as err:
        save_json(folder / f"mismatch-{rank}.json", str(err))


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    run_ranks(_worker, world=2, folder=folder)
    return folder


def _close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-6) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=1e-5, atol=atol) for k in a)


def test_plain_step_equals_single_process(ranks):
    single, value, batch = plain(SINGLE)
    shards = [load_json(ranks / f"plain-{r}.json") for r in range(2)]
    assert sorted(shards[0]["indices"] + shards[1]["indices"]) == batch and len(batch) == 3
    assert shards[0]["indices"] == batch[0::2] and shards[1]["indices"] == batch[1::2]
    for r in range(2):
        assert _close(load_tensors(ranks / f"plain-{r}.safetensors"), single)
        assert math.isclose(shards[r]["loss"], value, rel_tol=1e-6)
    # negative control: rank 0's shard alone (no sum over ranks) gives other weights
    alone, _, _ = plain(SINGLE, subset=shards[0]["indices"])
    assert not _close(load_tensors(ranks / "plain-0.safetensors"), alone, atol=1e-4)


@pytest.mark.parametrize("name", ["dp_hooks", "dp_ghost", "dp_functorch", "dp_noise", "dp_poisson_small"])
def test_private_step_equals_single_process(ranks, name):
    single = private_run(SINGLE, **SCENARIOS[name])
    for r in range(2):
        assert _close(load_tensors(ranks / f"{name}-{r}.safetensors"), single), f"rank {r}"


def test_private_negative_controls(ranks):
    """The comparison above sees clipping and noise: without them the weights are elsewhere."""
    ddp = load_tensors(ranks / "dp_hooks-0.safetensors")
    assert not _close(ddp, private_run(SINGLE, clip=1e3), atol=1e-4)  # no clipping
    assert not _close(load_tensors(ranks / "dp_noise-0.safetensors"), ddp, atol=1e-3)  # noise was added


def test_noise_std_is_sigma_c_over_expected_batch(ranks):
    d0, d1 = (load_tensors(ranks / f"noise-{r}.safetensors")["delta"] for r in range(2))
    assert torch.equal(d0, d1)  # one noise draw, the same update on every rank
    expected = 1.5 * 2.0 / 4  # sigma * C / expected batch size = 0.75
    std = float(d0.std())
    # 4160 draws: the std's standard error is ~1.1%; two noise draws summed (x1.41) or a missing /B fail
    assert abs(std / expected - 1.0) < 0.05, std
    assert abs(float(d0.mean())) < 4 * expected / math.sqrt(d0.numel())


def test_ledger_counts_each_step_once(ranks):
    single = PrivacyLedger(delta=1e-5)
    private_run(SINGLE, sigma=1.0, ebs=2, steps=3, ledger=single)
    for r in range(2):
        assert load_json(ranks / f"ledger-{r}.json") == single.to_dict()
    once_more = PrivacyLedger(delta=1e-5)
    private_run(SINGLE, sigma=1.0, ebs=2, steps=6, ledger=once_more)  # negative control: twice the steps
    assert load_json(ranks / "ledger-0.json") != once_more.to_dict()
    assert PrivacyLedger.from_dict(load_json(ranks / "ledger-0.json")).epsilon(delta=1e-5) < once_more.epsilon(delta=1e-5)


def test_ranks_with_different_generators_are_refused(ranks):
    for r in range(2):
        assert "generators differ" in load_json(ranks / f"mismatch-{r}.json")
