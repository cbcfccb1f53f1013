"""Run every audit on embeddings and scores, collecting failures instead of stopping.

An audit that raises is recorded in ``AuditResults.errors`` and the gate blocks on it (fail closed),
while the other audits still run so the reports show everything that could be measured.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from audits.membership import AttackResult, data_side_attack, evaluate_attack
from audits.memorization import MemorizationResult, memorization_audit
from audits.policy import AuditParams
from audits.results import AuditResults

logger = logging.getLogger(__name__)


def run_audits(
    *,
    params: AuditParams,
    train_embeddings: np.ndarray,
    holdout_embeddings: np.ndarray,
    synthetic_embeddings: np.ndarray,
    model_scores: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    train_images: Sequence[np.ndarray] | None = None,
    synthetic_images: Sequence[np.ndarray] | None = None,
    dp_enabled: bool | None = None,
    dp_epsilon: float | None = None,
    errors: Sequence[str] = (),
) -> AuditResults:
    """Data-side attack + memorisation on embeddings, plus one model-side attack per entry of
    ``model_scores`` (name -> (member errors, non-member errors); lower error = member).

    ``errors``: failures the caller already met (e.g. a scoring function that raised); they block.
    """
    found = list(errors)
    attacks: list[AttackResult] = []
    common = dict(fprs=params.fprs, n_bootstrap=params.n_bootstrap, confidence=params.confidence, seed=params.seed)
    for name, (members, nonmembers) in (model_scores or {}).items():
        try:
            attacks.append(evaluate_attack(name=name, member_scores=members, nonmember_scores=nonmembers, lower_is_member=True, **common))
        except Exception as err:  # recorded, and the gate blocks on it
            logger.exception("model-side attack %s failed", name)
            found.append(f"attack {name}: {type(err).__name__}: {err}")
    try:
        attacks.append(
            data_side_attack(
                train_embeddings=train_embeddings, holdout_embeddings=holdout_embeddings, synthetic_embeddings=synthetic_embeddings, **common
            )
        )
    except Exception as err:
        logger.exception("data-side attack failed")
        found.append(f"attack data_nearest_synthetic: {type(err).__name__}: {err}")
    memorization: MemorizationResult | None = None
    try:
        memorization = memorization_audit(
            synthetic=synthetic_embeddings,
            train=train_embeddings,
            holdout=holdout_embeddings,
            copy_quantile=params.copy_quantile,
            calibration=params.calibration,
            near_copy_ratio=params.near_copy_ratio,
            synthetic_images=synthetic_images,
            train_images=train_images,
            top_k=params.top_k,
            seed=params.seed,
        )
    except Exception as err:
        logger.exception("memorisation audit failed")
        found.append(f"memorisation: {type(err).__name__}: {err}")
    return AuditResults(
        attacks=tuple(attacks), memorization=memorization, dp_enabled=dp_enabled, dp_epsilon=dp_epsilon, errors=tuple(found)
    )
