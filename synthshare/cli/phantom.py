"""`synthshare phantom OUT`: write a parametric beating-heart cohort in a real public layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from synthshare.cli.common import console, handle_errors, print_plain, progress_enabled


@handle_errors
def phantom(
    out: Annotated[Path, typer.Argument(help="New (or empty) folder to write the cohort into.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of subjects (round-robin over NOR, MINF, DCM, HCM, RV).")] = 40,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of every random choice; same seed, same bytes.")] = 0,
    layout: Annotated[Literal["acdc", "mnms2"], typer.Option("--layout", help="Folder layout to write: acdc or mnms2.")] = "acdc",
    size: Annotated[int, typer.Option("--size", min=16, help="In-plane size H (images are H x H voxels).")] = 96,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Processes rendering side by side; 0: one per CPU core. The bytes do not depend on it.")] = 0,
) -> None:
    """Write a phantom cohort (images, ED/ES labels, clinical fields) plus phantom_truth.csv. Refuses a non-empty OUT."""
    from synthshare.data.phantom_writers import TRUTH_CSV, write_phantom_cohort

    if progress_enabled():
        with console.status(f"rendering {n} phantom subjects"):
            written = write_phantom_cohort(out=out, n=n, seed=seed, layout=layout, size=(size, size), workers=workers)
    else:
        written = write_phantom_cohort(out=out, n=n, seed=seed, layout=layout, size=(size, size), workers=workers)
    if progress_enabled():
        print_plain(f"wrote {n} phantom subjects ({layout} layout) to {written}; truth in {written / TRUTH_CSV}")
