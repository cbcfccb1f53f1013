"""Skip the summed weight gradient of convolutions during a DP backward pass.

Under DP-SGD the optimiser never reads a parameter's summed gradient ``p.grad``: it clips and sums
the per-sample gradients (``p.grad_sample``) and overwrites ``p.grad`` with their noised sum. Yet
autograd still computes the summed weight gradient of every convolution, about half of the cost
of a convolution's backward, next to the per-sample one that privacy.grad_samplers computes from
the same activations and output gradients. Inside ``summed_conv_weight_grads_skipped`` every
convolution runs with its weight and bias detached, so autograd computes only the input gradient
(needed to back-propagate) and Opacus' hooks still see the layer's activations and output
gradients. Measured on the static LDM (benchmarks/dp_overhead.py): see privacy/modes.py.

Two conditions, both checked:
- the graph must reach every convolution through its INPUT (its weight no longer connects it), so
  the floating-point tensors of the batch are made to require grad (``inputs_requiring_grad``);
- a convolution the backward pass does not reach gets no per-sample gradient and the DP optimiser
  raises ("Per sample gradient is not initialized"): it fails loudly, never silently unclipped.
Values are unchanged (``detach`` shares storage); only which gradients autograd computes changes.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _detached_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    bias = None if self.bias is None else self.bias.detach()
    return self._conv_forward(x, self.weight.detach(), bias)


@contextlib.contextmanager
def summed_conv_weight_grads_skipped(module: nn.Module) -> Iterator[None]:
    """Within the block, plain ``nn.ConvNd`` layers of ``module`` compute no summed weight/bias gradient."""
    patched = []
    for layer in module.modules():
        if type(layer) in _CONVS and layer.weight.requires_grad and "forward" not in vars(layer):
            layer.forward = types.MethodType(_detached_forward, layer)
            patched.append(layer)
    try:
        yield
    finally:
        for layer in patched:
            del layer.forward


def inputs_requiring_grad(batch: Any) -> Any:
    """The batch with every floating-point tensor (shallow copies) requiring grad; other leaves as they are."""
    if isinstance(batch, torch.Tensor):
        return batch.detach().requires_grad_(True) if batch.is_floating_point() else batch
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(inputs_requiring_grad(b) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(inputs_requiring_grad(b) for b in batch)
    if isinstance(batch, dict):
        return {k: inputs_requiring_grad(v) for k, v in batch.items()}
    return batch
