"""One torch thread for the privacy tests: on a shared 2-core machine OpenMP spin-waiting makes
multi-threaded steps of tiny models 10x slower, and the figures here do not need threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
