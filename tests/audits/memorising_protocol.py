"""One trial of the memorising-generator study: phantom cohort -> prepare/split -> train -> sample -> audit.

Shared by tests/audits/test_memorising_generator.py and benchmarks/memorising_generator.py (a unique
module name: tests/ has no packages). Everything runs through the product's own code paths
(`prepare_and_split`, `train_run`, `sample_cohort`, the sample writer, `run_audit`) under the default
policy; the two arms share cohort, split, networks and sampling and differ only in optimiser steps:

- "memorising": the few training subjects fitted for many steps (VAE 600, static LDM 3000, motion 1500);
- "control": trained for 2 steps per stage (a generator that has seen nothing to memorise).

Departures from configs/tiny.yaml (measured on seed 0 with the v-prediction schedulers):
- 1000 diffusion timesteps: tiny.yaml's 50, with betas fixed for 1000, end at alpha_bar 0.64, so
  sampling starts from pure noise the model never saw; the samples then sit near no subject
  (0 copies, closer-to-train 0.74: blocked by the model-side attacks only);
- LDM widths (16, 32): the tiny (4, 8) nets memorise too, but only just past the copy threshold
  (copy fraction 0.45 against 0.4); (16, 32) gives 0.72;
- 25 DDIM steps instead of 2, 40 synthetic subjects (as in the policy's calibration).

Why 10 training subjects and not 3-5: the default policy (`min_subjects: 10`) marks every membership
and memorisation criterion unmeasurable when either side has fewer than 10 subjects, so such a run is
blocked whatever the generator does (fail closed; the test pins this), and detection is not measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from audits import Verdict
from synthshare.config import Config, load_config

Arm = Literal["memorising", "control"]
MEMORISATION_CRITERIA = frozenset(
    {"memorization.near_copies", "memorization.copies", "memorization.copy_fraction", "memorization.closer_to_train_fraction",
     "memorization.permutation_p"}
)


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """The fixed study design; the two arms differ only in their optimiser steps per stage."""

    n_subjects: int = 22  # 10 train / 12 holdout with holdout_fraction 0.55
    holdout_fraction: float = 0.55
    memorising_steps: tuple[int, int, int] = (600, 3000, 1500)  # vae, static, motion
    control_steps: tuple[int, int, int] = (2, 2, 2)
    latent_channels: tuple[int, int] = (16, 32)  # LDM widths (see the module docstring)
    num_train_timesteps: int = 1000
    ddim_steps: int = 25
    n_synthetic: int = 40
    phantom_size: tuple[int, int] = (48, 48)


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
    def blocked_by_memorisation_criteria(self) -> bool:
        """A measurable memorisation criterion failed (not merely an unmeasurable one)."""
        return any(c.measurable and c.name in MEMORISATION_CRITERIA for c in self.verdict.failed)


def trial_config(*, protocol: Protocol, arm: Arm, seed: int) -> Config:
    """configs/tiny.yaml with the protocol's split, LDM widths and schedule, and the arm's optimiser steps."""
    vae, static, motion = protocol.memorising_steps if arm == "memorising" else protocol.control_steps
    ldm = {"channels": list(protocol.latent_channels), "norm_groups": 4, "num_train_timesteps": protocol.num_train_timesteps, "batch_size": 4}
    return load_config("tiny").with_updates(
        {
            "seed": seed,
            "data": {"holdout_fraction": protocol.holdout_fraction, "min_holdout": 10},
            "vae": {"steps": vae, "batch_size": 4},
            "static": {**ldm, "steps": static},
            "motion": {**ldm, "steps": motion},
            # the release's default sampler: requests as given (configs/tiny.yaml calibrates them to exercise
            # sampling.calibration_n; with it, the memorising arm was blocked by membership alone, not memorisation)
            "sampling": {"ddim_steps": protocol.ddim_steps, "calibration_n": 0},
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
