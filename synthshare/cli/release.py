"""`synthshare release`: the main job. ingest -> split -> train -> sample -> audit -> gate -> package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthshare.cli.common import (
    NO_PRIVACY_BANNER,
    console,
    err_console,
    handle_errors,
    progress_enabled,
)


def default_policy() -> Path:
    from synthshare.config import CONFIG_DIR

    return CONFIG_DIR / "policy" / "default.yaml"


@handle_errors
def release(
    out: Annotated[Path, typer.Option("--out", help="Release folder to create (must be new or empty).")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Real cohort (ACDC, M&Ms-2, generic). Default: the embedded phantom cohort.")
    ] = None,
    config: Annotated[str, typer.Option("--config", help="Config YAML or preset name (tiny, demo, acdc).")] = "demo",
    policy: Annotated[Path | None, typer.Option("--policy", help="Gate policy YAML (default: configs/policy/default.yaml).")] = None,
    epsilon: Annotated[float | None, typer.Option("--epsilon", help="Total DP budget per subject; turns DP-SGD on.")] = None,
    delta: Annotated[float | None, typer.Option("--delta", help="DP delta (default: below 1/n_subjects).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for split, training and sampling.")] = None,
    work: Annotated[
        Path | None, typer.Option("--work", help="Internal work folder (default: .<OUT>.work beside OUT); a re-run resumes from it.")
    ] = None,
    signing_key: Annotated[Path | None, typer.Option("--signing-key", help="Ed25519 private key (PEM) to sign the manifest.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing release at OUT (atomically).")] = False,
) -> None:
    """Train, sample, audit and, only if every gate criterion passes, write the release package."""
    from synthshare.config import load_config
    from synthshare.errors import BadInputError
    from synthshare.release.pipeline import release as run_release

    cfg = load_config(config)
    updates: dict = {}
    if epsilon is not None or delta is not None:
        if epsilon is None:
            raise BadInputError("--delta needs --epsilon: DP is on only when a total epsilon is given")
        updates["privacy"] = {"epsilon": epsilon, **({"delta": delta} if delta is not None else {})}
    if seed is not None:
        updates["seed"] = seed
    if updates:
        cfg = cfg.with_updates(updates)
    policy_path = policy or default_policy()
    if not policy_path.is_file():
        raise BadInputError(f"{policy_path}: no such policy file; pass --policy with a gate policy YAML (see configs/policy/)")
    if cfg.privacy.epsilon is None:
        err_console.print(f"[bold yellow]{NO_PRIVACY_BANNER}[/bold yellow] (pass --epsilon to train with DP-SGD)")

    def announce(message: str) -> None:
        if progress_enabled():
            err_console.print(f"[dim]>[/dim] {message}")

    outcome = run_release(out=out, data=data, config=cfg, policy=policy_path, work=work, signing_key=signing_key,
                          overwrite=overwrite, progress=progress_enabled(), announce=announce)
    statement = (f"({outcome.epsilon:.3g}, {outcome.delta:.3g})-DP per subject" if outcome.dp_enabled else NO_PRIVACY_BANNER)
    console.print(f"released {outcome.n_subjects} synthetic subjects to {outcome.out} [{statement}]")
    console.print(f"verify with: synthshare verify {outcome.out}")
