"""Several processes, one training run: torchrun detection, the process group, the collectives.

`torchrun --nproc_per_node N` starts N copies of a command with RANK, WORLD_SIZE and LOCAL_RANK
(plus MASTER_ADDR/MASTER_PORT) in the environment. `init_from_env` joins them into one process
group (gloo on CPU, nccl on CUDA, one GPU per local rank); `teardown` leaves it. Everything else
here reads the group if there is one and is a no-op otherwise, so single-process code calls the
same functions and runs exactly as before (no collective, no extra arithmetic).

A `Shard` is this process's view: rank r of a world of w owns the items r, r + w, r + 2w, ...
of any list every rank computed identically (a Poisson batch, the subjects to sample).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from privacy.errors import PrivacyConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Shard:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def take(self, items: Sequence[T]) -> list[T]:
        """This rank's share of a list every rank holds: items[rank::world]."""
        return list(items[self.rank :: self.world])


SINGLE = Shard()


def torchrun_env() -> Shard | None:
    """The Shard torchrun describes in the environment, or None when not started by torchrun (or N = 1)."""
    if "WORLD_SIZE" not in os.environ:
        return None
    try:
        world, rank = int(os.environ["WORLD_SIZE"]), int(os.environ.get("RANK", "-1"))
    except ValueError as err:
        raise PrivacyConfigError(f"WORLD_SIZE={os.environ.get('WORLD_SIZE')!r} / RANK={os.environ.get('RANK')!r} are not "
                                 "integers; start several processes with `torchrun --nproc_per_node N`") from err
    if world < 1 or not (0 <= rank < world):
        raise PrivacyConfigError(f"RANK={rank} is not in [0, WORLD_SIZE={world}); start with `torchrun --nproc_per_node N`")
    return None if world == 1 else Shard(rank=rank, world=world)


def init_from_env(*, backend: str | None = None) -> Shard:
    """Join the torchrun process group (no-op and SINGLE without torchrun). nccl with CUDA, else gloo."""
    shard = torchrun_env()
    if shard is None:
        return SINGLE
    if dist.is_initialized():
        return current_shard()
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        # one GPU per process: "cuda" then means this process's GPU everywhere (default_device())
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, rank=shard.rank, world_size=shard.world)
    log.info("process group: rank %d of %d (%s)", shard.rank, shard.world, backend)
    return shard


def teardown() -> None:
    """Leave the process group (after a last barrier, so no rank exits while another still sends)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def current_shard() -> Shard:
    if dist.is_available() and dist.is_initialized():
        return Shard(rank=dist.get_rank(), world=dist.get_world_size())
    return SINGLE


def is_main() -> bool:
    """True on rank 0 and in a single process: the one process that writes files and prints."""
    return current_shard().main


def barrier() -> None:
    if current_shard().distributed:
        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the body first (e.g. fills a cache), then the others (which find it filled)."""
    shard = current_shard()
    if shard.distributed and not shard.main:
        dist.barrier()
    yield
    if shard.distributed and shard.main:
        dist.barrier()


def _device_for_collectives(reference: torch.Tensor) -> torch.device:
    # gloo reduces CPU tensors; nccl needs them on this process's GPU
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_sum_(tensors: Sequence[torch.Tensor]) -> None:
    """Sum each tensor over all ranks, in place, with ONE collective (flattened into one buffer)."""
    if not current_shard().distributed or not tensors:
        return
    device = _device_for_collectives(tensors[0])
    flat = torch.cat([t.detach().reshape(-1).to(device=device, dtype=torch.float64 if t.dtype == torch.float64 else torch.float32)
                      for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t).to(device=t.device, dtype=t.dtype))
        offset += n


def all_reduce_grads_(params: Iterable[torch.nn.Parameter]) -> None:
    """p.grad <- sum over ranks of p.grad. A rank without a gradient for p (an empty shard)
    contributes zeros; p.grad stays None only where NO rank has one, as in one process."""
    params = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    present = torch.tensor([float(p.grad is not None) for p in params], device=params[0].device if params else "cpu")
    all_reduce_sum_([*grads, present])
    for p, g, has in zip(params, grads, present.tolist()):
        p.grad = g if has > 0 else None


def broadcast_parameters_(module: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights (they should already agree: same seed; this makes sure)."""
    if not current_shard().distributed:
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            buf = t.detach().to(_device_for_collectives(t)).clone(memory_format=torch.contiguous_format)  # any layout (models/device.py)
            dist.broadcast(buf, src=0)
            t.copy_(buf.to(t.device))


def same_on_all_ranks(value: int) -> bool:
    """True when every rank passed the same integer (min == max over ranks)."""
    if not current_shard().distributed:
        return True
    device = _device_for_collectives(torch.empty(0))
    lo = torch.tensor([value], dtype=torch.int64, device=device)
    hi = lo.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    return bool(lo.item() == hi.item())


def gather_to_main(value: Any) -> list[Any] | None:
    """[value of rank 0, value of rank 1, ...] on rank 0, None elsewhere; [value] in one process.

    Uses torch's object gather (pickle on the wire between the ranks of this one job, never a
    file). Only for small results: RNG states, sampled subjects.
    """
    shard = current_shard()
    if not shard.distributed:
        return [value]
    out: list[Any] | None = [None] * shard.world if shard.main else None
    dist.gather_object(value, out, dst=0)
    return out
