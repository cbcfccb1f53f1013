"""One exception hierarchy for synthshare; the CLI maps each class to an exit code.

Exit codes (DESIGN.md): 0 ok, 1 internal error, 2 bad input or usage, 3 gate blocked.
"""

from __future__ import annotations


class SynthshareError(Exception):
    """Base class. Anything else escaping a command is an internal error (exit 1)."""

    exit_code = 1


class BadInputError(SynthshareError):
    """The user's data, config or arguments are wrong. The message names the file and the fix."""

    exit_code = 2


class ConfigError(BadInputError):
    """A config file failed validation. ``problems`` lists every wrong field with its path."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        self.message = message
        full = message if not self.problems else message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(full)

    def __reduce__(self) -> tuple:  # picklable with its fields (the default passes the joined message only)
        return type(self), (self.message, self.problems)


class DataError(BadInputError):
    """A cohort file or subject is unusable: missing, truncated, wrong shape, bad labels, ..."""


class GateBlockedError(SynthshareError):
    """The release gate failed closed: nothing is released."""

    exit_code = 3


class TamperedError(SynthshareError):
    """`verify` found a release that does not match its manifest or signature (exit 1)."""

    exit_code = 1
