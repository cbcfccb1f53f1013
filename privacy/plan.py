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
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from privacy.accountant import DEFAULT_ORDERS, epsilon_from_rdp, rdp_curve
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
        table.add_row("[bold]total (RDP)[/bold]", "", "", "", "", f"{self.epsilon_budget:.4f}",
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


_INT_ORDERS = tuple(a for a in DEFAULT_ORDERS if float(a).is_integer())


def _epsilon(sigma: float, *, sample_rate: float, steps: int, delta: float, orders: tuple[float, ...]) -> float:
    with warnings.catch_warnings():  # extreme trial sigmas hit the ends of the order range: harmless here
        warnings.simplefilter("ignore", UserWarning)
        rdp = rdp_curve(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps, orders=orders)
        return epsilon_from_rdp(rdp=rdp, delta=delta, orders=orders)


def sigma_for_epsilon(*, epsilon: float, delta: float, sample_rate: float, steps: int, rel_tol: float = 2e-3) -> float:
    """The sigma at which (q, steps, delta) spends `epsilon`, from the safe side: epsilon(sigma) in
    [epsilon / (1 + rel_tol)^2, epsilon] (or the bracket narrower than rel_tol).

    1. bracket with the integer orders only (cheap; their epsilon is an upper bound of the full one);
    2. regula falsi (Illinois) on log epsilon vs log sigma with Opacus' full order set: ~4 calls.
    """
    kw = {"sample_rate": sample_rate, "steps": steps, "delta": delta}
    # 1. coarse bracket [lo, hi] with epsilon(lo) > target >= epsilon(hi)
    hi = 1.0
    while _epsilon(hi, orders=_INT_ORDERS, **kw) > epsilon:
        hi *= 2.0
        if hi > _SIGMA_HI:
            raise PrivacyConfigError(f"epsilon={epsilon:g} is unreachable for q={sample_rate:g} over {steps} steps "
                                     f"even with sigma={_SIGMA_HI:g}; raise the budget or its weight, or lower "
                                     "the steps or the batch size")
    while hi / 2.0 >= _SIGMA_LO and _epsilon(hi / 2.0, orders=_INT_ORDERS, **kw) <= epsilon:
        hi /= 2.0
    lo = hi / 1.25
    while _epsilon(lo, orders=DEFAULT_ORDERS, **kw) <= epsilon:
        hi, lo = lo, lo / 1.25
        if lo < _SIGMA_LO:
            return hi
    # 2. Illinois on g(x) = log eps(e^x) - log target, keeping g(lo) > 0 >= g(hi)
    def g(sigma: float) -> float:
        return math.log(_epsilon(sigma, orders=DEFAULT_ORDERS, **kw)) - math.log(epsilon)

    x_lo, x_hi, g_lo, g_hi = math.log(lo), math.log(hi), g(lo), g(hi)
    gap = -g_hi  # true log(target / eps(hi)); g_hi itself is halved by Illinois
    side = 0
    while x_hi - x_lo > rel_tol and gap > rel_tol:
        x = x_hi - g_hi * (x_hi - x_lo) / (g_hi - g_lo)
        x = min(max(x, x_lo + 0.01 * (x_hi - x_lo)), x_hi - 0.01 * (x_hi - x_lo))
        gx = g(math.exp(x))
        if gx > 0:
            x_lo, g_lo = x, gx
            if side == -1:
                g_hi /= 2.0
            side = -1
        else:
            x_hi, g_hi, gap = x, gx, -gx
            if side == 1:
                g_lo /= 2.0
            side = 1
    return math.exp(x_hi)


def plan_budget(*, epsilon: float, delta: float, stages: dict[str, StageSpec], weights: dict[str, float],
                stats_releases: int = 1, stats_sensitivity: float = STATS_SENSITIVITY, fill: bool = False) -> BudgetPlan:
    """Noise multipliers for every stage (and `stats_releases` Gaussian releases) within (epsilon, delta).

    RDP composition makes the composed total smaller than the sum of the stage targets (often by a
    third). With `fill`, every sigma is then scaled down by one common factor until the composed
    total reaches the budget (within 0.5%), keeping the stages' relative noise; stage epsilons then
    exceed their nominal shares, the total does not exceed the budget.
    """
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

    def curves(scale: float) -> dict[str, np.ndarray]:
        return {n: rdp_curve(noise_multiplier=sigmas[n] * scale, sample_rate=specs[n].sample_rate, steps=specs[n].steps)
                for n in names}

    def composed(r: dict[str, np.ndarray]) -> float:
        return epsilon_from_rdp(rdp=sum(r.values()), delta=delta)

    scale, rdp = 1.0, curves(1.0)
    while composed(rdp) > epsilon:
        scale *= 1.005
        rdp = curves(scale)
    if fill and composed(rdp) < epsilon / 1.005:
        lo, hi = scale / 2.0, scale  # epsilon(hi) <= budget; find lo with epsilon(lo) above it
        while composed(curves(lo)) <= epsilon:
            hi, lo = lo, lo / 2.0
        hi_rdp = curves(hi)
        while composed(hi_rdp) < epsilon / 1.005 and hi / lo > 1.001:
            mid = math.sqrt(lo * hi)
            mid_rdp = curves(mid)
            if composed(mid_rdp) > epsilon:
                lo = mid
            else:
                hi, hi_rdp = mid, mid_rdp
        scale, rdp = hi, hi_rdp
    plans = tuple(
        StagePlan(name=n, mechanism="gaussian" if n == STATS else "sgm", noise_multiplier=sigmas[n] * scale,
                  sample_rate=specs[n].sample_rate, steps=specs[n].steps, max_grad_norm=specs[n].max_grad_norm,
                  target_epsilon=targets[n], epsilon=epsilon_from_rdp(rdp=rdp[n], delta=delta))
        for n in names)
    total = epsilon_from_rdp(rdp=sum(rdp.values()), delta=delta)
    return BudgetPlan(epsilon_budget=epsilon, delta=delta, stages=plans, epsilon=total, sigma_inflation=scale)
