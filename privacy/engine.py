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
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from typing import Any, Callable, Literal, Protocol, Sequence, runtime_checkable

import torch
from torch.utils.data import default_collate

from privacy.conv_weight_grads import inputs_requiring_grad, summed_conv_weight_grads_skipped
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
                 sampler: PoissonSubjectSampler | UniformSubjectSampler, collate: Callable[[list[Any]], Any]) -> None:
        self.module = module
        self.optimizer = optimizer
        self.dataset = dataset
        self.sampler = sampler
        self.collate = collate
        self.steps_taken = 0
        self.last_indices: list[int] = []

    def next_batch(self) -> Any:
        """Draw the next batch (the subject indices are kept in ``last_indices``); None when empty.
        `step` calls this itself: call it directly only to inspect sampling, never inside a training loop."""
        self.last_indices = self.sampler.sample()
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
        losses = self._losses(per_sample_loss, batch)
        loss = losses.mean()
        loss.backward()
        self.optimizer.step()
        self.steps_taken += 1
        return float(loss.detach())


class PrivateStage(_Stage):
    """DP-SGD over subjects with Opacus (see the module docstring for the step)."""

    kind = "private"

    def __init__(self, *, module: torch.nn.Module, optimizer: Any, dataset: Sequence[Any],
                 sampler: PoissonSubjectSampler, collate: Callable[[list[Any]], Any], noise_multiplier: float,
                 max_grad_norm: float, expected_batch_size: int, mode: Mode, noise_generator: torch.Generator,
                 ledger: PrivacyLedger | None, stage_name: str) -> None:
        super().__init__(module=module, optimizer=optimizer, dataset=dataset, sampler=sampler, collate=collate)
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
                        from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping

                        DPTensorFastGradientClipping(self.module, self.optimizer, losses, "mean").backward()
                    else:
                        losses.mean().backward()
            mean_loss = float(losses.detach().mean())
        # 3-4. clip, noise, scale by expected batch size, step (inside DPOptimizer.step)
        self.optimizer.step()
        self.steps_taken += 1
        if self.ledger is not None:
            self.ledger.record_steps(stage=self.stage_name, noise_multiplier=self.noise_multiplier,
                                     sample_rate=self.sample_rate, steps=1, max_grad_norm=self.max_grad_norm)
        return mean_loss

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
                collate: Callable[[list[Any]], Any] = default_collate) -> PlainStage:
    """No DP: uniform random batches of `batch_size` distinct subjects."""
    sampler = UniformSubjectSampler(n_subjects=len(dataset), batch_size=batch_size, generator=generator)
    return PlainStage(module=module, optimizer=optimizer, dataset=dataset, sampler=sampler, collate=collate)


def private_stage(*, module: torch.nn.Module, optimizer: torch.optim.Optimizer, dataset: Sequence[Any],
                  expected_batch_size: int, noise_multiplier: float, max_grad_norm: float,
                  generator: torch.Generator, mode: Literal["hooks", "functorch", "ghost", "auto"] = "hooks",
                  ledger: PrivacyLedger | None = None, stage_name: str = "stage",
                  collate: Callable[[list[Any]], Any] = default_collate) -> PrivateStage:
    """DP-SGD stage. `optimizer` must be built over `module.parameters()`; the stage wraps both.

    Sampling and noise draw from `generator` (the noise from a child generator seeded from it, on the
    parameters' device). With `ledger`, every step taken is recorded as one step of `stage_name`.
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
    noise_generator.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)))
    wrapped, dp_optimizer = _wrap(module=module, optimizer=optimizer, mode=resolved, noise_multiplier=noise_multiplier,
                                  max_grad_norm=max_grad_norm, expected_batch_size=expected_batch_size,
                                  noise_generator=noise_generator)
    sampler = PoissonSubjectSampler(n_subjects=n, sample_rate=expected_batch_size / n, generator=generator)
    log.info("private stage %s: mode=%s sigma=%.4g C=%.4g q=%.4g", stage_name, resolved, noise_multiplier,
             max_grad_norm, sampler.sample_rate)
    return PrivateStage(module=wrapped, optimizer=dp_optimizer, dataset=dataset, sampler=sampler, collate=collate,
                        noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                        expected_batch_size=expected_batch_size, mode=resolved, noise_generator=noise_generator,
                        ledger=ledger, stage_name=stage_name)


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
          max_grad_norm: float, expected_batch_size: int, noise_generator: torch.Generator) -> tuple[Any, Any]:
    from opacus import GradSampleModule, GradSampleModuleFastGradientClipping

    import privacy.grad_samplers  # noqa: F401  (registers the grouped-convolution sampler)
    from opacus.optimizers import DPOptimizer, DPOptimizerFastGradientClipping

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
