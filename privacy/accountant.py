"""RDP arithmetic shared by the ledger and the planner (thin layer over Opacus' analysis).

RDP composes by addition over orders; conversion to (epsilon, delta) happens once, at the end,
on the composed curve. That is why the ledger keeps stages apart but reports one total.
Neighbouring datasets: add/remove one subject (Opacus' Poisson-subsampled Gaussian analysis).
"""

from __future__ import annotations

import math

import numpy as np
from opacus.accountants.analysis import rdp as _rdp
from opacus.accountants.rdp import RDPAccountant

from privacy.errors import PrivacyConfigError

#: The orders Opacus' RDPAccountant uses by default; using the same ones keeps our figures equal to its.
DEFAULT_ORDERS: tuple[float, ...] = tuple(float(a) for a in RDPAccountant.DEFAULT_ALPHAS)


def rdp_curve(*, noise_multiplier: float, sample_rate: float, steps: int,
              orders: tuple[float, ...] = DEFAULT_ORDERS) -> np.ndarray:
    """RDP of `steps` compositions of the Poisson-subsampled Gaussian mechanism, one value per order."""
    if steps == 0:
        return np.zeros(len(orders))
    return np.asarray(_rdp.compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=steps,
                                       orders=list(orders)), dtype=float)


def epsilon_from_rdp(*, rdp: np.ndarray, delta: float, orders: tuple[float, ...] = DEFAULT_ORDERS) -> float:
    """Best epsilon at `delta` over the orders (Opacus' conversion). 0 for an empty composition."""
    check_delta(delta=delta)
    if not np.any(rdp):
        return 0.0
    eps, _ = _rdp.get_privacy_spent(orders=list(orders), rdp=rdp, delta=delta)
    return float(eps)


def check_delta(*, delta: float) -> None:
    if not (0.0 < delta < 1.0) or math.isnan(delta):
        raise PrivacyConfigError(f"delta={delta} is not in (0, 1); pass a small delta such as 1e-5 (below 1/n_subjects)")
