"""Where the networks run: the GPU when there is one, else the CPU.

Random draws always come from CPU generators and are moved afterwards, so a seed gives the same
noise on any machine.

On the CPU the convolutional networks (the VAE and both latent denoisers) compute in the
channels-last (NDHWC) memory layout, activations (`compute_layout`, inside each network) and
Conv3d weights (`to_compute_device`, where a network is put on its device): oneDNN's Conv3d is
faster on few-channel tensors in that layout, and weights in the layout the activations have
spare it a reorder at every call (benchmarks/memory_format_bench.py). Only the strides change,
never the values' meaning: the networks take and return ordinary contiguous tensors, checkpoints
store contiguous copies (train/checkpoint.py), and loaded weights are copied into the parameters'
own layout, so checkpoints, Opacus per-sample gradients and every caller are unaffected. On a
GPU nothing changes.
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def compute_layout(x: torch.Tensor) -> torch.Tensor:
    """x in the layout the convolutions run fastest in on its device (channels-last on the CPU)."""
    return x.contiguous(memory_format=torch.channels_last_3d) if x.device.type == "cpu" else x


def to_compute_device(module: torch.nn.Module) -> torch.nn.Module:
    """module moved to default_device(), its 5-D (Conv3d) weights channels-last on the CPU; returns module."""
    device = default_device()
    module.to(device)
    if device.type == "cpu":
        for param in module.parameters():
            if param.dim() == 5:
                param.data = param.data.contiguous(memory_format=torch.channels_last_3d)
    return module
