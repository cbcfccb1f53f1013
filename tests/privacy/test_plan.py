"""Budget planning: sigma per stage reaches its target, the composed total stays within the budget."""

from __future__ import annotations

import pytest

from privacy import PrivacyConfigError, StageSpec, default_delta, plan_budget
from privacy.accountant import epsilon_from_rdp, rdp_curve
from privacy.plan import check_delta_for_cohort, sigma_for_epsilon


def _eps(sigma: float, q: float, steps: int, delta: float) -> float:
    return epsilon_from_rdp(rdp=rdp_curve(noise_multiplier=sigma, sample_rate=q, steps=steps), delta=delta)


@pytest.mark.parametrize("target, q, steps", [(2.0, 0.01, 1000), (8.0, 0.25, 200), (1.0, 1.0, 1)])
def test_sigma_reaches_target_within_1pct(target: float, q: float, steps: int) -> None:
    sigma = sigma_for_epsilon(epsilon=target, delta=1e-5, sample_rate=q, steps=steps)
    eps = _eps(sigma, q, steps, 1e-5)
    assert 0.99 * target <= eps <= target
    # negative control: 5% less noise overspends
    assert _eps(sigma * 0.95, q, steps, 1e-5) > target


def test_pinned_sigma() -> None:
    # the sigma that makes (q=0.01, 1000 steps, delta=1e-5) cost exactly the ledger's pinned 1.71177
    assert sigma_for_epsilon(epsilon=1.7117700912203435, delta=1e-5, sample_rate=0.01, steps=1000) == pytest.approx(1.1, rel=1e-3)


def test_plan_budget_splits_and_composes() -> None:
    stages = {"vae": StageSpec(0.05, 50, 1.0), "static": StageSpec(0.1, 80, 1.0), "motion": StageSpec(0.1, 80, 0.5)}
    weights = {"vae": 0.3, "static": 0.3, "motion": 0.3, "stats": 0.1}
    plan = plan_budget(epsilon=10.0, delta=1e-3, stages=stages, weights=weights)
    assert [s.name for s in plan.stages] == ["vae", "static", "motion", "stats"]
    for s in plan.stages:
        assert s.target_epsilon == pytest.approx(10.0 * weights[s.name])
        assert 0.99 * s.target_epsilon <= s.epsilon <= s.target_epsilon * 1.0000001
    assert plan.epsilon <= 10.0
    assert plan.expected_ledger().epsilon(delta=1e-3) == pytest.approx(plan.epsilon, rel=1e-9)
    assert plan.stage("stats").sample_rate == 1.0 and plan.stage("stats").steps == 1
    assert plan.stage("motion").max_grad_norm == 0.5
    d = plan.to_dict()
    assert set(d["stages"]) == {"vae", "static", "motion", "stats"} and d["unit"] == "subject"
    # negative control: a bigger budget needs less noise everywhere
    loose = plan_budget(epsilon=20.0, delta=1e-3, stages=stages, weights=weights)
    assert all(a.noise_multiplier < b.noise_multiplier for a, b in zip(loose.stages, plan.stages))


def test_plan_table_renders() -> None:
    from rich.console import Console

    plan = plan_budget(epsilon=5.0, delta=1e-4, stages={"vae": StageSpec(0.1, 10, 1.0)}, weights={"vae": 1.0, "stats": 1.0})
    console = Console(record=True, width=140)
    console.print(plan.to_table())
    text = console.export_text()
    assert "vae" in text and "stats" in text and "total" in text


def test_plan_problems_listed_at_once() -> None:
    with pytest.raises(PrivacyConfigError) as err:
        plan_budget(epsilon=1.0, delta=1e-5, stages={"vae": StageSpec(1.5, 10, 1.0), "static": StageSpec(0.1, 10, 1.0)},
                    weights={"vae": 1.0})
    msg = str(err.value)
    assert "static: no weight" in msg and "stats: no weight" in msg and "vae: sample_rate=1.5" in msg
    assert err.value.exit_code == 2


def test_unreachable_budget_raises() -> None:
    with pytest.raises(PrivacyConfigError, match="unreachable"):
        sigma_for_epsilon(epsilon=1e-6, delta=1e-5, sample_rate=1.0, steps=100000)


@pytest.mark.parametrize("n, expected", [(1, 0.1), (60, 1e-3), (100, 1e-3), (101, 1e-4), (1000, 1e-4)])
def test_default_delta(n: int, expected: float) -> None:
    assert default_delta(n) == pytest.approx(expected)
    assert default_delta(n) < 1.0 / n
    check_delta_for_cohort(delta=default_delta(n), n_subjects=n)


def test_delta_at_or_above_one_over_n_raises() -> None:
    with pytest.raises(PrivacyConfigError, match="1/n_subjects") as err:
        check_delta_for_cohort(delta=1.0 / 50, n_subjects=50)
    assert err.value.exit_code == 2
    check_delta_for_cohort(delta=0.9 / 50, n_subjects=50)  # just below: allowed


def test_fill_uses_the_whole_budget() -> None:
    stages = {"vae": StageSpec(0.1, 30, 1.0), "static": StageSpec(0.05, 200, 1.0)}
    weights = {"vae": 1.0, "static": 1.0, "stats": 0.5}
    nominal = plan_budget(epsilon=6.0, delta=1e-4, stages=stages, weights=weights)
    filled = plan_budget(epsilon=6.0, delta=1e-4, stages=stages, weights=weights, fill=True)
    assert nominal.epsilon < 0.9 * 6.0  # RDP composition leaves budget unused
    assert 6.0 / 1.006 <= filled.epsilon <= 6.0
    assert filled.expected_ledger().epsilon(delta=1e-4) == pytest.approx(filled.epsilon, rel=1e-9)
    ratio = [f.noise_multiplier / n.noise_multiplier for f, n in zip(filled.stages, nominal.stages)]
    assert all(r < 1.0 for r in ratio) and max(ratio) - min(ratio) < 1e-9  # one common factor
