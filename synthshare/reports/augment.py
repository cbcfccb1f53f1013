"""Seeded, label-consistent augmentation of the utility report's 2-D training slices.

Torchio's pattern: the random parameters of a batch are drawn first from a ``torch.Generator`` into
an ``Augmentation`` (so any batch can be replayed), then a deterministic function applies them.
Geometric changes (flips, quarter turns) move image and labels together; the intensity change
(a multiplicative scale) touches the image only, so a label never disagrees with its image.
Every regime of utility.py uses the same augmentation, so it cannot favour one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from synthshare.config import UtilityConfig


@dataclass(frozen=True)
class Augmentation:
    """Per-slice parameters of one batch: flips along H and W, quarter turns, intensity scale."""

    flip_h: torch.Tensor  # bool (N,)
    flip_w: torch.Tensor  # bool (N,)
    quarter_turns: torch.Tensor  # int64 (N,), 0..3; always 0 for non-square slices
    scale: torch.Tensor  # float32 (N,)


def enabled(config: UtilityConfig) -> bool:
    return config.augment_flip or config.augment_rot90 or config.augment_intensity > 0.0


def draw_augmentation(*, n: int, square: bool, config: UtilityConfig, generator: torch.Generator) -> Augmentation:
    """Draw every random number of one batch; the draws do not depend on the image content.

    All four draws are made even for disabled parts, so switching one part off leaves the others'
    draws unchanged (a comparison of settings differs only in what was switched).
    """
    flip_h = torch.rand(n, generator=generator) < 0.5
    flip_w = torch.rand(n, generator=generator) < 0.5
    turns = torch.randint(4, (n,), generator=generator)
    unit = torch.rand(n, generator=generator) * 2.0 - 1.0
    off = torch.zeros(n, dtype=torch.bool)
    return Augmentation(
        flip_h=flip_h if config.augment_flip else off,
        flip_w=flip_w if config.augment_flip else off,
        # a quarter turn of a non-square slice would change its shape: such slices only flip
        quarter_turns=turns if (config.augment_rot90 and square) else torch.zeros(n, dtype=torch.int64),
        scale=(1.0 + config.augment_intensity * unit).float(),
    )


def apply_augmentation(
    *, images: torch.Tensor, labels: torch.Tensor, augmentation: Augmentation
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of shape (N, 1, H, W) transformed slice by slice; the inputs are not modified."""
    xs, ys = [], []
    for i in range(images.shape[0]):
        x, y = images[i], labels[i]
        dims = [d for d, flip in ((-2, augmentation.flip_h[i]), (-1, augmentation.flip_w[i])) if bool(flip)]
        if dims:
            x, y = torch.flip(x, dims), torch.flip(y, dims)
        k = int(augmentation.quarter_turns[i])
        if k:
            x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
        xs.append(x * augmentation.scale[i])
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)
