"""The `dp` block of every privacy report, from a ledger dict (`privacy.PrivacyLedger.to_dict()`).

One place words the guarantee, so the audit's privacy.json and the release's say the same thing.
"""

from __future__ import annotations

import math
from typing import Any

NO_GUARANTEE = "no formal privacy guarantee"
DP_SCOPE = (
    "covers the synthetic images and segmentations, the model weights and the released sampling statistics; "
    "it does not cover the aggregate fidelity, utility and audit statistics computed on real subjects (SECURITY.md)"
)


def dp_section(ledger: dict[str, Any]) -> dict[str, Any]:
    """`dp.enabled`, `dp.epsilon`, `dp.delta`, `dp.unit`, `dp.accountant`, the scope and the per-stage ledger."""
    if not ledger.get("enabled"):
        return {"enabled": False, "epsilon": None, "delta": None, "unit": "subject", "accountant": None,
                "guarantee": NO_GUARANTEE, "ledger": ledger}
    epsilon = ledger.get("epsilon")
    finite = isinstance(epsilon, (int, float)) and math.isfinite(epsilon)
    return {
        "enabled": True,
        "epsilon": float(epsilon) if finite else None,
        "delta": ledger.get("delta"),
        "unit": ledger.get("unit", "subject"),
        "accountant": ledger.get("accountant", "rdp"),
        "scope": DP_SCOPE,
        "ledger": ledger,
    }
