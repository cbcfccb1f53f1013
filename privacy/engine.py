"""Training stages: one optimiser step at a time, with or without DP-SGD (Opacus).

The contract with the trainer (synthshare/train) is `TrainingStage`: the trainer owns the model,
the loss and the schedule; a stage owns batch sampling over SUBJECT indices, back-propagation,
(under DP) per-sample clipping and noise, and the optimiser step. The privacy unit is the subject:
the dataset is indexed by subject and a batch never holds two examples of one subject.

Step of a private stage, written out:
  1. draw a Poisson batch of subjects (q = expected_batch_size / n_subjects); it may be empty;
  2. per_sample_loss(module, batch) -> one loss per example; mean; backward (per-sample grads);
  3. clip each example's gradient to C, sum, add N(0, sigma^2 C^2), divide by expected_batch_size;
  4. optimiser step; steps_taken += 1; the ledger (if given) records the step.
An empty batch skips 2 and still does 3-4: a noise-only step that the accountant counts, because
the analysis counts every draw (skipping it would leak that the batch was empty).

Several ranks (torchrun, `shard`): every rank draws the same batch from the same seeded sampler
and computes its shard batch[rank::world]; gradients are summed over ranks (plain: the summed
loss / batch size; private: the clipped sums, then one noise draw, privacy/ddp_optimizers.py),
so each step is the single-process step. With one rank nothing of this runs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch.utils.data import default_collate

from privacy.conv_weight_grads import (
    inputs_requiring_grad,
    summed_conv_weight_grads_skipped,
)
from privacy.distributed import (
    SINGLE,
    Shard,
    all_reduce_grads_,
    all_reduce_sum_,
    broadcast_parameters_,
    same_on_all_ranks,
)
from privacy.errors import PrivacyConfigError, PrivacyError, UnsupportedModuleError
from privacy.ledger import PrivacyLedger
from privacy.modes import Mode, choose_mode
from privacy.sampling import PoissonSubjectSampler, UniformSubjectSampler

log = logging.getLogger(__name__)

PerSampleLoss = Callable[[torch.nn.Module, Any], torch.Tensor]


@runtime_checkable
class TrainingStage(Protocol):
    module: torch.nn.Module
    steps_taken: int

    def next_batch(self) -> Any: ...

    def step(self, per_sample_loss: PerSampleLoss) -> float: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _Stage:
    """Shared parts: subject sampling, collation, steps_taken, resumable RNG state."""

    kind = "base"

    def __init__(self, *, module: torch.nn.Module, optimizer: torch.optim.Optimizer, dataset: Sequence[Any],
                 sampler: PoissonSubjectSampler | UniformSubjectSampler, collate: Callable[[list[Any]], Any],
                 shard: Shard = SINGLE) -> None:
        self.module = module
        self.optimizer = optimizer
        self.dataset = dataset
        self.sampler = sampler
        self.collate = collate
        self.steps_taken = 0
        self.shard = shard
        self.last_indices: list[int] = []  # this rank's subjects of the last batch
        self.batch_size_drawn = 0  # subjects in the last batch over all ranks

    def next_batch(self) -> Any:
        """Draw the next batch (this rank's subject indices are kept in ``last_indices``); None when empty.
        `step` calls this itself: call it directly only to inspect sampling, never inside a training loop."""
        drawn = self.sampler.sample()
        self.batch_size_drawn = len(drawn)
        self.last_indices = self.shard.take(drawn) if self.shard.distributed else drawn
        if not self.last_indices:
            return None
        return self.collate([self.dataset[i] for i in self.last_indices])

    def _losses(self, per_sample_loss: PerSampleLoss, batch: Any) -> torch.Tensor:
        losses = per_sample_loss(self.module, batch)
        n = len(self.last_indices)
        if not isinstance(losses, torch.Tensor) or losses.dim() != 1 or losses.shape[0] != n:
            shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
            raise PrivacyError(f"per_sample_loss returned {shape} for a batch of {n} subjects; it must return a 1-D "
                               "tensor with one loss per example (e.g. loss.flatten(1).mean(1))")
        return losses

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "steps_taken": self.steps_taken,
                "sampler_rng": self.sampler.generator.get_state(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise PrivacyConfigError(f"cannot resume a {self.kind!r} stage from a {state.get('kind')!r} checkpoint: "
                                     "DP was switched on or off between runs; start this stage from scratch")
        self.steps_taken = int(state["steps_taken"])
        self.sampler.generator.set_state(state["sampler_rng"])
        self.optimizer.load_state_dict(state["optimizer"])


class PlainStage(_Stage):
    """No DP: uniform batches of distinct subjects, mean loss, ordinary optimiser step."""

    kind = "plain"

    def step(self, per_sample_loss: PerSampleLoss) -> float:
        batch = self.next_batch()
        self.optimizer.zero_grad(set_to_none=True)
        if self.shard.distributed:
            return self._step_over_ranks(per_sample_loss, batch)
        losses = self._losses(per_sample_loss, batch)
        loss = losses.mean()
        loss.backward()
        self.optimizer.step()
        self.steps_taken += 1
        return float(loss.detach())

    def _step_over_ranks(self, per_sample_loss: PerSampleLoss, batch: Any) -> float:
        # sum of this shard's losses / the WHOLE batch size, gradients summed over ranks: the batch mean
        # whatever the shard sizes (DDP's average of per-rank means is that only for equal shards)
        total = torch.zeros(2, dtype=torch.float64)  # (sum of losses, examples) over ranks, for the log
        if batch is not None:
            losses = self._losses(per_sample_loss, batch)
            (losses.sum() / self.batch_size_drawn).backward()
            total += torch.tensor([float(losses.detach().sum()), float(losses.shape[0])], dtype=torch.float64)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        all_reduce_grads_(params)
        all_reduce_sum_([total])
        self.optimizer.step()
        self.steps_taken += 1
        return float(total[0] / total[1])


class PrivateStage(_Stage):
    """DP-SGD over subjects with Opacus (see the module docstring for the step)."""

    kind = "private"

    def __init__(self, *, module: torch.nn.Module, optimizer: Any, dataset: Sequence[Any],
                 sampler: PoissonSubjectSampler, collate: Callable[[list[Any]], Any], noise_multiplier: float,
                 max_grad_norm: float, expected_batch_size: int, mode: Mode, noise_generator: torch.Generator,
                 ledger: PrivacyLedger | None, stage_name: str, shard: Shard = SINGLE) -> None:
        super().__init__(module=module, optimizer=optimizer, dataset=dataset, sampler=sampler, collate=collate, shard=shard)
        self.noise_multiplier = noise_multiplier
        self.max_grad_norm = max_grad_norm
        self.expected_batch_size = expected_batch_size
        self.sample_rate = sampler.sample_rate
        self.mode = mode
        self.noise_generator = noise_generator
        self.ledger = ledger
        self.stage_name = stage_name

    def step(self, per_sample_loss: PerSampleLoss) -> float:
        # 1. Poisson batch over subjects (possibly empty)
        batch = self.next_batch()
        self.optimizer.zero_grad(set_to_none=True)  # also drops grad_sample / summed_grad
        params = self.optimizer.params
        if batch is None:
            # 2'. empty batch: zero clipped sum, so the step below adds noise only
            for p in params:
                if self.mode == "ghost":
                    p.grad = torch.zeros_like(p)
                else:
                    p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)
            mean_loss = math.nan
        else:
            # 2. per-example losses -> per-sample gradients (hooks/functorch) or norms (ghost);
            #    hooks: convolutions skip their unused summed weight gradient (privacy.conv_weight_grads)
            skip = self.mode == "hooks"
            if skip:
                batch = inputs_requiring_grad(batch)
            with summed_conv_weight_grads_skipped(self.module) if skip else contextlib.nullcontext():
                losses = self._losses(per_sample_loss, batch)
                with warnings.catch_warnings():
                    # Opacus' hooks fire on module outputs when inputs need no grad: expected, not a problem.
                    warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
                    if self.mode == "ghost":
                        from opacus.utils.fast_gradient_clipping_utils import (
                            DPTensorFastGradientClipping,
                        )

                        DPTensorFastGradientClipping(self.module, self.optimizer, losses, "mean").backward()
                    else:
                        losses.mean().backward()
            mean_loss = float(losses.detach().mean())
        if self.shard.distributed:
            mean_loss = self._mean_over_ranks(losses.detach() if batch is not None else None)
        # 3-4. clip, (sum over ranks,) noise, scale by expected batch size, step (inside DPOptimizer.step)
        self.optimizer.step()
        self.steps_taken += 1
        if self.ledger is not None:
            self.ledger.record_steps(stage=self.stage_name, noise_multiplier=self.noise_multiplier,
                                     sample_rate=self.sample_rate, steps=1, max_grad_norm=self.max_grad_norm)
        return mean_loss

    @staticmethod
    def _mean_over_ranks(losses: torch.Tensor | None) -> float:
        total = torch.zeros(2, dtype=torch.float64)
        if losses is not None:
            total += torch.tensor([float(losses.sum()), float(losses.shape[0])], dtype=torch.float64)
        all_reduce_sum_([total])
        return float(total[0] / total[1]) if total[1] > 0 else math.nan

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "noise_rng": self.noise_generator.get_state(), "mode": self.mode,
                "noise_multiplier": self.noise_multiplier, "max_grad_norm": self.max_grad_norm,
                "sample_rate": self.sample_rate}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") == self.kind:
            saved = (state["noise_multiplier"], state["max_grad_norm"], state["sample_rate"])
            now = (self.noise_multiplier, self.max_grad_norm, self.sample_rate)
            if any(not math.isclose(a, b, rel_tol=1e-12) for a, b in zip(saved, now)):
                raise PrivacyConfigError(f"stage {self.stage_name!r}: the checkpoint was trained with (sigma, C, q) = "
                                         f"{saved} but this run asks for {now}; resume with the same privacy plan "
                                         "or start the stage from scratch")
        super().load_state_dict(state)
        self.noise_generator.set_state(state["noise_rng"])


def plain_stage(*, module: torch.nn.Module, optimizer: torch.optim.Optimizer, dataset: Sequence[Any],
                batch_size: int, generator: torch.Generator,
                collate: Callable[[list[Any]], Any] = default_collate, shard: Shard = SINGLE) -> PlainStage:
    """No DP: uniform random batches of `batch_size` distinct subjects.

    With `shard` (several ranks), `generator` must be seeded alike on every rank: all ranks draw the
    same batch and each computes its shard; the weights are broadcast from rank 0 first.
    """
    sampler = UniformSubjectSampler(n_subjects=len(dataset), batch_size=batch_size, generator=generator)
    if shard.distributed:
        broadcast_parameters_(module)
    return PlainStage(module=module, optimizer=optimizer, dataset=dataset, sampler=sampler, collate=collate, shard=shard)


def private_stage(*, module: torch.nn.Module, optimizer: torch.optim.Optimizer, dataset: Sequence[Any],
                  expected_batch_size: int, noise_multiplier: float, max_grad_norm: float,
                  generator: torch.Generator, mode: Literal["hooks", "functorch", "ghost", "auto"] = "hooks",
                  ledger: PrivacyLedger | None = None, stage_name: str = "stage",
                  collate: Callable[[list[Any]], Any] = default_collate, shard: Shard = SINGLE) -> PrivateStage:
    """DP-SGD stage. `optimizer` must be built over `module.parameters()`; the stage wraps both.

    Sampling and noise draw from `generator` (the noise from a child generator seeded from it, on the
    parameters' device). With `ledger`, every step taken is recorded as one step of `stage_name`.
    With `shard` (several ranks), `generator` must be seeded alike on every rank (checked): every
    rank draws the same batch and the same noise; see privacy/ddp_optimizers.py.
    """
    n = len(dataset)
    if expected_batch_size < 1 or expected_batch_size > n:
        raise PrivacyConfigError(f"expected_batch_size={expected_batch_size} must be between 1 and the number of "
                                 f"training subjects ({n}); lower the batch size in the config")
    if not (noise_multiplier >= 0.0) or not (max_grad_norm > 0.0):
        raise PrivacyConfigError(f"noise_multiplier={noise_multiplier} must be >= 0 and max_grad_norm={max_grad_norm} > 0")
    if noise_multiplier == 0.0:
        log.warning("noise_multiplier=0: per-sample clipping without noise gives NO privacy guarantee (tests only)")
        if ledger is not None:
            raise PrivacyConfigError(f"stage {stage_name!r}: noise_multiplier=0 cannot be recorded in a privacy ledger")
    validate_module(module=module)
    resolved: Mode = choose_mode(module=module, expected_batch_size=expected_batch_size) if mode == "auto" else mode
    device = next(module.parameters()).device
    noise_generator = torch.Generator(device=device)
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    noise_generator.manual_seed(noise_seed)
    if shard.distributed:
        if not same_on_all_ranks(noise_seed):
            raise PrivacyConfigError(f"stage {stage_name!r}: the ranks' sampling generators differ; seed `generator` "
                                     "alike on every rank (all ranks must draw the same batch and the same noise)")
        broadcast_parameters_(module)
    wrapped, dp_optimizer = _wrap(module=module, optimizer=optimizer, mode=resolved, noise_multiplier=noise_multiplier,
                                  max_grad_norm=max_grad_norm, expected_batch_size=expected_batch_size,
                                  noise_generator=noise_generator, distributed=shard.distributed)
    sampler = PoissonSubjectSampler(n_subjects=n, sample_rate=expected_batch_size / n, generator=generator)
    log.info("private stage %s: mode=%s sigma=%.4g C=%.4g q=%.4g", stage_name, resolved, noise_multiplier,
             max_grad_norm, sampler.sample_rate)
    return PrivateStage(module=wrapped, optimizer=dp_optimizer, dataset=dataset, sampler=sampler, collate=collate,
                        noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                        expected_batch_size=expected_batch_size, mode=resolved, noise_generator=noise_generator,
                        ledger=ledger, stage_name=stage_name, shard=shard)


def validate_module(*, module: torch.nn.Module) -> None:
    """Raise UnsupportedModuleError listing EVERY layer Opacus cannot train privately."""
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(module, strict=False)
    if errors:
        raise UnsupportedModuleError(
            f"{type(module).__name__} cannot be trained with DP-SGD ({len(errors)} problem(s)); replace BatchNorm "
            "with GroupNorm, avoid in-place activations and frozen-statistics layers:",
            [str(e) for e in errors])


def _wrap(*, module: torch.nn.Module, optimizer: torch.optim.Optimizer, mode: Mode, noise_multiplier: float,
          max_grad_norm: float, expected_batch_size: int, noise_generator: torch.Generator,
          distributed: bool = False) -> tuple[Any, Any]:
    from opacus import GradSampleModule, GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizer, DPOptimizerFastGradientClipping

    import privacy.grad_samplers  # noqa: F401  (registers the grouped-convolution sampler)

    if distributed:  # the same optimisers, summing the clipped gradients over ranks before the noise
        from privacy.ddp_optimizers import RankSumDPOptimizer as DPOptimizer  # type: ignore[assignment]
        from privacy.ddp_optimizers import (
            RankSumDPOptimizerFastGradientClipping as DPOptimizerFastGradientClipping,  # type: ignore[assignment]
        )

    common = {"noise_multiplier": noise_multiplier, "max_grad_norm": max_grad_norm,
              "expected_batch_size": expected_batch_size, "loss_reduction": "mean", "generator": noise_generator}
    if mode == "ghost":
        wrapped = GradSampleModuleFastGradientClipping(module, batch_first=True, loss_reduction="mean", strict=False,
                                                       max_grad_norm=max_grad_norm, use_ghost_clipping=True)
        return wrapped, DPOptimizerFastGradientClipping(optimizer, **common)
    if mode in ("hooks", "functorch"):
        wrapped = GradSampleModule(module, batch_first=True, loss_reduction="mean", strict=False,
                                   force_functorch=(mode == "functorch"))
        return wrapped, DPOptimizer(optimizer, **common)
    raise PrivacyConfigError(f"clip mode {mode!r} is not one of hooks, functorch, ghost, auto")


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside GradSampleModule / DDP / DPDDP wrappers (what to save as weights)."""
    from opacus.grad_sample import AbstractGradSampleModule

    while True:
        if isinstance(module, AbstractGradSampleModule):
            module = module._module
        elif isinstance(module, torch.nn.parallel.DistributedDataParallel):
            module = module.module
        else:
            return module
