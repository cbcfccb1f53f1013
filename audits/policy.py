"""Release-gate policy: YAML (yaml.safe_load) -> pydantic (extra="forbid"), hashed into the verdict.

AUC statistic: the gate compares the AUC's distance from chance with ``max_auc``, in both
directions (an attack whose members score below non-members leaks as much once flipped). With
``auc_statistic: ci_upper`` (default) that is the bound of the bootstrap CI farther from chance,
max(ci_upper, 1 - ci_lower). That fails closed: a small holdout gives a wide CI and must show an
AUC near 0.5 to pass, instead of passing on a lucky point estimate. ``point`` (max(auc, 1 - auc))
is available for cohorts large enough that the CI is negligible.

Copies: ``max_near_copies`` (a count, normally 0) bounds the near-copies of training subjects (see
audits.memorization); ``max_copies`` / ``max_copy_fraction`` bound the count above the quantile
threshold tau, which detects mass memorisation only.

Waivers: ``waive`` lists criterion names (shell-style patterns allowed, e.g.
``membership.*.tpr_at_fpr_0.001``). A waiver only applies while the criterion is UNMEASURABLE
(e.g. too few holdout subjects for TPR at 0.1% FPR); a measurable criterion is always enforced.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from audits.errors import PolicyError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuditParams(_Strict):
    """How the audits are computed (recorded with the policy so a re-run reproduces them)."""

    n_bootstrap: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    fprs: tuple[float, ...] = (0.01, 0.001)
    copy_quantile: float = Field(0.95, gt=0.5, lt=1.0)
    calibration: Literal["holdout_to_train", "train_to_holdout"] = "holdout_to_train"
    near_copy_ratio: float = Field(
        0.5, gt=0.0, le=1.0,
        description="a near-copy is nearer a training subject than this times the closest distinct real pair",
    )
    top_k: int = Field(5, ge=0, description="synthetic candidates checked in pixel space")
    seed: int = 0


class Policy(_Strict):
    name: str
    auc_statistic: Literal["ci_upper", "point"] = "ci_upper"
    max_auc: float = Field(gt=0.5, le=1.0)
    max_tpr_at_fpr: dict[float, float] = Field(default_factory=dict, description="fpr -> max TPR")
    max_near_copies: int | None = Field(None, ge=0, description="synthetic subjects allowed within near-copy distance of a training subject")
    max_copies: int | None = Field(None, ge=0)
    max_copy_fraction: float | None = Field(None, ge=0.0, le=1.0)
    max_closer_to_train_fraction: float | None = Field(None, gt=0.5, le=1.0)
    closer_to_train_significance: float | None = Field(
        None, gt=0.0, lt=1.0,
        description="with it, a share above max_closer_to_train_fraction blocks only if the subject-level "
                    "permutation p is also below this level (a share over a few clustered neighbours is noise)",
    )
    min_binomial_p: float | None = Field(None, gt=0.0, lt=1.0)
    min_permutation_p: float | None = Field(
        None, gt=0.0, lt=1.0, description="closer-to-train test with real subjects as the exchangeable unit"
    )
    max_pixel_ncc: float | None = Field(None, gt=0.0, le=1.0)
    require_dp: bool = False
    max_epsilon: float | None = Field(None, gt=0.0)
    min_subjects: int = Field(10, ge=1, description="fewest members and non-members (holdout) a criterion is measurable with")
    required_attacks: tuple[str, ...] = ("data_nearest_synthetic",)
    waive: tuple[str, ...] = ()
    audit: AuditParams = AuditParams()

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        problems = []
        if self.require_dp and self.max_epsilon is None:
            problems.append("require_dp is true but max_epsilon is not set")
        missing = sorted(f for f in self.max_tpr_at_fpr if f not in self.audit.fprs)
        if missing:
            problems.append(f"max_tpr_at_fpr uses FPR {missing} that audit.fprs {list(self.audit.fprs)} does not compute")
        bad = sorted(f for f, t in self.max_tpr_at_fpr.items() if not (0.0 < f < 1.0 and 0.0 <= t <= 1.0))
        if bad:
            problems.append(f"max_tpr_at_fpr entries {bad} need 0 < fpr < 1 and 0 <= max TPR <= 1")
        if self.max_copies is None and self.max_copy_fraction is None and self.max_near_copies is None:
            problems.append("set max_near_copies, max_copies or max_copy_fraction (a policy without a copy criterion would not detect copies)")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True, kw_only=True)
class LoadedPolicy:
    policy: Policy
    sha256: str
    source: str


def _problems(err: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in item['loc']) or '<root>'}: {item['msg']}" for item in err.errors()]


def policy_from_bytes(*, data: bytes, source: str) -> LoadedPolicy:
    """Validate policy YAML bytes; the sha256 is of these exact bytes."""
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise PolicyError(f"{source}: not valid UTF-8 YAML ({err}); fix the syntax") from err
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: a policy must be a YAML mapping, got {type(raw).__name__}")
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as err:
        raise PolicyError(f"{source}: invalid gate policy; fix these fields:", _problems(err)) from err
    return LoadedPolicy(policy=policy, sha256=hashlib.sha256(data).hexdigest(), source=source)


def load_policy(*, path: str | Path) -> LoadedPolicy:
    """Read and validate a policy file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise PolicyError(f"{p}: cannot read the policy ({err.strerror}); pass an existing YAML file") from err
    return policy_from_bytes(data=data, source=str(p))
