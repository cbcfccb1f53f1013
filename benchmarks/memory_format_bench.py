"""The channels-last compute layout on the CPU: seconds per training step of each stage, three layouts side by side.

    python benchmarks/memory_format_bench.py [--config demo] [--reps 10] [--threads 2] [--modes plain,hooks]
                                             [--stages vae,static,motion] [--json FILE]

On the CPU the VAE and both latent denoisers compute on channels-last (NDHWC, channels_last_3d)
activations, with their Conv3d weights channels-last too (synthshare/models/device.py). This script
measures why. Each stage (the demo VAE with its real per-sample loss on random frames; the static and
motion stages through the release's own jobs, train/latent_stage.py, on random latents) is trained from
one initialisation in three copies:
  default      NCDHW activations and weights;
  activations  channels-last activations, default weights (what the VAE alone did before 2026-12-02);
  channels_last  both, what a release does now;
plain and (``hooks``) under DP-SGD with Opacus hooks per-sample gradients. The copies step in rotating
order so machine load hits all alike; after two warm-up steps each, the median of ``reps`` steps is
printed with the ratio default / layout. The copies' losses after the timed steps are printed too: the
layout changes the order of floating-point sums, not the model (they agree to float32 rounding).

Measured 2026-12-02, 2-core Intel Xeon Ice Lake (float32), demo config,
`python benchmarks/memory_format_bench.py --reps 10 --threads 2`, s/step default / activations / both:
  vae    plain 0.437 / 0.322 / 0.310 (1.41x)     hooks 0.592 / 0.612 / 0.614 (0.97x)
  static plain 0.299 / 0.289 / 0.268 (1.12x)     hooks 0.426 / 0.438 / 0.428 (1.00x)
  motion plain 0.317 / 0.305 / 0.273 (1.16x)     hooks 0.510 / 0.514 / 0.490 (1.04x)
  last losses equal to the 5 digits printed in every row.
Channels-last activations alone help the 8-channel VAE but barely the 16/32-channel denoisers; with the
weights in the same layout oneDNN skips a weight reorder at every call. Under DP-SGD the layout is about
even (Opacus unfolds the activations for per-sample gradients either way); DP on this cohort is not a
usable setting (README), so the layout is not switched per mode.
On a 2-core Intel CPU with AMX (2026-12-02, `--reps 10 --threads 2 --modes plain`), where `precision: auto`
trains under bfloat16 autocast, s/step default / activations / both:
  vae    0.491 / 0.370 / 0.316 (1.55x)   static 0.170 / 0.177 / 0.187 (0.91x)   motion 0.216 / 0.221 / 0.230 (0.94x)
So under bfloat16 the layout still pays for the VAE but costs the denoisers 6-9% of their steps (about 10 s of
a demo release's 2 min 47 s of denoiser training there); the denoisers keep one layout on every CPU.
Earlier (2026-12-01, VAE only, another 2-core CPU, `--reps 6 --threads T`): T = 2 plain 0.455 vs 0.310
s/step with channels-last activations, 1.47x, DP hooks 1.03x; T = 1 plain 1.12x, DP hooks 0.94x.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

from privacy import plain_stage, private_stage
from synthshare.config import load_config
from synthshare.labels import NUM_CLASSES
from synthshare.models import denoiser as denoiser_module
from synthshare.models import vae as vae_module
from synthshare.models.conditioning import CONDITION_DIM
from synthshare.models.device import to_compute_device
from synthshare.models.vae import SegVAE, latent_shape, vae_per_sample_loss
from synthshare.train.latent_stage import motion_job, static_job

# default: NCDHW throughout; activations: channels-last activations, default weights (the VAE before
# 2026-12-02); channels_last: both, what a release does on the CPU
LAYOUTS = ("default", "activations", "channels_last")
STAGES = ("vae", "static", "motion")


@contextlib.contextmanager
def _layout(name: str) -> Iterator[None]:
    """The default layout: every network's compute_layout made the identity for the duration."""
    saved = {m: m.compute_layout for m in (vae_module, denoiser_module)}
    if name == "default":
        for m in saved:
            m.compute_layout = lambda x: x
    try:
        yield
    finally:
        for m, fn in saved.items():
            m.compute_layout = fn


def _dataset(*, slices: int, h: int, w: int, n: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "image": torch.rand(1, slices, h, w, generator=g),
            "labels": torch.randint(0, NUM_CLASSES, (slices, h, w), generator=g),
            "labelled": torch.tensor(float(i % 2)),
        }
        for i in range(n)
    ]


def _vae_copy(config: Any) -> tuple[torch.nn.Module, Any, Callable, int]:
    """(module, dataset, loss, batch) of the demo VAE stage: same init and random draws in every copy."""
    s, (h, w) = config.data.slices, config.data.crop
    batch = config.vae.batch_size
    z_shape = latent_shape(config=config.vae, slices=s, height=h, width=w)
    torch.manual_seed(0)
    model = SegVAE(config=config.vae)
    gen = torch.Generator().manual_seed(1)

    def loss(m: torch.nn.Module, b: dict[str, Any]) -> torch.Tensor:
        noise = torch.randn((b["image"].shape[0], *z_shape), generator=gen)
        return vae_per_sample_loss(out=m(b["image"], noise), image=b["image"], labels=b["labels"], labelled=b["labelled"],
                                   config=config.vae)

    return model, _dataset(slices=s, h=h, w=w, n=batch), loss, batch


def _denoiser_copy(config: Any, stage: str, private: bool) -> tuple[torch.nn.Module, Any, Callable, int]:
    """(module, dataset, loss, batch) of the release's own static or motion job on random latents (one batch of
    subjects), precision as the release resolves it on this CPU."""
    s, (h, w) = config.data.slices, config.data.crop
    section = config.static if stage == "static" else config.motion
    z_shape = latent_shape(config=config.vae, slices=s, height=h, width=w)
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(section.batch_size, config.data.frames, *z_shape, generator=g)
    cond = torch.rand(section.batch_size, CONDITION_DIM, generator=g)
    if stage == "static":
        job = static_job(config=config, latents=latents, cond=cond, private=private, seed=0)
    else:
        job = motion_job(config=config, latents=latents, cond=cond, latent_scale=1.0, private=private, seed=0)
    return job.module, job.dataset, job.loss, job.batch_size


def run(*, config_name: str, reps: int, modes: list[str], stages: list[str]) -> dict[str, Any]:
    config = load_config(config_name)
    rows = []
    for stage in stages:
        for mode in modes:
            steppers, losses = {}, {}
            for layout in LAYOUTS:
                model, data, loss, batch = (_vae_copy(config) if stage == "vae"
                                            else _denoiser_copy(config, stage, private=mode != "plain"))
                if layout == "channels_last":
                    to_compute_device(model)  # what the release does: Conv3d weights channels-last on the CPU
                opt = torch.optim.Adam(model.parameters(), lr=1e-3)
                gen = torch.Generator().manual_seed(0)
                if mode == "plain":
                    steppers[layout] = plain_stage(module=model, optimizer=opt, dataset=data, batch_size=batch, generator=gen)
                else:  # q = 1: every DP batch holds the same `batch` examples as the plain one
                    steppers[layout] = private_stage(module=model, optimizer=opt, dataset=data, expected_batch_size=batch,
                                                     noise_multiplier=1.0, max_grad_norm=1.0, generator=gen, mode=mode)
                losses[layout] = loss
            seconds: dict[str, list[float]] = {k: [] for k in LAYOUTS}
            last: dict[str, float] = {}
            for r in range(reps + 2):
                for layout in LAYOUTS[r % len(LAYOUTS):] + LAYOUTS[:r % len(LAYOUTS)]:  # rotate the order
                    with _layout(layout):
                        t0 = time.perf_counter()
                        last[layout] = float(steppers[layout].step(losses[layout]))
                        if r >= 2:
                            seconds[layout].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in seconds.items()}
            row = {"stage": stage, "mode": mode, "batch": batch, "seconds_per_step": med,
                   "speedup": {k: med["default"] / med[k] for k in LAYOUTS[1:]}, "last_loss": last}
            rows.append(row)
            sys.stdout.write(f"{stage:6s} {mode:6s} batch {batch:2d} s/step: default {med['default']:.3f}, "
                             f"channels-last activations {med['activations']:.3f} ({row['speedup']['activations']:.2f}x), "
                             f"and weights {med['channels_last']:.3f} ({row['speedup']['channels_last']:.2f}x); last loss "
                             + " / ".join(f"{last[k]:.5f}" for k in LAYOUTS) + "\n")
            sys.stdout.flush()
    return {"config": config_name, "torch_threads": torch.get_num_threads(), "reps": reps, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="demo")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (2: what a release uses on this machine)")
    ap.add_argument("--modes", default="plain,hooks", help="comma list of plain, hooks, functorch, ghost")
    ap.add_argument("--stages", default=",".join(STAGES), help="comma list of vae, static, motion")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = run(config_name=args.config, reps=args.reps, modes=args.modes.split(","), stages=args.stages.split(","))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
