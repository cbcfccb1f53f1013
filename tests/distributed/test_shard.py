"""The single-process side of the distributed helpers: torchrun detection, shards, no-op collectives,
resume refusal across process counts. No process group is created here."""

from __future__ import annotations

import pytest
import torch

from privacy import PrivacyConfigError
from privacy.distributed import (
    SINGLE,
    Shard,
    all_reduce_sum_,
    barrier,
    current_shard,
    gather_to_main,
    is_main,
    main_first,
    same_on_all_ranks,
    torchrun_env,
)
from synthshare.train.loop import _rank_state
from synthshare.train.run_dir import RunDirError


@pytest.mark.parametrize("world, rank, expected", [
    (2, 0, [0, 2, 4]),
    (2, 1, [1, 3]),
    (3, 2, [2]),
    (1, 0, [0, 1, 2, 3, 4]),
])
def test_shard_takes_every_world_th_item(world, rank, expected):
    assert Shard(rank=rank, world=world).take([0, 1, 2, 3, 4]) == expected


def test_shards_partition_the_batch():
    batch = [3, 5, 8, 13, 21, 34, 55]
    parts = [Shard(rank=r, world=3).take(batch) for r in range(3)]
    assert sorted(i for part in parts for i in part) == batch and sum(map(len, parts)) == len(batch)


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"WORLD_SIZE": "1", "RANK": "0"}, None),  # torchrun with one process: the single-process path
    ({"WORLD_SIZE": "2", "RANK": "1"}, Shard(rank=1, world=2)),
])
def test_torchrun_env(monkeypatch, env, expected):
    for name in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert torchrun_env() == expected


@pytest.mark.parametrize("env", [{"WORLD_SIZE": "2", "RANK": "2"}, {"WORLD_SIZE": "two", "RANK": "0"},
                                 {"WORLD_SIZE": "2"}])
def test_torchrun_env_refuses_nonsense(monkeypatch, env):
    monkeypatch.delenv("RANK", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PrivacyConfigError, match="torchrun --nproc_per_node"):
        torchrun_env()


def test_single_process_collectives_are_no_ops():
    assert current_shard() == SINGLE and is_main() and same_on_all_ranks(7)
    t = torch.tensor([1.0, 2.0])
    all_reduce_sum_([t])
    assert t.tolist() == [1.0, 2.0]
    barrier()
    with main_first():
        pass
    assert gather_to_main({"a": 1}) == [{"a": 1}]


def test_resume_with_another_number_of_ranks_is_refused():
    state = {"ranks": [{"dataset": {}, "loss_rng": 0}, {"dataset": {}, "loss_rng": 1}]}
    assert _rank_state(state=state, shard=Shard(rank=1, world=2), stage="vae")["loss_rng"] == 1
    with pytest.raises(RunDirError, match="2 process"):
        _rank_state(state=state, shard=SINGLE, stage="vae")
    single_state = {"dataset": {}, "loss_rng": 7}
    assert _rank_state(state=single_state, shard=SINGLE, stage="vae") is single_state
    with pytest.raises(RunDirError, match="1 process"):
        _rank_state(state=single_state, shard=Shard(rank=0, world=2), stage="vae")
