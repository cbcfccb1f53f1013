"""Run a function on N local processes joined by gloo (what torchrun gives, without torchrun).

`run_ranks(fn, world=2, folder=tmp, args=...)` spawns N processes; each joins one process group
through a file store in `folder`, calls fn(rank, folder, *args) with one torch thread, and leaves.
Workers hand results back as files in `folder` (safetensors / JSON), never pickles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file


def run_ranks(fn: Callable[..., None], *, world: int, folder: Path, args: tuple[Any, ...] = ()) -> None:
    store = Path(folder) / "pg-store"
    store.unlink(missing_ok=True)
    mp.spawn(_entry, args=(fn, world, str(folder), args), nprocs=world, join=True)


def _entry(rank: int, fn: Callable[..., None], world: int, folder: str, args: tuple[Any, ...]) -> None:
    torch.set_num_threads(1)
    os.environ.pop("WORLD_SIZE", None)  # the group is made here, not from a torchrun environment
    dist.init_process_group("gloo", init_method=f"file://{folder}/pg-store", rank=rank, world_size=world)
    try:
        fn(rank, Path(folder), *args)
    finally:
        dist.destroy_process_group()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(path))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def save_json(path: Path, value: Any) -> None:
    Path(path).write_text(json.dumps(value, sort_keys=True))


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())
