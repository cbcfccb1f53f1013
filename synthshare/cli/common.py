"""Shared CLI plumbing: consoles, the --quiet switch, and the error boundary.

Domain errors are caught only here and turned into one line on stderr plus an exit code:
0 ok, 1 internal error, 2 bad input or usage, 3 gate blocked.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    quiet: bool = False


state = _State()

NO_PRIVACY_BANNER = "no formal privacy guarantee: DP is off"


def progress_enabled() -> bool:
    return not state.quiet


def _exit_code_for(err: BaseException) -> int | None:
    """Map domain errors of all three packages to exit codes; None means not a domain error."""
    from synthshare.errors import SynthshareError

    if isinstance(err, SynthshareError):
        return err.exit_code
    code = getattr(err, "exit_code", None)  # privacy/audits errors carry their own code
    if isinstance(code, int) and type(err).__module__.split(".")[0] in ("privacy", "audits"):
        return code
    return None


def handle_errors(fn: F) -> F:
    """Decorator for every command: one-line message + exit code for domain errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/red]")
            raise typer.Exit(130) from None
        except Exception as err:  # the boundary: nothing else catches broadly
            code = _exit_code_for(err)
            if code is None:
                logging.getLogger("synthshare").exception("internal error")
                err_console.print(f"[red]internal error:[/red] {type(err).__name__}: {err}")
                raise typer.Exit(1) from err
            label = {2: "error", 3: "blocked"}.get(code, "error")
            err_console.print(f"[red]{label}:[/red] {err}", markup=True, highlight=False)
            raise typer.Exit(code) from err

    return wrapper  # type: ignore[return-value]
