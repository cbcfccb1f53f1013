"""synthshare.parallel: pieces come back in order, on one thread, and an error in a worker reaches the caller."""

from __future__ import annotations

import operator

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
