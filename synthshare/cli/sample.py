"""`synthshare sample`: draw N synthetic subjects from a trained run into a new folder (atomically).

Under `torchrun --nproc_per_node N -m synthshare -- sample ...` the sampling batches are dealt to
the N ranks; rank 0 gathers the subjects and writes the folder (the same bytes as one process).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from synthshare.cli.common import (
    NO_PRIVACY_BANNER,
    err_console,
    handle_errors,
    print_plain,
    progress_enabled,
    state,
)

if TYPE_CHECKING:
    from privacy.distributed import Shard
    from synthshare.data.prepared import SyntheticSubject

SAMPLES_COLUMNS = ("key", "group", "seed", "es_frame",
                   "requested_lv_edv", "measured_lv_edv", "requested_lv_esv", "measured_lv_esv",
                   "requested_lv_ef", "measured_lv_ef", "draws", "plausible")


def samples_csv(subjects: list[SyntheticSubject]) -> str:
    """Requested vs measured LV EDV, ESV, EF, one row per synthetic subject."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SAMPLES_COLUMNS)
    for s in subjects:
        m = s.measured
        writer.writerow([s.key, s.requested["group"], s.seed, s.es_frame,
                         f"{s.requested['lv_edv']:.3f}", f"{m.lv_edv:.3f}", f"{s.requested['lv_esv']:.3f}", f"{m.lv_esv:.3f}",
                         f"{s.requested['lv_ef']:.3f}", f"{m.lv_ef:.3f}", s.draws,
                         "" if s.plausible is None else str(s.plausible).lower()])
    return buffer.getvalue()


@handle_errors
def sample(
    run: Annotated[Path, typer.Option("--run", help="A run folder trained by `synthshare train`.")],
    out: Annotated[Path, typer.Option("--out", help="New output folder (must not exist).")],
    n: Annotated[
        int | None,
        typer.Option("--n", min=1, help="Number of synthetic subjects. Required without --conditions; with --conditions "
                     "it defaults to the CSV's row count and, if given, must equal it (one subject per row)."),
    ] = None,
    conditions: Annotated[
        Path | None,
        typer.Option("--conditions", help="CSV, one row per subject: group, lv_edv, lv_esv (mL) [, lv_ef (%), rv_edv (mL), "
                     "myo_mass (g), slices (whole, within the run's grid)]; other columns are refused."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Sampling seed (each subject's own seed is derived from it).")] = 0,
) -> None:
    """Sample synthetic subjects (BIDS-like NIfTI) and samples.csv (requested vs measured volumes)."""
    from synthshare.distributed import torchrun_session

    with torchrun_session() as shard:
        if not shard.main:
            state.quiet = True
        _sample(run=run, n=n, out=out, conditions=conditions, seed=seed, shard=shard)


def _sample(*, run: Path, n: int | None, out: Path, conditions: Path | None, seed: int, shard: Shard) -> None:
    from synthshare.atomic import write_json
    from synthshare.errors import BadInputError
    from synthshare.release.bids import write_synthetic_subject
    from synthshare.sample.conditions import read_conditions_csv
    from synthshare.sample.generator import load_generator
    from synthshare.sample.sampler import calibrate_conditions, sample_cohort

    if out.exists():
        raise BadInputError(f"{out}: already exists; choose a new --out folder (nothing is overwritten)")
    if n is None and conditions is None:
        raise BadInputError("--n is required without --conditions; give the number of synthetic subjects")
    generator = load_generator(run_dir=run)
    requested = None
    if conditions is not None:
        requested = read_conditions_csv(path=conditions, prior=generator.prior, grid_slices=generator.config.data.slices)
        if n is not None and n != len(requested):
            raise BadInputError(f"{conditions}: {len(requested)} row(s) but --n {n}; one subject is sampled per row, so "
                                f"drop --n or give --n {len(requested)} (or add / remove rows)")
        n = len(requested)
    if not generator.ledger.get("enabled") and progress_enabled():
        err_console.print(f"[yellow]{NO_PRIVACY_BANNER}[/yellow]")
    calibration = calibrate_conditions(generator=generator, seed=seed)  # None unless sampling.calibration_n > 0
    if progress_enabled():
        from rich.progress import Progress

        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("sampling", total=n)
            subjects = sample_cohort(run_dir=run, n=n, seed=seed, conditions=requested, generator=generator,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total), shard=shard,
                                     calibration=calibration)
    else:
        subjects = sample_cohort(run_dir=run, n=n, seed=seed, conditions=requested, generator=generator, shard=shard,
                                 calibration=calibration)
    if not shard.main:
        return  # rank 0 gathered every subject and writes the folder
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for subject in subjects:
            write_synthetic_subject(subject=subject, out_dir=tmp)
        (tmp / "samples.csv").write_text(samples_csv(subjects))
        write_json(path=tmp / "sampling.json", value={
            "n": n, "seed": seed, "conditions": "csv" if conditions is not None else "released prior",
            "ddim_steps": generator.config.sampling.ddim_steps, "guidance_scale": generator.config.sampling.guidance_scale,
            "config_sha256": generator.config.sha256(), "privacy": generator.ledger,
            # each subject's sidecar: requested_conditions as asked, model_conditions as the networks got them
            "condition_calibration": {"enabled": False} if calibration is None else {"enabled": True, **calibration.to_dict()},
        })
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print_plain(f"wrote {n} synthetic subjects to {out}")
