"""One exception hierarchy for `privacy`; each class carries the CLI exit code it maps to.

`privacy` imports nothing from synthshare, so the codes are attributes here (the CLI boundary in
synthshare reads `exit_code` from any error whose module is under `privacy`).
"""

from __future__ import annotations


class PrivacyError(Exception):
    """Something in DP training or accounting went wrong (exit 1): an unsupported model, a stage
    that would void the guarantee, a corrupt ledger."""

    exit_code = 1


class PrivacyConfigError(PrivacyError):
    """A privacy budget or setting is unusable (exit 2): delta >= 1/n, epsilon <= 0, a missing weight.
    The message says which value and how to fix it."""

    exit_code = 2


class UnsupportedModuleError(PrivacyError):
    """The model has layers Opacus cannot give per-sample gradients for. ``problems`` lists every one."""

    def __init__(self, message: str, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(message + "\n" + "\n".join(f"  - {p}" for p in self.problems))
