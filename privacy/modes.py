"""How per-sample gradients are computed, and which way "auto" picks.

- hooks: Opacus' per-layer grad samplers; convolutions use privacy.grad_samplers (one grouped
  convolution backward instead of Opacus' unfold + einsum). Materialises per-sample gradients.
- functorch: vmap(grad) per layer for every layer (Opacus' force_functorch).
- ghost: Opacus fast gradient clipping (ghost norms for Linear layers, per-sample norms for the
  rest), then a second backward of the re-weighted loss; lowest memory, two backward passes.

"auto" picks the fastest mode measured by benchmarks/dp_overhead.py on the benchmark model
nearest in parameter count. The figures below (DP step time / plain step time, same batch, median
of 5 interleaved steps, 1 torch thread, shared 2-core CPU, peak-RSS growth for the 1.7M UNet:
plain 103 MiB, hooks 382, functorch 455, ghost 219) came from
`python benchmarks/dp_overhead.py --reps 5`. Hooks won on every shape; re-measure on a GPU
before trusting "auto" there.
"""

from __future__ import annotations

from typing import Literal

import torch

Mode = Literal["hooks", "functorch", "ghost"]

#: benchmark model -> (parameters, expected batch, {mode: DP/plain step-time ratio})
MEASURED: dict[str, tuple[int, int, dict[Mode, float]]] = {
    "vae": (46_089, 8, {"hooks": 1.63, "functorch": 2.03, "ghost": 2.46}),
    "static": (434_420, 16, {"hooks": 1.65, "functorch": 2.37, "ghost": 2.31}),
    "motion": (436_148, 16, {"hooks": 1.64, "functorch": 2.26, "ghost": 2.23}),
    "unet1.8m": (1_726_436, 32, {"hooks": 2.10, "functorch": 3.19, "ghost": 3.07}),
}


def choose_mode(*, module: torch.nn.Module, expected_batch_size: int) -> Mode:
    """The fastest measured mode for the benchmark model nearest in parameter count (log scale)."""
    import math

    n_params = max(1, sum(p.numel() for p in module.parameters() if p.requires_grad))
    nearest = min(MEASURED.values(), key=lambda row: abs(math.log(row[0]) - math.log(n_params)))
    ratios = nearest[2]
    return min(ratios, key=lambda m: ratios[m])
