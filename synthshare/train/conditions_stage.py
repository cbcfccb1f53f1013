"""The conditioning prior: per-group counts, means and covariance of the train subjects' measures.

Released through privacy.statistics.release_statistics (Gaussian mechanism when DP is on, exact
when off) and written to RUN/conditions.json with the standardisation the denoisers use.
Without DP the volumes and the mass are released on a log scale, under DP on the linear one
(models/conditioning.py: prior_space, why there), each clipped to the public bounds on its scale; the
mechanism and its sensitivity are those of any bounded vector and the map is public, so the guarantee
does not depend on the scale.
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
    prior_log_mask,
    to_prior_space,
)
from synthshare.steward_keys import dp_noise_seed


def release_conditions(
    *, conditions: list[dict[str, float | str]], noise_multiplier: float | None, ledger: PrivacyLedger, seed: int,
    space: str,
) -> tuple[dict, PrivacyLedger]:
    """(conditions.json payload, ledger with the release recorded when DP is on).

    space: the prior's scale, no default: models/conditioning.prior_space(private=...) picks it for training
    (log-volumes would amplify DP noise); benchmarks/prior_bench.py compares the two.
    """
    rng = np.random.default_rng(seed if noise_multiplier is None else dp_noise_seed(stage="stats", seed=seed))
    vectors = to_prior_space(measure_matrix(conditions), space)
    categories = np.array([group_index(str(c["group"])) for c in conditions], dtype=np.int64)
    released = release_statistics(
        vectors=vectors, categories=categories, n_categories=len(CONDITION_GROUPS),
        lower=to_prior_space(MEASURE_LOWER, space), upper=to_prior_space(MEASURE_UPPER, space),
        noise_multiplier=noise_multiplier, rng=rng,
    )
    if noise_multiplier is not None:
        ledger.record_gaussian(stage="stats", noise_multiplier=noise_multiplier, sensitivity=released.sensitivity)
    mean, std = codec_moments(counts=released.counts, means=released.means, covariance=released.covariance, space=space)
    payload = {
        "groups": list(CONDITION_GROUPS),
        "fields": list(MEASURE_FIELDS),
        "statistics": {**released.to_dict(), "space": space},
        "codec": ConditionCodec(mean=mean, std=std).to_dict(),
        "ledger": ledger.to_dict(),
    }
    return payload, ledger


def codec_moments(*, counts: np.ndarray, means: np.ndarray, covariance: np.ndarray,
                  space: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per measure, in the measures' own units, of the released prior's mixture over the groups.

    The denoisers see the measures in mL, standardised by these (post-processing of the release). A
    log-scale field of a group is log-normal: mean exp(mu + s2 / 2), variance (exp(s2) - 1) exp(2 mu + s2).
    """
    weights = counts / max(float(counts.sum()), 1e-9)
    s2 = np.diag(covariance)
    log = prior_log_mask(space)
    group_mean = np.array(means, dtype=np.float64)
    group_var = np.broadcast_to(s2, group_mean.shape).copy()
    group_mean[:, log] = np.exp(means[:, log] + s2[log] / 2.0)
    group_var[:, log] = np.expm1(s2[log]) * group_mean[:, log] ** 2
    mean = weights @ group_mean
    var = weights @ (group_var + group_mean**2) - mean**2  # total variance: within plus between the groups
    return mean, np.sqrt(np.maximum(var, 1e-6))
