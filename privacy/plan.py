"""Budget planning: split a total (epsilon, delta) across stages and find each stage's noise.

1. Each stage gets a target epsilon = total x its weight / sum of weights.
2. Per stage, bisection on sigma (log scale) for its (q, steps) until that stage alone spends its
   target (taking the sigma on the safe side: stage epsilon <= target).
3. The stages are composed in RDP (less than the sum of their epsilons); if the composed total
   is still above the budget, every sigma is inflated by 0.5% until it is not.
The statistics release ("stats") is a Gaussian mechanism: q = 1, one step per release.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from privacy.accountant import epsilon_from_rdp, rdp_curve
from privacy.errors import PrivacyConfigError
from privacy.ledger import PrivacyLedger
from privacy.statistics import SENSITIVITY as STATS_SENSITIVITY

STATS = "stats"
_SIGMA_LO, _SIGMA_HI = 0.05, 1.0e4


@dataclass(frozen=True)
class StageSpec:
    sample_rate: float
    steps: int
    max_grad_norm: float


@dataclass(frozen=True)
class StagePlan:
    name: str
    mechanism: str  # "sgm" (DP-SGD) or "gaussian" (statistics release)
    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    target_epsilon: float
    epsilon: float  # this stage alone, at the plan's delta


@dataclass(frozen=True)
class BudgetPlan:
    epsilon_budget: float
    delta: float
    stages: tuple[StagePlan, ...]
    epsilon: float  # composed over all stages (<= epsilon_budget)
    sigma_inflation: float  # 1.0 unless step 3 had to inflate

    def stage(self, name: str) -> StagePlan:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"epsilon_budget": self.epsilon_budget, "delta": self.delta, "epsilon": self.epsilon,
                "sigma_inflation": self.sigma_inflation, "unit": "subject", "accountant": "rdp",
                "stages": {s.name: {k: v for k, v in asdict(s).items() if k != "name"} for s in self.stages}}

    def expected_ledger(self) -> PrivacyLedger:
        """The ledger a run that follows this plan to the end will hold."""
        ledger = PrivacyLedger(delta=self.delta)
        for s in self.stages:
            if s.mechanism == "gaussian":
                for _ in range(s.steps):
                    ledger.record_gaussian(stage=s.name, noise_multiplier=s.noise_multiplier, sensitivity=s.max_grad_norm)
            else:
                ledger.record_steps(stage=s.name, noise_multiplier=s.noise_multiplier, sample_rate=s.sample_rate,
                                    steps=s.steps, max_grad_norm=s.max_grad_norm)
        return ledger

    def to_table(self) -> Any:
        """A rich Table (rendered by the CLI)."""
        from rich.table import Table

        table = Table(title=f"DP budget plan: epsilon <= {self.epsilon_budget:g}, delta = {self.delta:.1e} (per subject)")
        for col in ("stage", "sigma", "q", "steps", "C", "target eps", "eps (alone)"):
            table.add_column(col, justify="left" if col == "stage" else "right")
        for s in self.stages:
            table.add_row(s.name, f"{s.noise_multiplier:.4f}", f"{s.sample_rate:.4g}", str(s.steps),
                          f"{s.max_grad_norm:g}", f"{s.target_epsilon:.4f}", f"{s.epsilon:.4f}")
        table.add_row("[bold]total (RDP-composed)[/bold]", "", "", "", "", f"{self.epsilon_budget:.4f}",
                      f"[bold]{self.epsilon:.4f}[/bold]")
        return table


def default_delta(n_subjects: int) -> float:
    """1/(10 n) rounded DOWN to a power of ten: always < 1/n by at least 10x (n=60 -> 1e-3, n=100 -> 1e-3)."""
    if n_subjects < 1:
        raise PrivacyConfigError(f"n_subjects={n_subjects}: a cohort needs at least one subject")
    return 10.0 ** math.floor(math.log10(1.0 / (10.0 * n_subjects)))


def check_delta_for_cohort(*, delta: float, n_subjects: int) -> None:
    if delta >= 1.0 / n_subjects:
        raise PrivacyConfigError(
            f"delta={delta:g} is not below 1/n_subjects = 1/{n_subjects} = {1.0 / n_subjects:.3g}: a mechanism that "
            f"publishes one whole subject with probability delta would satisfy it. Use delta <= "
            f"{default_delta(n_subjects):g} (or leave delta unset for that default)")


def sigma_for_epsilon(*, epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """Smallest sigma (to bisection precision) with epsilon(sigma; q, steps, delta) <= epsilon."""
    def eps(sigma: float) -> float:
        return epsilon_from_rdp(rdp=rdp_curve(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps), delta=delta)

    if eps(_SIGMA_HI) > epsilon:
        raise PrivacyConfigError(f"epsilon={epsilon:g} is unreachable for q={sample_rate:g} over {steps} steps even with "
                                 f"sigma={_SIGMA_HI:g}; raise the budget, its weight, or lower steps/batch size")
    if eps(_SIGMA_LO) <= epsilon:
        return _SIGMA_LO
    lo, hi = math.log(_SIGMA_LO), math.log(_SIGMA_HI)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if eps(math.exp(mid)) > epsilon:
            lo = mid
        else:
            hi = mid
    return math.exp(hi)


def plan_budget(*, epsilon: float, delta: float, stages: dict[str, StageSpec], weights: dict[str, float],
                stats_releases: int = 1, stats_sensitivity: float = STATS_SENSITIVITY) -> BudgetPlan:
    """Noise multipliers for every stage (and `stats_releases` Gaussian releases) within (epsilon, delta)."""
    if not (epsilon > 0) or math.isinf(epsilon):
        raise PrivacyConfigError(f"epsilon={epsilon} must be a positive finite number")
    if not (0 < delta < 1):
        raise PrivacyConfigError(f"delta={delta} must be in (0, 1)")
    names = list(stages) + ([STATS] if stats_releases > 0 else [])
    problems = [f"{n}: no weight (add privacy.weights.{n})" for n in names if n not in weights]
    problems += [f"{n}: weight {weights[n]} must be positive" for n in names if n in weights and not weights[n] > 0]
    for n, s in stages.items():
        if not (0 < s.sample_rate <= 1):
            problems.append(f"{n}: sample_rate={s.sample_rate:g} not in (0, 1] (batch size larger than the train set?)")
        if s.steps < 1 or s.max_grad_norm <= 0:
            problems.append(f"{n}: steps={s.steps} and max_grad_norm={s.max_grad_norm} must be positive")
    if problems:
        raise PrivacyConfigError("cannot plan the privacy budget:\n" + "\n".join(f"  - {p}" for p in problems))
    total_w = sum(weights[n] for n in names)
    specs = {**stages, **({STATS: StageSpec(1.0, stats_releases, stats_sensitivity)} if stats_releases > 0 else {})}
    targets = {n: epsilon * weights[n] / total_w for n in names}
    sigmas = {n: sigma_for_epsilon(epsilon=targets[n], delta=delta, sample_rate=specs[n].sample_rate,
                                   steps=specs[n].steps) for n in names}

    def composed(scale: float) -> float:
        rdp = sum((rdp_curve(noise_multiplier=sigmas[n] * scale, sample_rate=specs[n].sample_rate,
                             steps=specs[n].steps) for n in names), np.zeros(1))
        return epsilon_from_rdp(rdp=rdp, delta=delta)

    scale = 1.0
    while composed(scale) > epsilon:
        scale *= 1.005
    plans = tuple(
        StagePlan(name=n, mechanism="gaussian" if n == STATS else "sgm", noise_multiplier=sigmas[n] * scale,
                  sample_rate=specs[n].sample_rate, steps=specs[n].steps, max_grad_norm=specs[n].max_grad_norm,
                  target_epsilon=targets[n],
                  epsilon=epsilon_from_rdp(rdp=rdp_curve(noise_multiplier=sigmas[n] * scale,
                                                         sample_rate=specs[n].sample_rate, steps=specs[n].steps),
                                           delta=delta))
        for n in names)
    return BudgetPlan(epsilon_budget=epsilon, delta=delta, stages=plans, epsilon=composed(scale), sigma_inflation=scale)
