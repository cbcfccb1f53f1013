"""The privacy ledger: one RDP composition over every DP stage and every statistics release.

A ledger lives in every checkpoint (``to_dict``) so a resumed run continues the count instead of
starting over. Entries are segments ``(stage, mechanism, sigma, q, steps, C)``; a segment recorded
with the same parameters as the stage's last one is merged, so "300 steps, save, load, 700 steps"
is byte-for-byte the same ledger as "1000 steps".

A disabled ledger (DP off) carries no entries and states "no formal privacy guarantee".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from privacy.accountant import DEFAULT_ORDERS, check_delta, epsilon_from_rdp, rdp_curve
from privacy.errors import PrivacyError

NO_GUARANTEE = "no formal privacy guarantee"
UNIT = "subject"
_FORMAT = 1


@dataclass(frozen=True)
class Segment:
    stage: str
    mechanism: Literal["sgm", "gaussian"]  # sgm: Poisson-subsampled Gaussian (DP-SGD); gaussian: one full release
    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float  # C for DP-SGD, the L2 sensitivity for a Gaussian release

    def rdp(self) -> np.ndarray:
        return rdp_curve(noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate, steps=self.steps)


class PrivacyLedger:
    """Records what each stage spent; answers the composed epsilon at a delta."""

    def __init__(self, *, enabled: bool = True, delta: float | None = None) -> None:
        if delta is not None:
            check_delta(delta=delta)
        self.enabled = enabled
        self.delta = delta
        self._segments: list[Segment] = []

    @classmethod
    def disabled(cls) -> PrivacyLedger:
        """The ledger of a run trained without DP."""
        return cls(enabled=False)

    # -- recording -------------------------------------------------------------------------------
    def record_steps(self, *, stage: str, noise_multiplier: float, sample_rate: float, steps: int,
                     max_grad_norm: float) -> None:
        """`steps` DP-SGD steps of Poisson rate `sample_rate` (empty batches count: they were taken)."""
        self._check_enabled(stage)
        if not (0.0 < sample_rate <= 1.0):
            raise PrivacyError(f"stage {stage!r}: sample_rate={sample_rate} is not in (0, 1]")
        if steps < 0:
            raise PrivacyError(f"stage {stage!r}: steps={steps} is negative")
        self._add(Segment(stage, "sgm", float(noise_multiplier), float(sample_rate), int(steps), float(max_grad_norm)))

    def record_gaussian(self, *, stage: str, noise_multiplier: float, sensitivity: float) -> None:
        """One Gaussian-mechanism release over the whole cohort (q = 1, one step), noise std = sigma * sensitivity."""
        self._check_enabled(stage)
        if sensitivity <= 0:
            raise PrivacyError(f"stage {stage!r}: sensitivity={sensitivity} must be positive")
        self._add(Segment(stage, "gaussian", float(noise_multiplier), 1.0, 1, float(sensitivity)))

    def _check_enabled(self, stage: str) -> None:
        if not self.enabled:
            raise PrivacyError(f"stage {stage!r}: this ledger is disabled (DP off); a DP stage cannot be recorded "
                               "into it. Start the run with DP on to get a guarantee.")

    def _add(self, seg: Segment) -> None:
        if not (seg.noise_multiplier > 0.0) or math.isinf(seg.noise_multiplier):
            raise PrivacyError(f"stage {seg.stage!r}: noise_multiplier={seg.noise_multiplier} gives no guarantee; "
                               "a noise-free stage on real data voids the whole ledger (use a disabled ledger)")
        if seg.max_grad_norm <= 0:
            raise PrivacyError(f"stage {seg.stage!r}: max_grad_norm={seg.max_grad_norm} must be positive")
        # RDP adds, so order is irrelevant: merge into the stage's last segment when the parameters match.
        idx = next((i for i in range(len(self._segments) - 1, -1, -1) if self._segments[i].stage == seg.stage), None)
        last = self._segments[idx] if idx is not None else None
        if (last is not None and seg.mechanism == "sgm"
                and (last.mechanism, last.noise_multiplier, last.sample_rate, last.max_grad_norm)
                == (seg.mechanism, seg.noise_multiplier, seg.sample_rate, seg.max_grad_norm)):
            self._segments[idx] = Segment(**{**asdict(last), "steps": last.steps + seg.steps})
        elif seg.steps > 0:
            self._segments.append(seg)

    # -- reading ---------------------------------------------------------------------------------
    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    def stages(self) -> list[str]:
        return list(dict.fromkeys(s.stage for s in self._segments))

    def epsilon(self, *, delta: float) -> float:
        """Composed epsilon over every recorded stage at `delta` (inf when DP is off)."""
        if not self.enabled:
            return math.inf
        return epsilon_from_rdp(rdp=self._rdp(self._segments), delta=delta)

    def stage_epsilon(self, *, stage: str, delta: float) -> float:
        """The epsilon that stage alone would have cost (the total is less than the sum: RDP composition)."""
        return epsilon_from_rdp(rdp=self._rdp([s for s in self._segments if s.stage == stage]), delta=delta)

    @staticmethod
    def _rdp(segments: list[Segment]) -> np.ndarray:
        total = np.zeros(len(DEFAULT_ORDERS))
        for seg in segments:
            total = total + seg.rdp()
        return total

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able; ``from_dict(to_dict())`` reproduces the ledger exactly. Epsilons are derived, for readers."""
        if not self.enabled:
            return {"format": _FORMAT, "enabled": False, "guarantee": NO_GUARANTEE}
        out: dict[str, Any] = {
            "format": _FORMAT, "enabled": True, "unit": UNIT, "accountant": "rdp", "delta": self.delta,
            "segments": [asdict(s) for s in self._segments],
        }
        if self.delta is not None:
            out["stages"] = {
                st: {**_stage_summary([s for s in self._segments if s.stage == st]),
                     "epsilon": self.stage_epsilon(stage=st, delta=self.delta)}
                for st in self.stages()
            }
            out["epsilon"] = self.epsilon(delta=self.delta)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrivacyLedger:
        try:
            if d.get("format") != _FORMAT:
                raise PrivacyError(f"privacy ledger format {d.get('format')!r} is not supported (expected {_FORMAT})")
            if not d["enabled"]:
                return cls.disabled()
            ledger = cls(delta=d.get("delta"))
            for raw in d["segments"]:
                ledger._segments.append(Segment(**raw))
        except (KeyError, TypeError, AttributeError) as err:
            raise PrivacyError(f"the privacy ledger in this checkpoint is corrupt ({err}); it cannot be trusted: "
                               "retrain the run from scratch") from err
        return ledger

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PrivacyLedger) and self.enabled == other.enabled
                and self.delta == other.delta and self._segments == other._segments)

    def __repr__(self) -> str:
        return f"PrivacyLedger(enabled={self.enabled}, delta={self.delta}, segments={len(self._segments)})"


def _stage_summary(segments: list[Segment]) -> dict[str, Any]:
    """Per-stage sigma, q, steps, C; the last segment's parameters, steps summed (one segment in practice)."""
    last = segments[-1]
    return {"mechanism": last.mechanism, "noise_multiplier": last.noise_multiplier, "sample_rate": last.sample_rate,
            "steps": sum(s.steps for s in segments), "max_grad_norm": last.max_grad_norm,
            "segments": len(segments)}
