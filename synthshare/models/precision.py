"""Mixed precision for the generator's training: bfloat16 autocast where the processor has it natively.

``precision`` in a config is ``float32``, ``bfloat16`` or ``auto``. Under ``bfloat16`` the forward
pass of the VAE and of both denoisers runs under ``torch.autocast`` (convolutions and matmuls in
bfloat16, accumulated in float32); the weights, the optimiser, the loss and every gradient step stay
float32, and the model outputs are cast back to float32 before the loss. ``auto`` picks bfloat16
where the CPU computes it natively (AVX512-BF16 or AMX; a CPU without either emulates it, slower
than float32) or on a GPU, and float32 elsewhere.

DP-SGD always trains in float32: Opacus computes each example's gradient from the activations and
output gradients its hooks capture, and those would be bfloat16, so the clipped norms the privacy
guarantee rests on would carry bfloat16 rounding. The precision a stage trains in is part of its
hash (train/run_dir.py), so a run folder moved to a machine that resolves ``auto`` otherwise
retrains rather than resumes in another precision.

Measured 2026-12-02 on the 2-core CPU machine (AVX512-BF16 and AMX), demo config, 2 threads:
- `python benchmarks/precision_bench.py`, seconds per training step float32 / bfloat16: VAE 0.362 /
  0.282 (1.28x), static 0.298 / 0.185 (1.61x), motion 0.301 / 0.196 (1.54x); last losses agree to
  3 digits. The utility report's 2-D UNet gains nothing (11.0 against 11.4 ms a step on one thread),
  so it stays float32.
- `/usr/bin/time -v synthshare release`, two runs 20 minutes apart: 9 min 51 s in float32, 8 min 41 s
  with ``auto`` (VAE stage 179 -> 149 s, static 141 -> 104 s, motion 81 -> 61 s). Both passed the gate;
  controllability r (LV EDV / ESV / EF) 0.981 / 0.983 / 0.972 against 0.979 / 0.987 / 0.973 (MAE 19.3
  -> 13.7 mL for EDV); synthetic-only Dice 0.857 against 0.867; the utility gain at 10 and 5 real
  subjects +1.82 / +2.74 against +1.92 / +3.03 Dice points. A third run (bfloat16, an hour later, the
  machine faster then): 7 min 34 s, every file byte-identical to the 8 min 41 s run but provenance.json.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Literal

import torch

from synthshare.config import Config, Precision

log = logging.getLogger(__name__)

Resolved = Literal["float32", "bfloat16"]


def native_bfloat16(device: torch.device | None = None) -> bool:
    """True where bfloat16 is computed natively: a CUDA device with bf16, or a CPU with AVX512-BF16 or AMX."""
    if device is not None and device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    caps = torch.cpu.get_capabilities()
    return bool(caps.get("avx512_bf16", False) or caps.get("amx_bf16", False))


def resolve_precision(requested: Precision, *, private: bool, device: torch.device | None = None) -> Resolved:
    """The precision a stage trains in: float32 under DP; ``auto`` -> bfloat16 where native."""
    if private:
        if requested == "bfloat16":
            log.warning("precision bfloat16 ignored: DP-SGD trains in float32 (per-example gradients and their clipping)")
        return "float32"
    if requested == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return requested


def training_precision(config: Config) -> Resolved:
    """The precision the generator's stages train in under ``config`` on this machine."""
    from synthshare.models.device import default_device

    return resolve_precision(config.precision, private=config.privacy.epsilon is not None, device=default_device())


@contextlib.contextmanager
def autocast(precision: Resolved, device: torch.device) -> Iterator[None]:
    """Autocast to bfloat16 on ``device`` under ``bfloat16``; a no-op under float32."""
    if precision == "float32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield
