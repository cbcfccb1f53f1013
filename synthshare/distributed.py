"""A CLI command under torchrun: join the process group, quiet every rank but 0, leave cleanly.

`torchrun --nproc_per_node N -m synthshare train ...` (or `sample`) runs the command N times;
the collectives and the rank-0-only writes live in privacy/distributed.py, privacy/engine.py,
synthshare/train/loop.py and synthshare/sample/sampler.py. Without torchrun this is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from privacy.distributed import SINGLE, Shard, init_from_env, teardown, torchrun_env

log = logging.getLogger(__name__)


@contextmanager
def torchrun_session() -> Iterator[Shard]:
    """The Shard of this process (SINGLE without torchrun). Ranks > 0 log errors only."""
    if torchrun_env() is None:
        yield SINGLE
        return
    shard = init_from_env()
    if not shard.main:
        logging.getLogger().setLevel(logging.ERROR)
    try:
        yield shard
    except BaseException:
        # no final barrier: the other ranks may be blocked in a collective this rank will never join;
        # exiting non-zero makes torchrun stop them
        import torch.distributed as dist

        dist.destroy_process_group()
        raise
    teardown()
