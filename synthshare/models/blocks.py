"""Building blocks for the anisotropic VAE: GroupNorm residual blocks, in-plane resampling.

Cine slices are ~10 mm apart against ~1.5 mm in-plane, so resampling acts in-plane only
(strides (1, 2, 2)). GroupNorm everywhere and no in-place activations: Opacus computes
per-sample gradients through GroupNorm and Conv3d but not through BatchNorm.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from torch import nn

IN_PLANE = (1, 2, 2)


def conv3d(*, in_channels: int, out_channels: int, kernel_size: int = 3, strides: tuple[int, int, int] | int = 1) -> Convolution:
    return Convolution(
        spatial_dims=3,
        in_channels=in_channels,
        out_channels=out_channels,
        strides=strides,
        kernel_size=kernel_size,
        padding=kernel_size // 2,
        conv_only=True,
    )


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, twice, plus a (1x1 projected) skip."""

    def __init__(self, *, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = conv3d(in_channels=in_channels, out_channels=out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.conv2 = conv3d(in_channels=out_channels, out_channels=out_channels)
        self.act = nn.SiLU()
        self.skip: nn.Module = (
            nn.Identity() if in_channels == out_channels else conv3d(in_channels=in_channels, out_channels=out_channels, kernel_size=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = self.conv2(self.act(self.norm2(h)))
        return self.skip(x) + h


class DownInPlane(nn.Module):
    """Strided conv halving H and W, keeping slices."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.conv = conv3d(in_channels=channels, out_channels=channels, strides=IN_PLANE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class UpInPlane(nn.Module):
    """Nearest upsampling of H and W by 2, then a conv (no transposed-conv checkerboards)."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.conv = conv3d(in_channels=channels, out_channels=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=IN_PLANE, mode="nearest"))
