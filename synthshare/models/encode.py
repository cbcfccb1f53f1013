"""Frames -> VAE latents (posterior means), batched over frames of one subject at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from synthshare.data.prepared import PreparedSubject
from synthshare.models.vae import SegVAE


@torch.no_grad()
def encode_frames(*, vae: SegVAE, image: np.ndarray, batch_size: int = 8) -> torch.Tensor:
    """(T, S, H, W) image -> (T, C, S, h, w) posterior-mean latents."""
    device = next(vae.parameters()).device
    frames = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[:, None]
    out = [vae.encode(frames[i : i + batch_size].to(device))[0].cpu() for i in range(0, frames.shape[0], batch_size)]
    return torch.cat(out)


@torch.no_grad()
def encode_subjects(*, vae: SegVAE, subjects: Iterable[PreparedSubject] | None = None,
                    keys: list[str] | None = None, load: Callable[[str], PreparedSubject] | None = None) -> torch.Tensor:
    """(N, T, C, S, h, w) latents of every subject (given, or loaded by key one at a time)."""
    vae.train(False)  # inference mode
    if subjects is None:
        if keys is None or load is None:
            raise ValueError("encode_subjects needs subjects, or keys and load")
        subjects = (load(k) for k in keys)
    return torch.stack([encode_frames(vae=vae, image=s.image) for s in subjects])
