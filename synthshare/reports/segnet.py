"""The small 2-D segmentation network the utility report trains: MONAI UNet over short-axis slices.

Written out step by step (build, train, predict) so the three regimes of utility.py differ only in
their slice pools (and, for pretrain -> fine-tune, in calling ``train_unet`` twice on one model).
Instance norm (no BatchNorm), fixed initialisation seed, batches and augmentation drawn from
``torch.Generator``s: the same seed gives the same weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from synthshare.config import UtilityConfig
from synthshare.errors import ConfigError
from synthshare.labels import NUM_CLASSES
from synthshare.reports import augment

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


def draw_batch(
    *, pools: list[SlicePool], probabilities: torch.Tensor, batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, labels, pool index per element): each element picks a pool, then a slice of it."""
    which = torch.multinomial(probabilities, batch_size, replacement=True, generator=generator)
    xs, ys = [], []
    for k in which.tolist():
        i = int(torch.randint(len(pools[k]), (1,), generator=generator))
        xs.append(pools[k].images[i])
        ys.append(pools[k].labels[i])
    return torch.stack(xs), torch.stack(ys), which


def train_unet(
    *,
    model: torch.nn.Module,
    pools: list[SlicePool],
    config: UtilityConfig,
    seed: int,
    progress: bool,
    name: str,
    steps: int | None = None,
    weights: list[float] | None = None,
) -> float:
    """Train ``model`` in place for ``steps`` (default ``config.steps``) Adam steps; returns the last loss.

    Each batch element picks its pool with probability ``weights`` (default: equal), then a slice of
    it, so a large synthetic cohort does not drown the scarce real slices. Each call is one training
    phase: a fresh Adam and, under ``lr_schedule: cosine``, a fresh decay from ``lr`` to zero (a
    fine-tuning phase restarts the schedule, as fine-tuning does). The augmentation draws come from
    their own generator so that switching augmentation on or off leaves the batch draws unchanged.
    """
    from monai.losses import DiceCELoss

    steps = config.steps if steps is None else steps
    if steps < 1:
        raise ConfigError(f"utility: a training phase of {steps} steps; raise utility.steps")
    if weights is not None and len(weights) != len(pools):
        raise ValueError(f"train_unet: {len(weights)} weights for {len(pools)} pools")
    kept = [(p, 1.0 if weights is None else float(w)) for p, w in zip(pools, weights or [1.0] * len(pools)) if len(p)]
    pools = [p for p, _ in kept]
    probabilities = torch.tensor([w for _, w in kept], dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    aug_generator = torch.Generator().manual_seed(seed + 1_000_003)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
        if config.lr_schedule == "cosine"
        else None
    )
    multiple = divisor(config)
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        # 1. draw a batch: which pool each element comes from, then a slice of that pool
        x, y, _ = draw_batch(pools=pools, probabilities=probabilities, batch_size=config.batch_size, generator=generator)
        # 2. augment image and labels together (same draws in every regime: its own generator)
        if augment.enabled(config):
            drawn = augment.draw_augmentation(
                n=x.shape[0], square=x.shape[-1] == x.shape[-2], config=config, generator=aug_generator
            )
            x, y = augment.apply_augmentation(images=x, labels=y, augmentation=drawn)
        x, y = pad_to(x, multiple), pad_to(y, multiple)
        # 3. one optimiser step on Dice + cross-entropy
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        if schedule is not None:
            schedule.step()
        if progress and (step % max(1, steps // 5) == 0 or step == steps - 1):
            logger.info("utility[%s] step %d/%d loss %.4f", name, step + 1, steps, float(loss.detach()))
    return float(loss.detach())


@torch.no_grad()
def predict_volume(*, model: torch.nn.Module, image: np.ndarray, config: UtilityConfig) -> np.ndarray:
    """Labels (S, H, W) uint8 for one (S, H, W) frame, slice by slice."""
    model.train(False)  # inference mode
    h, w = image.shape[-2:]
    x = pad_to(torch.from_numpy(np.asarray(image, dtype=np.float32))[:, None], divisor(config))
    pred = model(x).argmax(dim=1)[:, :h, :w]
    return pred.numpy().astype(np.uint8)
