"""One trial of the memorising-generator study: phantom cohort -> prepare/split -> train -> sample -> audit.

Shared by tests/audits/test_memorising_generator.py and benchmarks/memorising_generator.py (a unique
module name: tests/ has no packages). Everything runs through the product's own code paths
(`prepare_and_split`, `train_run`, `sample_cohort`, the BIDS-like sample writer, `run_audit`) under
the default policy; only the config differs between the two arms:

- "memorising": few training subjects (the policy's measurable minimum), many optimiser steps,
  a lower learning-rate-free recipe: the same tiny networks, trained until they fit their few subjects;
- "control": the same cohort, split and networks, trained briefly.

Why not 3-5 training subjects: the default policy (`min_subjects: 10`) marks every membership and
memorisation criterion unmeasurable when either side has fewer than 10 subjects, so such a run is
blocked whatever the generator does (fail closed), and a control run on the same split is blocked
too. That is measured (`few_train`), but detection needs a measurable split: 10 train, >= 10 holdout.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from audits import Verdict
from synthshare.config import Config, load_config

log = logging.getLogger(__name__)

Arm = Literal["memorising", "control"]
MEMORISATION_CRITERIA = frozenset(
    {"memorization.copies", "memorization.copy_fraction", "memorization.closer_to_train_fraction", "memorization.binomial_p"}
)


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """The fixed study design (one value per knob; the arms differ only in `steps`)."""

    n_subjects: int = 22  # 10 train / 12 holdout with holdout_fraction 0.55
    holdout_fraction: float = 0.55
    memorising_steps: int = 600
    control_steps: int = 2
    n_synthetic: int = 20
    phantom_size: tuple[int, int] = (48, 48)
    ddim_steps: int = 25
    num_train_timesteps: int = 1000


@dataclass(frozen=True, kw_only=True)
class TrialOutcome:
    arm: Arm
    seed: int
    n_train: int
    n_holdout: int
    verdict: Verdict
    seconds: float

    @property
    def blocked(self) -> bool:
        return not self.verdict.passed

    @property
    def failed_names(self) -> list[str]:
        return sorted(c.name for c in self.verdict.failed)

    @property
    def blocked_for_memorisation(self) -> bool:
        """Blocked by a measurable failing memorisation or membership criterion (not only for being unmeasurable)."""
        return any(c.measurable and (c.name in MEMORISATION_CRITERIA or c.name.startswith("membership.")) for c in self.verdict.failed)


def trial_config(*, protocol: Protocol, arm: Arm, seed: int) -> Config:
    """configs/tiny.yaml with the protocol's split and the arm's optimiser steps for all three stages."""
    steps = protocol.memorising_steps if arm == "memorising" else protocol.control_steps
    stage = {"steps": steps, "batch_size": 4}
    return load_config("tiny").with_updates(
        {
            "seed": seed,
            "data": {"holdout_fraction": protocol.holdout_fraction, "min_holdout": 10},
            "vae": stage,
            "static": {**stage, "num_train_timesteps": protocol.num_train_timesteps},
            "motion": {**stage, "num_train_timesteps": protocol.num_train_timesteps},
            "sampling": {"ddim_steps": protocol.ddim_steps},
        }
    )


def write_cohort(*, out: Path, protocol: Protocol, seed: int) -> Path:
    from synthshare.data.phantom import write_phantom_cohort

    return write_phantom_cohort(out=out, n=protocol.n_subjects, seed=seed, size=protocol.phantom_size)


def run_arm(*, cohort_dir: Path, work: Path, protocol: Protocol, arm: Arm, seed: int) -> TrialOutcome:
    """Train one generator on the seeded split of `cohort_dir`, sample, audit under the default policy."""
    from synthshare.audit_glue import run_audit
    from synthshare.release.bids import write_synthetic_subject
    from synthshare.sample.sampler import sample_cohort
    from synthshare.train.prepare import prepare_and_split
    from synthshare.train.run_dir import RunDir
    from synthshare.train.trainer import train_run

    start = time.perf_counter()
    config = trial_config(protocol=protocol, arm=arm, seed=seed)
    run = RunDir(work / f"run-{arm}")
    cohort, split = prepare_and_split(data=cohort_dir, config=config, run=run)
    train_run(cohort=cohort, train_keys=split.train, config=config, run_dir=run)
    samples = work / f"samples-{arm}"
    samples.mkdir(parents=True)
    for subject in sample_cohort(run_dir=run.root, n=protocol.n_synthetic, seed=seed):
        write_synthetic_subject(subject=subject, out_dir=samples)
    verdict = run_audit(run_dir=run.root, samples_dir=samples, policy_path=None, out_dir=work / f"audit-{arm}")
    return TrialOutcome(
        arm=arm, seed=seed, n_train=len(split.train), n_holdout=len(split.holdout), verdict=verdict, seconds=time.perf_counter() - start
    )


def run_trial(*, work: Path, protocol: Protocol, seed: int, arms: tuple[Arm, ...] = ("memorising", "control")) -> dict[Arm, TrialOutcome]:
    """Both arms on one seeded cohort (same subjects, same split)."""
    cohort_dir = write_cohort(out=work / "cohort", protocol=protocol, seed=seed)
    return {arm: run_arm(cohort_dir=cohort_dir, work=work, protocol=protocol, arm=arm, seed=seed) for arm in arms}


def describe(outcome: TrialOutcome) -> str:
    """One line: arm, verdict, and each failing criterion with its value and threshold."""
    parts = []
    for c in outcome.verdict.failed:
        value = "n/a" if c.value is None else f"{c.value:.3g}"
        parts.append(f"{c.name}={value} (thr {c.threshold}{'' if c.measurable else ', unmeasurable'})")
    state = "BLOCKED" if outcome.blocked else "passed"
    return f"seed {outcome.seed} {outcome.arm:<10} {state:<7} {outcome.seconds:5.0f}s  " + ("; ".join(parts) or "-")
