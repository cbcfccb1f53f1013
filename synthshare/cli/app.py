"""Entry point: `synthshare`. Sub-commands are registered below, one module per noun."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from synthshare.cli.common import state

app = typer.Typer(
    name="synthshare",
    help="Train a (optionally differentially private) 4D cardiac MRI generator, audit it, release synthetic cohorts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from synthshare import __version__

        typer.echo(f"synthshare {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or banners.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    state.quiet = quiet
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# --- command registration (one line per module; keep sorted) ---
# REGISTER-COMMANDS
from synthshare.cli import audit as _audit

app.command("audit")(_audit.audit)
from synthshare.cli import release as _release

app.command("release")(_release.release)
from synthshare.cli import sample as _sample

app.command("sample")(_sample.sample)
from synthshare.cli import train as _train

app.command("train")(_train.train)
from synthshare.cli import data as _data

app.add_typer(_data.app, name="data")
from synthshare.cli import privacy as _privacy

app.add_typer(_privacy.app, name="privacy")
from synthshare.cli import verify as _verify

app.command("verify")(_verify.verify)
from synthshare.cli import keygen as _keygen

app.command("keygen")(_keygen.keygen)
from synthshare.cli import phantom as _phantom

app.command("phantom")(_phantom.phantom)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
