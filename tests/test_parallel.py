"""synthshare.parallel: pieces come back in order, on one thread, and an error in a worker reaches the caller."""

from __future__ import annotations

import multiprocessing
import operator
import os

import pytest
import torch

from synthshare.parallel import one_thread, run_pieces


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_the_items_order(workers: int) -> None:
    assert list(run_pieces(operator.mul, [3, 1, 2, 5], workers=workers, shared=10)) == [30, 10, 20, 50]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_a_piece_is_raised_here(workers: int) -> None:
    with pytest.raises(ZeroDivisionError):
        list(run_pieces(operator.truediv, [1, 0, 2], workers=workers, shared=1))


def test_one_thread_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def _die_on_zero(shared: int, item: int) -> int:
    if item == 0 and multiprocessing.parent_process() is not None:  # only in a worker: kill it outright
        os._exit(9)
    return shared + item


def test_a_dead_worker_hands_the_rest_to_this_process(caplog) -> None:
    with caplog.at_level("WARNING", logger="synthshare.parallel"):
        assert list(run_pieces(_die_on_zero, [1, 0, 2, 3], workers=2, shared=10)) == [11, 10, 12, 13]
    assert any("running the remaining" in r.getMessage() for r in caplog.records)
