"""The audits package's exception hierarchy; each class carries the CLI exit code it maps to.

The synthshare CLI boundary reads ``exit_code`` from errors raised in this package
(0 ok, 1 internal error, 2 bad input or usage, 3 gate blocked).
"""

from __future__ import annotations


class AuditError(Exception):
    """An audit could not be computed (exit 1). The gate treats it as a failed criterion."""

    exit_code = 1


class AuditInputError(AuditError):
    """The arrays, scores or embeddings handed to an audit are unusable (exit 2); the message says why."""

    exit_code = 2


class PolicyError(AuditError):
    """A gate policy file is missing, not YAML, or fails validation (exit 2). Lists every wrong field."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        full = message if not self.problems else message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(full)
