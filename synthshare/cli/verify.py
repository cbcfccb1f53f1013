"""`synthshare verify RELEASE`: check a received release against its manifest and signature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from synthshare.cli.common import console, handle_errors


@handle_errors
def verify(
    release: Annotated[Path, typer.Argument(help="The release folder to check.")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="Releaser's Ed25519 public key (PEM); requires a valid signature.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON on stdout.")] = False,
) -> None:
    """Verify every file hash, added/missing files, the signature and the SYNTHETIC marks.

    Exit 0 intact, 1 tampered, 2 not a release. A folder that lost its manifest but still holds a release's signature, reports/privacy.json or reports/provenance.json is tampered (1).
    """
    from synthshare.errors import TamperedError
    from synthshare.release.verify import verify_release

    report = verify_release(release=release, public_key=public_key)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), sort_keys=True, indent=2))
    else:
        _print_report(report)
    if not report.ok:
        raise TamperedError(report.summary())


def _print_report(report) -> None:
    from rich.text import Text

    # file names come from the (untrusted) release: Text, never markup; soft wrap keeps a path whole
    def line(*parts: str | tuple[str, str]) -> None:
        console.print(Text.assemble(*parts), highlight=False, soft_wrap=True)

    line(("intact", "green") if report.ok else ("TAMPERED", "red"), f": {report.release}")
    line(f"  files checked: {report.checked}; signature: {report.signature}")
    for name, items in (
        ("modified", report.modified),
        ("missing", report.missing),
        ("added", report.added),
        ("unsafe", report.unsafe),
        ("not synthetic", report.not_synthetic),
    ):
        for item in items:
            line("  ", (name, "red"), f": {item}")
    if report.signature == "not_checked":
        line(("  a signature is present but was not checked: pass --public-key", "yellow"))
