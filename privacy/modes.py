"""How per-sample gradients are computed, and which way "auto" picks.

- hooks: Opacus' per-layer grad samplers; convolutions use privacy.grad_samplers (one grouped
  convolution backward instead of Opacus' unfold + einsum) and skip their unused summed weight
  gradient (privacy.conv_weight_grads). Materialises per-sample gradients.
- functorch: vmap(grad) per layer for every layer (Opacus' force_functorch).
- ghost: Opacus fast gradient clipping (ghost norms for Linear layers, per-sample norms for the
  rest), then a second backward of the re-weighted loss; lowest memory, two backward passes.

"auto" picks the fastest mode measured by benchmarks/dp_overhead.py on the benchmark model
nearest in parameter count. The figures below (DP step time / plain step time, same batch, median
of 5 interleaved steps, 1 torch thread, shared 2-core CPU) came from
`OMP_NUM_THREADS=1 python benchmarks/dp_overhead.py --reps 5` (2026-11-23). Side by side in that
run, hooks without the summed-gradient skip ("hooks_summed"): unet1.8m 2.17x, vae 1.63x, static
1.69x, motion 1.68x; Opacus' own unfold sampler 4.2-5.6x. Peak-RSS growth for the 1.7M UNet:
plain 102 MiB, hooks 372, functorch 406, ghost 212. Hooks won on every shape; re-measure on a GPU
before trusting "auto" there.
"""

from __future__ import annotations

from typing import Literal

import torch

Mode = Literal["hooks", "functorch", "ghost"]

#: benchmark model -> (parameters, expected batch, {mode: DP/plain step-time ratio})
MEASURED: dict[str, tuple[int, int, dict[Mode, float]]] = {
    "vae": (46_089, 8, {"hooks": 1.30, "functorch": 2.15, "ghost": 2.41}),
    "static": (434_420, 16, {"hooks": 1.45, "functorch": 2.43, "ghost": 2.33}),
    "motion": (436_148, 16, {"hooks": 1.43, "functorch": 2.42, "ghost": 2.33}),
    "unet1.8m": (1_726_436, 32, {"hooks": 1.79, "functorch": 2.90, "ghost": 2.85}),
}


def choose_mode(*, module: torch.nn.Module, expected_batch_size: int) -> Mode:
    """The fastest measured mode for the benchmark model nearest in parameter count (log scale)."""
    import math

    n_params = max(1, sum(p.numel() for p in module.parameters() if p.requires_grad))
    nearest = min(MEASURED.values(), key=lambda row: abs(math.log(row[0]) - math.log(n_params)))
    ratios = nearest[2]
    return min(ratios, key=lambda m: ratios[m])
