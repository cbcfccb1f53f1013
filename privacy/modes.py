"""How per-sample gradients are computed, and which way "auto" picks.

- hooks: Opacus' per-layer grad samplers (functorch for layers without one); materialises
  per-sample gradients (memory ~ batch x parameters).
- functorch: vmap(grad) per layer for every layer.
- ghost: Opacus fast gradient clipping ("ghost clipping" for Linear layers): per-sample NORMS,
  then a second backward of the re-weighted loss; never keeps per-sample gradients of all layers.

The "auto" table comes from benchmarks/dp_overhead.py (see that file's docstring for the figures).
"""

from __future__ import annotations

from typing import Literal

import torch

Mode = Literal["hooks", "functorch", "ghost"]

#: (max parameters, max expected batch size) -> mode, first match wins. Measured on CPU, see benchmarks/dp_overhead.py.
AUTO_TABLE: tuple[tuple[int, int, Mode], ...] = (
    (2**62, 2**62, "hooks"),
)


def choose_mode(*, module: torch.nn.Module, expected_batch_size: int) -> Mode:
    n_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    for max_params, max_batch, mode in AUTO_TABLE:
        if n_params <= max_params and expected_batch_size <= max_batch:
            return mode
    return "hooks"
