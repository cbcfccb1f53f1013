"""Where the networks run: the GPU when there is one, else the CPU.

Random draws always come from CPU generators and are moved afterwards, so a seed gives the same
noise on any machine.
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device
