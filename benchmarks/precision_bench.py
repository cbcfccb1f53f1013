"""bfloat16 autocast against float32 for the generator's three training stages: seconds per step, side by side.

    python benchmarks/precision_bench.py [--config demo] [--reps 8] [--threads 2]

models/precision.py trains the VAE and both denoisers under bfloat16 autocast where the CPU computes
bfloat16 natively (`precision: auto` in configs/demo.yaml). This script measures what that buys: each
stage's real module and real per-example loss (the demo shapes and batch sizes, random inputs) is
trained from one initialisation in two copies, one in float32 and one under autocast. The copies step
round-robin so machine load hits both alike; after two warm-up steps each, the median of ``reps``
steps is printed with the ratio float32 / bfloat16, and both copies' last losses (bfloat16 rounds the
forward pass, so they differ in the third digit, not more).

Measured 2026-12-02 on the 2-core CPU machine (AVX512-BF16 and AMX), demo config,
`python benchmarks/precision_bench.py`, seconds per step float32 / bfloat16 (ratio), last losses:
  vae     0.362 / 0.282 (1.28x)   1.31904 / 1.3192
  static  0.298 / 0.185 (1.61x)   0.77092 / 0.7728
  motion  0.301 / 0.196 (1.54x)   0.90621 / 0.90643
The release this buys is measured in models/precision.py's docstring. Those figures predate the channels-last
weights (models/device.py: to_compute_device), which this script now applies to both copies as a release does.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from synthshare.config import load_config
from synthshare.labels import NUM_CLASSES
from synthshare.models.conditioning import CONDITION_DIM
from synthshare.models.device import to_compute_device
from synthshare.models.precision import autocast, native_bfloat16
from synthshare.models.vae import SegVAE, latent_shape, vae_per_sample_loss
from synthshare.train.latent_stage import build_motion, build_static

PRECISIONS = ("float32", "bfloat16")


def _time(*, make: Callable[[], nn.Module], loss: Callable[[nn.Module], torch.Tensor], reps: int) -> dict[str, Any]:
    torch.manual_seed(0)
    base = to_compute_device(make())  # on the device and in the layout a release trains in
    models = {p: copy.deepcopy(base) for p in PRECISIONS}
    optimisers = {p: torch.optim.Adam(m.parameters(), lr=1e-3) for p, m in models.items()}
    seconds: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    last: dict[str, float] = {}
    cpu = torch.device("cpu")
    for rep in range(reps + 2):
        for p, model in models.items():
            start = time.perf_counter()
            with autocast(p, cpu):  # type: ignore[arg-type]
                value = loss(model)
            optimisers[p].zero_grad(set_to_none=True)
            value.backward()
            optimisers[p].step()
            if rep >= 2:
                seconds[p].append(time.perf_counter() - start)
            last[p] = float(value.detach())
    f32, b16 = statistics.median(seconds["float32"]), statistics.median(seconds["bfloat16"])
    return {"float32_s": round(f32, 4), "bfloat16_s": round(b16, 4), "ratio": round(f32 / b16, 2),
            "last_loss": {p: round(v, 5) for p, v in last.items()}}


def run(*, config_name: str, reps: int) -> dict[str, Any]:
    config = load_config(config_name)
    s, (h, w) = config.data.slices, config.data.crop
    z = latent_shape(config=config.vae, slices=s, height=h, width=w)  # (C, S, h, w)
    g = torch.Generator().manual_seed(0)
    b = config.vae.batch_size
    image = torch.rand(b, 1, s, h, w, generator=g)
    labels = torch.randint(0, NUM_CLASSES, (b, s, h, w), generator=g)
    labelled = (torch.arange(b) % 2).float()
    noise = torch.randn(b, *z, generator=g)

    def vae_loss(model: nn.Module) -> torch.Tensor:
        return vae_per_sample_loss(out=model(image, noise), image=image, labels=labels, labelled=labelled,
                                   config=config.vae).mean()

    def denoiser_loss(batch: int, channels: int, context: bool) -> Callable[[nn.Module], torch.Tensor]:
        x = torch.randn(batch, channels, *z[1:], generator=g)
        t = torch.randint(0, 1000, (batch,), generator=g)
        c = torch.randn(batch, CONDITION_DIM, generator=g)
        ctx = torch.randn(batch, *z, generator=g) if context else None
        return lambda m: (m(x, t, c, ctx) if context else m(x, t, c)).float().sub(x).pow(2).mean()

    latent_c, frames = z[0], config.data.frames
    rows = {
        "vae": _time(make=lambda: SegVAE(config=config.vae), loss=vae_loss, reps=reps),
        "static": _time(make=lambda: build_static(config=config, latent_channels=latent_c),
                        loss=denoiser_loss(config.static.batch_size, latent_c, False), reps=reps),
        "motion": _time(make=lambda: build_motion(config=config, latent_channels=latent_c),
                        loss=denoiser_loss(config.motion.batch_size, latent_c * (frames - 1), True), reps=reps),
    }
    return {"config": config_name, "threads": torch.get_num_threads(), "native_bfloat16": native_bfloat16(),
            "stages": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="demo")
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(json.dumps(run(config_name=args.config, reps=args.reps), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
