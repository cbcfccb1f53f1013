"""The privacy statement of every report, from a ledger dict (`privacy.PrivacyLedger.to_dict()`).

One place words the guarantee, so the audit's privacy.json, the release's fidelity.json, utility.json,
README and datasheet all say the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

NO_GUARANTEE = "no formal privacy guarantee"
DP_SCOPE = (
    "covers the synthetic images and segmentations, the model weights and the released sampling statistics; "
    "it does not cover the aggregate fidelity, utility and audit statistics computed on real subjects without DP "
    "(the utility segmentation networks are trained on real subjects without DP), nor the real cohort sizes the "
    "reports publish (train and holdout counts, and the ledger's sampling rate, which reveals the train count) "
    "(SECURITY.md)"
)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def guarantee_statement(dp: Mapping[str, Any] | None) -> str:
    """The one-line guarantee of a `dp` block (privacy.json's, or a ledger dict); None means DP off.

    DP on with a finite (epsilon, delta): that statement and its scope. DP on without a finite epsilon
    (no delta, or an unbounded accountant) guarantees nothing, and says so.
    """
    if not dp or dp.get("enabled") is not True:
        return NO_GUARANTEE
    epsilon, delta = dp.get("epsilon"), dp.get("delta")
    if not (_finite(epsilon) and _finite(delta)):
        return f"{NO_GUARANTEE}: differential privacy was on, but no finite (epsilon, delta) was accounted"
    return (f"({float(epsilon):g}, {float(delta):g})-DP per subject (add/remove one subject); "
            f"the guarantee {DP_SCOPE}")


def dp_section(ledger: dict[str, Any]) -> dict[str, Any]:
    """`dp.enabled`, `dp.epsilon`, `dp.delta`, `dp.unit`, `dp.accountant`, the guarantee, the scope and the ledger."""
    if not ledger.get("enabled"):
        return {"enabled": False, "epsilon": None, "delta": None, "unit": "subject", "accountant": None,
                "guarantee": NO_GUARANTEE, "ledger": ledger}
    epsilon = ledger.get("epsilon")
    section = {
        "enabled": True,
        "epsilon": float(epsilon) if _finite(epsilon) else None,
        "delta": ledger.get("delta"),
        "unit": ledger.get("unit", "subject"),
        "accountant": ledger.get("accountant", "rdp"),
    }
    section["guarantee"] = guarantee_statement(section)
    return {**section, "scope": DP_SCOPE, "ledger": ledger}
