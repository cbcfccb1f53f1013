"""`synthshare release`: the main job. ingest -> split -> train -> sample -> audit -> gate -> package."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from synthshare.cli.common import (
    NO_PRIVACY_BANNER,
    err_console,
    handle_errors,
    print_plain,
    progress_enabled,
)

if TYPE_CHECKING:
    from synthshare.config import Config


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
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Seed for split, training and sampling.")] = None,
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
    _preflight(out=out, cfg=cfg, signing_key=signing_key, overwrite=overwrite)
    if cfg.privacy.epsilon is None:
        err_console.print(f"[bold yellow]{NO_PRIVACY_BANNER}[/bold yellow] (pass --epsilon to train with DP-SGD)")

    started = time.monotonic()

    def announce(message: str) -> None:  # each step's line carries the time since the command started
        if progress_enabled():
            print_plain(f"> [{elapsed(time.monotonic() - started)}] {message}", stderr=True)

    outcome = run_release(out=out, data=data, config=cfg, policy=policy_path, work=work, signing_key=signing_key,
                          overwrite=overwrite, progress=progress_enabled(), announce=announce)
    statement = (f"({outcome.epsilon:.3g}, {outcome.delta:.3g})-DP per subject" if outcome.dp_enabled else NO_PRIVACY_BANNER)
    # markup off: the brackets around the statement are text, and "[no formal privacy guarantee: ...]" must show
    print_plain(f"released {outcome.n_subjects} synthetic subjects to {outcome.out} [{statement}]")
    print_plain(f"verify with: synthshare verify {outcome.out}")


def elapsed(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on (whole seconds, rounded down)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _preflight(*, out: Path, cfg: Config, signing_key: Path | None, overwrite: bool) -> None:
    """Checks the package step would make, made before hours of training: the --out folder,
    the signing key and the nnU-Net dataset name."""
    from synthshare.release.nnunet import dataset_folder_name
    from synthshare.release.package import check_release_target
    from synthshare.release.signing import load_private_key

    check_release_target(out=out.resolve(), overwrite=overwrite)
    if signing_key is not None:
        load_private_key(signing_key)
    dataset_folder_name(dataset_id=cfg.release.nnunet_dataset_id, name=cfg.release.dataset_name)
