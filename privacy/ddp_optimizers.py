"""DP-SGD over several ranks with the mechanism of one process (DESIGN.md "Scale").

Every rank draws the SAME Poisson batch and takes its shard of it; then, per step:
  1. each rank clips its examples' gradients to C and sums them (Opacus' clip_and_accumulate);
  2. the clipped sums are summed over ranks (one all_reduce): the clipped sum of the whole batch;
  3. N(0, sigma^2 C^2) is added ONCE: every rank draws the same noise from the same seeded generator;
  4. divided by the expected batch size of the whole batch; optimiser step (identical on every rank).
So the released update is exactly that of the single-process stage, and the accountant counts
each step once (every rank's ledger records the same step; only rank 0 writes it).

Implemented here, inside our engine, rather than with Opacus' DPDDP + DistributedDPOptimizer.
Opacus adds the noise on rank 0 only, scales each rank's sum by a per-rank expected batch size,
all-reduces and divides by the world size: the same mechanism, but (a) it needs the per-rank
expected batch size B / w, which is not an integer for an odd B on 2 ranks, and (b) its noise
enters before the all-reduce. We reduce first and then let every rank draw the noise: the noise
generator of a private stage is seeded from the sampler generator all ranks share (private_stage
checks that the seeds agree), so all ranks draw the identical tensor, no second collective is
needed, and the noise stream is the single-process one, which makes a DP-DDP step testable
against a single-process step WITH noise. Opacus' DPDDP wrapper only broadcasts the initial
weights; `privacy.distributed.broadcast_parameters_` does that.
"""

from __future__ import annotations

from typing import Any

from opacus.optimizers import DPOptimizer, DPOptimizerFastGradientClipping

from privacy.distributed import all_reduce_sum_


class _SumOverRanksBeforeNoise:
    params: list[Any]

    def add_noise(self) -> None:
        # the clipped sums of every rank's shard -> the clipped sum of the whole batch, then ONE noise draw
        all_reduce_sum_([p.summed_grad for p in self.params])
        super().add_noise()  # type: ignore[misc]


class RankSumDPOptimizer(_SumOverRanksBeforeNoise, DPOptimizer):
    """DPOptimizer (hooks / functorch modes) whose clipped sum is the sum over all ranks."""


class RankSumDPOptimizerFastGradientClipping(_SumOverRanksBeforeNoise, DPOptimizerFastGradientClipping):
    """DPOptimizerFastGradientClipping (ghost mode) whose clipped sum is the sum over all ranks."""
