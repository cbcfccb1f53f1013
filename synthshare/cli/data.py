"""`synthshare data ...`: inspect a cohort inside the hospital (real IDs may appear in the output)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from synthshare.cli.common import console, err_console, handle_errors, progress_enabled

app = typer.Typer(help="Inspect and validate a cohort.", no_args_is_help=True)

_MEASURE_COLUMNS = ("lv_edv", "lv_esv", "lv_ef", "rv_edv", "rv_esv", "rv_ef", "myo_mass")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@app.command("check")
@handle_errors
def check(
    source: Annotated[Path, typer.Argument(help="Cohort folder (ACDC, M&Ms-2, generic NIfTI+CSV, or a synthshare sample/release).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report instead of a table.")] = False,
    format: Annotated[
        str | None, typer.Option("--format", help="Layout: acdc, mnms2, generic or synthshare (default: detect).")
    ] = None,
) -> None:
    """Load every subject, report frames, spacing and volumes, and list every problem (exit 2 if any)."""
    from synthshare.config import DataConfig
    from synthshare.data.cohort import FORMATS, open_cohort
    from synthshare.data.validate import check_cohort
    from synthshare.errors import BadInputError

    if format is not None and format not in FORMATS:
        raise BadInputError(f"--format {format!r} is not a layout; choose one of {', '.join(FORMATS)}")
    reader = open_cohort(source, format=format)  # type: ignore[arg-type]
    if progress_enabled():
        from rich.progress import Progress

        # on stderr, so that --json output on stdout stays parseable
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task(f"checking {reader.format} cohort", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            result = check_cohort(reader, data=DataConfig(), on_subject=advance)
    else:
        result = check_cohort(reader, data=DataConfig())
    if as_json:
        payload = {"subjects": [s.as_dict() for s in result.subjects], "problems": [p.as_dict() for p in result.problems]}
        typer.echo(json.dumps(payload, indent=2))
    else:
        from rich.markup import escape
        from rich.table import Table

        # ids, groups and paths come from the steward's files: escaped, never read as markup
        table = Table(title=escape(f"{source} ({reader.format}): {len(result.subjects)} subjects"))
        id_width = max([len(s.id) for s in result.subjects] + [2])
        table.add_column("id", no_wrap=True, min_width=id_width)  # never squash the one column a steward greps
        table.add_column("group")
        for column in ("T", "Z", "mm", "labelled", "LV EDV", "LV ESV", "LV EF%", "RV EDV", "RV ESV", "RV EF%", "MYO g"):
            table.add_column(column, justify="right", no_wrap=column == "mm")
        for s in result.subjects:
            table.add_row(
                escape(s.id),
                escape(s.group),
                str(s.frames),
                str(s.slices),
                "x".join(f"{v:.3g}" for v in s.spacing),
                ",".join(str(f) for f in s.labelled_frames),
                *(_fmt(getattr(s, c)) for c in _MEASURE_COLUMNS),
            )
        console.print(table)
        for problem in result.problems:
            err_console.print(f"[red]problem:[/red] {escape(problem.message)}", highlight=False, soft_wrap=True)
        if not result.problems:
            console.print("[green]no problems found[/green]")
    if result.problems:
        raise typer.Exit(2)
