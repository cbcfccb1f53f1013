"""`synthshare audit`: membership + memorisation audit of a candidate cohort, and the release gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthshare.cli.common import console, handle_errors, print_plain, progress_enabled


@handle_errors
def audit(
    run: Annotated[Path, typer.Option("--run", help="Trained run folder (its split and prepared subjects are the real cohort).")],
    samples: Annotated[Path, typer.Option("--samples", help="Candidate synthetic cohort folder (any layout, e.g. `synthshare sample` output).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for privacy.json (aggregates) and INTERNAL/ (never release).")],
    policy: Annotated[
        str | None, typer.Option("--policy", help="Gate policy YAML or bundled name (default, strict); default: default.")
    ] = None,
) -> None:
    """Audit SAMPLES against RUN under a gate policy. Exit 0 if the gate passes, 3 if it blocks."""
    from rich.markup import escape
    from rich.table import Table

    from synthshare.audit_glue import run_audit
    from synthshare.errors import GateBlockedError

    def say(message: str) -> None:
        if progress_enabled():
            print_plain(message, stderr=True)

    verdict = run_audit(run_dir=run, samples_dir=samples, policy_path=policy, out_dir=out, progress=say)
    table = Table(title=escape(f"release gate - policy {verdict.policy_name} (sha256 {verdict.policy_sha256[:12]})"))
    for column in ("criterion", "value", "threshold", "result", "note"):
        table.add_column(column)
    for c in verdict.criteria:
        value = "-" if c.value is None else f"{c.value:.4g}"
        threshold = "-" if c.threshold is None else f"{c.threshold:.4g}"
        result = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        # the console is inside the hospital: the internal detail (exception text) is shown beside the note
        note = "; ".join(part for part in (c.note, getattr(c, "detail", "")) if part)
        table.add_row(escape(c.name), value, threshold, result, escape(note))
    console.print(table)
    print_plain(f"reports: {out / 'privacy.json'} (aggregates) and {out / 'INTERNAL'} (internal only, never release)")
    if not verdict.passed:
        failed = ", ".join(c.name for c in verdict.failed) or "no criterion evaluated"
        raise GateBlockedError(f"release gate blocked by {failed}; nothing may be released")
    console.print("[green]gate passed[/green]")
