"""Stage 1 job: the semi-supervised VAE trained on one random frame per subject per step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from synthshare.config import Config
from synthshare.data.prepared import PreparedSubject
from synthshare.models.device import device_of
from synthshare.models.precision import autocast, training_precision
from synthshare.models.vae import SegVAE, latent_shape, vae_per_sample_loss
from synthshare.train.datasets import VAEFrameDataset
from synthshare.train.job import StageJob


def build_vae(*, config: Config) -> SegVAE:
    return SegVAE(config=config.vae)


def vae_job(*, config: Config, train_keys: list[str], load: Callable[[str], PreparedSubject], seed: int) -> StageJob:
    torch.manual_seed(seed)  # weight init
    module = build_vae(config=config)
    frames = torch.Generator().manual_seed(seed + 1)
    loss_gen = torch.Generator().manual_seed(seed + 2)
    dataset = VAEFrameDataset(keys=train_keys, load=load, generator=frames)
    s = config.data.slices
    h, w = config.data.crop
    z_shape = latent_shape(config=config.vae, slices=s, height=h, width=w)
    precision = training_precision(config)

    def loss(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        device = device_of(model)
        image = batch["image"].to(device)
        noise = torch.randn((image.shape[0], *z_shape), generator=loss_gen).to(device)
        with autocast(precision, device):
            out = model(image, noise)
        return vae_per_sample_loss(out=out, image=image, labels=batch["labels"].to(device),
                                   labelled=batch["labelled"].to(device), config=config.vae)

    v = config.vae
    return StageJob(name="vae", module=module, dataset=dataset, loss=loss, loss_generator=loss_gen,
                    steps=v.steps, batch_size=v.batch_size, lr=v.lr, lr_schedule=v.lr_schedule)
