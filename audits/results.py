"""Everything the gate evaluates, gathered in one object."""

from __future__ import annotations

from dataclasses import dataclass

from audits.membership import AttackResult
from audits.memorization import MemorizationResult


@dataclass(frozen=True, kw_only=True)
class AuditResults:
    """attacks: every membership attack that ran; memorization: None if it did not run;
    dp_enabled / dp_epsilon: from the privacy ledger (None = unknown);
    errors: one line per audit that raised (each blocks the gate)."""

    attacks: tuple[AttackResult, ...] = ()
    memorization: MemorizationResult | None = None
    dp_enabled: bool | None = None
    dp_epsilon: float | None = None
    errors: tuple[str, ...] = ()
