"""The conditioning prior: per-group counts, means and covariance of the train subjects' measures.

Released through privacy.statistics.release_statistics (Gaussian mechanism when DP is on, exact
when off) and written to RUN/conditions.json with the standardisation the denoisers use.
The sampler draws conditions from it when the user gives none.
Under DP the noise is seeded from the steward's secret key (synthshare.steward_keys), never from the
public config seed: whoever could replay the draws could subtract them and read the exact sums.
"""

from __future__ import annotations

import numpy as np

from privacy import PrivacyLedger, release_statistics
from synthshare.models.conditioning import (
    CONDITION_GROUPS,
    MEASURE_FIELDS,
    MEASURE_LOWER,
    MEASURE_UPPER,
    ConditionCodec,
    group_index,
    measure_matrix,
)
from synthshare.steward_keys import dp_noise_seed


def release_conditions(
    *, conditions: list[dict[str, float | str]], noise_multiplier: float | None, ledger: PrivacyLedger, seed: int
) -> tuple[dict, PrivacyLedger]:
    """(conditions.json payload, ledger with the release recorded when DP is on)."""
    rng = np.random.default_rng(seed if noise_multiplier is None else dp_noise_seed(stage="stats", seed=seed))
    vectors = measure_matrix(conditions)
    categories = np.array([group_index(str(c["group"])) for c in conditions], dtype=np.int64)
    released = release_statistics(
        vectors=vectors, categories=categories, n_categories=len(CONDITION_GROUPS), lower=MEASURE_LOWER,
        upper=MEASURE_UPPER, noise_multiplier=noise_multiplier, rng=rng,
    )
    if noise_multiplier is not None:
        ledger.record_gaussian(stage="stats", noise_multiplier=noise_multiplier, sensitivity=released.sensitivity)
    # Standardisation = post-processing of the release: mixture mean and total variance.
    weights = released.counts / max(float(released.counts.sum()), 1e-9)
    mean = weights @ released.means
    between = weights @ (released.means - mean) ** 2
    std = np.sqrt(np.maximum(np.diag(released.covariance) + between, 1e-6))
    payload = {
        "groups": list(CONDITION_GROUPS),
        "fields": list(MEASURE_FIELDS),
        "statistics": released.to_dict(),
        "codec": ConditionCodec(mean=mean, std=std).to_dict(),
        "ledger": ledger.to_dict(),
    }
    return payload, ledger
