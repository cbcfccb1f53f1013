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


def print_plain(text: str, *, stderr: bool = False) -> None:
    """Print text that holds paths, names or messages: never parsed as rich markup, never hard-wrapped.

    A folder named '[/x]' must not crash the CLI, and '[no formal privacy guarantee ...]' must not
    vanish as a style tag; soft wrapping keeps a long path on one line when stdout is not a terminal.
    """
    (err_console if stderr else console).print(text, markup=False, highlight=False, soft_wrap=True)


def print_error(label: str, message: str) -> None:
    """One error line on stderr: a red label, then the message verbatim (no markup, no hard wrap)."""
    from rich.text import Text

    err_console.print(Text.assemble((f"{label}:", "red"), " ", message), highlight=False, soft_wrap=True)


# OS errors about a path the user named (a folder that cannot be read, a file where a folder is
# expected) are bad input, not bugs; other OS errors (a full disk, ...) stay internal errors.
_PATH_ERRORS = (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError)


def _exit_code_for(err: BaseException) -> int | None:
    """Map domain errors of all three packages to exit codes; None means not a domain error."""
    from synthshare.errors import SynthshareError

    if isinstance(err, SynthshareError):
        return err.exit_code
    if isinstance(err, _PATH_ERRORS) and err.filename is not None:
        return 2
    code = getattr(err, "exit_code", None)  # privacy/audits errors carry their own code
    if isinstance(code, int) and type(err).__module__.split(".")[0] in ("privacy", "audits"):
        return code
    return None


def _message(err: BaseException) -> str:
    if isinstance(err, _PATH_ERRORS):
        return f"{err.filename}: {err.strerror or type(err).__name__}; check the path and its permissions"
    return str(err)


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
                print_error("internal error", f"{type(err).__name__}: {err}")
                raise typer.Exit(1) from err
            label = {2: "error", 3: "blocked"}.get(code, "error")
            print_error(label, _message(err))
            raise typer.Exit(code) from err

    return wrapper  # type: ignore[return-value]
