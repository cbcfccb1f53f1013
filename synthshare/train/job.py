"""What the trainer needs from one stage: a model, a subject-indexed dataset, a per-sample loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class StageJob:
    """One stage ready to train. `loss` draws its noise from `loss_generator` (checkpointed)."""

    name: str
    module: nn.Module
    dataset: Any  # torch Dataset indexed by subject, with state_dict/load_state_dict
    loss: Callable[[nn.Module, Any], torch.Tensor]
    loss_generator: torch.Generator
    steps: int
    batch_size: int
    lr: float
    lr_schedule: str = "constant"  # "constant" or "cosine" (train/loop.py: lr_at)
    extra: dict[str, Any] = field(default_factory=dict)  # written to done.json (e.g. latent scales)
