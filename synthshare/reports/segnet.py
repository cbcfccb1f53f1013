"""The small 2-D segmentation network the utility report trains: MONAI UNet over short-axis slices.

Written out step by step (build, train, predict) so the three regimes of utility.py differ only in
their slice pools. Instance norm (no BatchNorm), fixed initialisation seed, batches drawn from a
``torch.Generator``: the same seed gives the same weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from synthshare.config import UtilityConfig
from synthshare.errors import ConfigError
from synthshare.labels import NUM_CLASSES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlicePool:
    """Short-axis training slices: images float32 (N, 1, H, W), labels int64 (N, 1, H, W)."""

    images: torch.Tensor
    labels: torch.Tensor
    subjects: int

    def __len__(self) -> int:
        return int(self.images.shape[0])


def slice_pool(*, images: list[np.ndarray], labels: list[np.ndarray], subjects: int) -> SlicePool:
    """Stack lists of (S, H, W) labelled frames into one pool of 2-D slices."""
    if not images:
        empty = torch.zeros((0, 1, 1, 1))
        return SlicePool(images=empty, labels=empty.long(), subjects=0)
    x = np.concatenate([np.asarray(im, dtype=np.float32) for im in images])[:, None]
    y = np.concatenate([np.asarray(lb, dtype=np.int64) for lb in labels])[:, None]
    return SlicePool(images=torch.from_numpy(x), labels=torch.from_numpy(y), subjects=subjects)


def divisor(config: UtilityConfig) -> int:
    """In-plane sizes must be multiples of this (one halving per level below the top)."""
    return 2 ** (len(config.channels) - 1)


def pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad the last two axes at their ends up to a multiple (label 0 = background)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return torch.nn.functional.pad(x, (0, pw, 0, ph)) if (ph or pw) else x


def build_unet(*, config: UtilityConfig, seed: int) -> torch.nn.Module:
    """A fresh UNet(1 -> NUM_CLASSES) initialised from ``seed`` without touching the global RNG."""
    from monai.networks.nets import UNet

    if len(config.channels) < 2:
        raise ConfigError("utility.channels: the UNet needs at least 2 levels, e.g. [8, 16]")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet(
            spatial_dims=2,
            in_channels=1,
            out_channels=NUM_CLASSES,
            channels=tuple(config.channels),
            strides=(2,) * (len(config.channels) - 1),
            num_res_units=1,
            norm="instance",
        )


def train_unet(
    *, model: torch.nn.Module, pools: list[SlicePool], config: UtilityConfig, seed: int, progress: bool, name: str
) -> float:
    """Train ``model`` for ``config.steps`` Adam steps; returns the last loss.

    Each batch draws its slices evenly from the non-empty pools (real + synthetic: half each), so a
    large synthetic cohort does not drown the scarce real slices.
    """
    from monai.losses import DiceCELoss

    pools = [p for p in pools if len(p)]
    generator = torch.Generator().manual_seed(seed)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    multiple = divisor(config)
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(config.steps):
        # 1. draw a batch: which pool each element comes from, then a slice of that pool
        which = torch.randint(len(pools), (config.batch_size,), generator=generator)
        xs, ys = [], []
        for k in which.tolist():
            i = int(torch.randint(len(pools[k]), (1,), generator=generator))
            xs.append(pools[k].images[i])
            ys.append(pools[k].labels[i])
        x = pad_to(torch.stack(xs), multiple)
        y = pad_to(torch.stack(ys), multiple)
        # 2. one optimiser step on Dice + cross-entropy
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        if progress and (step % max(1, config.steps // 5) == 0 or step == config.steps - 1):
            logger.info("utility[%s] step %d/%d loss %.4f", name, step + 1, config.steps, float(loss.detach()))
    return float(loss.detach())


@torch.no_grad()
def predict_volume(*, model: torch.nn.Module, image: np.ndarray, config: UtilityConfig) -> np.ndarray:
    """Labels (S, H, W) uint8 for one (S, H, W) frame, slice by slice."""
    model.train(False)  # inference mode
    h, w = image.shape[-2:]
    x = pad_to(torch.from_numpy(np.asarray(image, dtype=np.float32))[:, None], divisor(config))
    pred = model(x).argmax(dim=1)[:, :h, :w]
    return pred.numpy().astype(np.uint8)
