"""`synthshare privacy plan`: how much noise each stage needs for a total (epsilon, delta) budget.

Reads only the cohort's subject list (never an image): n_subjects -> the train split's size ->
per-stage q = batch_size / n_train, steps from the config -> sigma per stage (privacy.plan).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from synthshare.cli.common import console, handle_errors

app = typer.Typer(help="Plan and inspect the differential-privacy budget.", no_args_is_help=True)


def build_plan(*, n_subjects: int, config: Any, epsilon: float, delta: float | None, source: str) -> tuple[Any, int]:
    """(BudgetPlan, n_train) for a cohort of n_subjects under `config`: the split training will use."""
    from synthshare.data.validate import check_cohort_size, holdout_size
    from synthshare.train.trainer import budget_plan

    d = config.data
    # the train set's size follows the split's rule (synthshare.data.split); which subjects does not matter here
    check_cohort_size(n_subjects=n_subjects, min_train=d.min_train, min_holdout=d.min_holdout,
                      holdout_fraction=d.holdout_fraction, source=source)
    n_train = n_subjects - holdout_size(n_subjects=n_subjects, holdout_fraction=d.holdout_fraction)
    plan, _ = budget_plan(config=config, epsilon=epsilon, n_train=n_train, delta=delta)
    return plan, n_train


@app.command("plan")
@handle_errors
def plan(
    config: Annotated[str, typer.Option("--config", help="Config YAML or preset name (tiny, demo, acdc).")],
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Cohort folder (only its subject list is read). Default: the embedded phantom "
                     "cohort of the config (phantom.n subjects), as `release` without --data."),
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Total epsilon per subject (default: privacy.epsilon of the config).")
    ] = None,
    delta: Annotated[
        float | None, typer.Option("--delta", help="Delta (default: privacy.delta, else 1/(10 n_train) rounded down to a power of 10).")
    ] = None,
    fill: Annotated[
        bool | None,
        typer.Option("--fill/--no-fill", help="Scale all sigmas down together until the composed total reaches the budget "
                     "(default: privacy.fill_budget of the config, on in the presets)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON instead of a table.")] = False,
) -> None:
    """Split the budget over VAE, static LDM, motion LDM and the statistics release; print sigma per stage."""
    from synthshare.cli.common import NO_PRIVACY_BANNER
    from synthshare.config import load_config
    from synthshare.data.cohort import open_cohort
    from synthshare.errors import BadInputError

    cfg = load_config(config)
    if fill is not None:
        cfg = cfg.with_updates({"privacy": {"fill_budget": fill}})
    eps = epsilon if epsilon is not None else cfg.privacy.epsilon
    if eps is None:
        raise BadInputError(f"{config}: privacy.epsilon is unset ({NO_PRIVACY_BANNER}); pass --epsilon E to plan a DP run")
    if data is None:
        n_subjects, source = cfg.phantom.n, f"embedded phantom cohort ({cfg.phantom.n} subjects)"
    else:
        n_subjects, source = len(open_cohort(data).ids()), str(data)
    budget, n_train = build_plan(n_subjects=n_subjects, config=cfg, epsilon=eps,
                                 delta=delta if delta is not None else cfg.privacy.delta, source=source)
    if as_json:
        typer.echo(json.dumps({"n_subjects": n_subjects, "n_train": n_train, **budget.to_dict()}, indent=2))
        return
    console.print(budget.to_table())
    console.print(f"{n_subjects} subjects, {n_train} train (unit of privacy: one subject); "
                  f"composed epsilon {budget.epsilon:.4f} <= {budget.epsilon_budget:g} at delta {budget.delta:.1e}")
