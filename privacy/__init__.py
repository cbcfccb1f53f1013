"""privacy: DP-SGD training stages (Opacus), one RDP ledger over every stage, budget planning and
the DP release of summary statistics. Generic: it knows nothing of cardiac data or of synthshare.

The privacy unit is whatever one dataset index is; synthshare indexes datasets by subject.
"""

from privacy.engine import (
    TrainingStage,
    plain_stage,
    private_stage,
    unwrap,
    validate_module,
)
from privacy.errors import PrivacyConfigError, PrivacyError, UnsupportedModuleError
from privacy.ledger import NO_GUARANTEE, PrivacyLedger
from privacy.plan import BudgetPlan, StageSpec, default_delta, plan_budget
from privacy.statistics import ReleasedStatistics, release_statistics

__all__ = [
    "NO_GUARANTEE",
    "BudgetPlan",
    "PrivacyConfigError",
    "PrivacyError",
    "PrivacyLedger",
    "ReleasedStatistics",
    "StageSpec",
    "TrainingStage",
    "UnsupportedModuleError",
    "default_delta",
    "plain_stage",
    "plan_budget",
    "private_stage",
    "release_statistics",
    "unwrap",
    "validate_module",
]
