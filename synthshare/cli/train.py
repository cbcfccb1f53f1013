"""`synthshare train`: prepare and split the cohort, then train VAE -> static LDM -> motion LDM.

Under `torchrun --nproc_per_node N -m synthshare -- train ...` the N ranks train one run together
(rank 0 prepares the cache first, writes and prints; the others are quiet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthshare.cli.common import (
    NO_PRIVACY_BANNER,
    err_console,
    handle_errors,
    print_error,
    print_plain,
    progress_enabled,
    state,
)


@handle_errors
def train(
    data: Annotated[Path, typer.Option("--data", help="Cohort folder (ACDC, M&Ms-2, generic NIfTI+CSV or phantom).")],
    run: Annotated[Path, typer.Option("--run", help="Run folder; finished stages are skipped, unfinished ones resume.")],
    config: Annotated[str, typer.Option("--config", help="Config YAML or preset name (tiny, demo, acdc).")] = "demo",
    stage: Annotated[
        str | None, typer.Option("--stage", help="Train up to this stage: vae, static or motion (default: all).")
    ] = None,
    epsilon: Annotated[float | None, typer.Option("--epsilon", help="Total DP budget (per subject); default: the config's.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Seed for split, initialisation and training.")] = None,
) -> None:
    """Train the cascaded generator (optionally with DP-SGD) into RUN."""
    from synthshare.distributed import torchrun_session

    with torchrun_session() as shard:
        if not shard.main:
            state.quiet = True  # one progress bar and one summary: rank 0's
        _train(data=data, run=run, config=config, stage=stage, epsilon=epsilon, seed=seed)


def _train(*, data: Path, run: Path, config: str, stage: str | None, epsilon: float | None, seed: int | None) -> None:
    from privacy.distributed import is_main, main_first
    from synthshare.config import load_config
    from synthshare.errors import BadInputError
    from synthshare.train.prepare import prepare_and_split
    from synthshare.train.run_dir import STAGES, RunDir, stale_stages
    from synthshare.train.trainer import train_run

    if stage is not None and stage not in STAGES:
        raise BadInputError(f"--stage {stage!r} is not a stage; choose one of {', '.join(STAGES)}")
    cfg = load_config(config)
    updates: dict = {}
    if epsilon is not None:
        updates["privacy"] = {"epsilon": epsilon}
    if seed is not None:
        updates["seed"] = seed
    if updates:
        cfg = cfg.with_updates(updates)
    run_dir = RunDir(run)
    if cfg.privacy.epsilon is None and progress_enabled():
        err_console.print(f"[yellow]{NO_PRIVACY_BANNER}[/yellow]")
    with main_first():  # under torchrun the others then find the cache filled
        cohort, split = prepare_and_split(data=data, config=cfg, run=run_dir, progress=progress_enabled())
    until = stage or "motion"
    if progress_enabled():
        from rich.progress import Progress

        with Progress(console=err_console, transient=True) as bar:
            tasks: dict[str, int] = {}

            def advance(name: str, step: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(f"training {name}", total=total)
                bar.update(tasks[name], completed=step)

            ledger = train_run(cohort=cohort, train_keys=split.train, config=cfg, run_dir=run_dir, until=until, progress=advance)
    else:
        ledger = train_run(cohort=cohort, train_keys=split.train, config=cfg, run_dir=run_dir, until=until)
    if not is_main():
        return
    if ledger.enabled:
        print_plain(f"trained up to {until} in {run}: epsilon = {ledger.epsilon(delta=ledger.delta):.3f} "
                      f"at delta = {ledger.delta:g} (per subject)")
    else:
        print_plain(f"trained up to {until} in {run}: {NO_PRIVACY_BANNER}")
    stale = stale_stages(run=run_dir)  # finished earlier from inputs this run no longer has
    if stale:
        print_error("warning", f"stage(s) {', '.join(stale)} in {run} are now out of date (trained from other inputs than this run's "
                    "config, train subjects or upstream stages); `synthshare sample` and `synthshare audit` refuse the run "
                    f"until they are retrained: `synthshare train --data {data} --config {run_dir.config_json} --run {run} "
                    "--stage motion`")
