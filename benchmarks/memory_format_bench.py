"""The VAE's channels-last compute layout on the CPU: seconds per training step, both layouts side by side.

    python benchmarks/memory_format_bench.py [--config demo] [--reps 10] [--threads 2] [--modes plain,hooks]

synthshare/models/vae.py runs the VAE's convolutions on NDHWC (channels_last_3d) activations on the
CPU. This script measures why: the demo VAE (real module, real per-sample loss, demo frame shape,
random frames with random labels) is trained from one initialisation in two copies, one computing
in the default NCDHW layout and one channels-last, plain and (``hooks``) under DP-SGD with Opacus
hooks per-sample gradients. The copies step round-robin so machine load hits both alike; after two
warm-up steps each, the median of ``reps`` steps is printed with the ratio default / channels-last.
The two copies' losses after the timed steps are printed too: the layout changes the order of
floating-point sums, not the model (they agree to float32 rounding).

Measured 2026-12-01, 2-core CPU machine (its default test suite about 4 minutes), demo config, batch 8
frames of 1 x 10 x 32 x 32, `python benchmarks/memory_format_bench.py --reps 6 --threads T`:
  T = 2 (a release):  plain default 0.455 s/step, channels-last 0.310 s/step, 1.47x;
                      DP hooks default 0.584, channels-last 0.565, 1.03x
  T = 1:              plain 0.537 vs 0.478, 1.12x; DP hooks 0.747 vs 0.797, 0.94x (slower)
  last losses equal to the 5 digits printed in every row. In a demo release the VAE stage (600 steps and
  the latent encoding) took 2 min 32 s, against 4 min 19 s in the last release before this layout.
  Under DP with one thread the layout costs 6%; DP on this cohort is not a usable setting (README), so
  the layout is not switched per mode.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

import torch

from privacy import plain_stage, private_stage
from synthshare.config import load_config
from synthshare.labels import NUM_CLASSES
from synthshare.models import vae as vae_module
from synthshare.models.vae import SegVAE, latent_shape, vae_per_sample_loss

LAYOUTS = ("default", "channels_last")


@contextlib.contextmanager
def _layout(name: str) -> Iterator[None]:
    saved = vae_module._compute_layout
    if name == "default":
        vae_module._compute_layout = lambda x: x
    try:
        yield
    finally:
        vae_module._compute_layout = saved


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


def run(*, config_name: str, reps: int, modes: list[str]) -> dict[str, Any]:
    config = load_config(config_name)
    s, (h, w) = config.data.slices, config.data.crop
    batch = config.vae.batch_size
    z_shape = latent_shape(config=config.vae, slices=s, height=h, width=w)
    data = _dataset(slices=s, h=h, w=w, n=batch)
    torch.manual_seed(0)
    base = SegVAE(config=config.vae)
    rows = []
    for mode in modes:
        stages, gens = {}, {}
        for layout in LAYOUTS:
            model = copy.deepcopy(base)
            opt = torch.optim.Adam(model.parameters(), lr=config.vae.lr)
            gen = torch.Generator().manual_seed(0)
            if mode == "plain":
                stages[layout] = plain_stage(module=model, optimizer=opt, dataset=data, batch_size=batch, generator=gen)
            else:  # q = 1: every DP batch holds the same `batch` examples as the plain one
                stages[layout] = private_stage(module=model, optimizer=opt, dataset=data, expected_batch_size=batch,
                                               noise_multiplier=1.0, max_grad_norm=1.0, generator=gen, mode=mode)
            gens[layout] = torch.Generator().manual_seed(1)

        def loss_for(layout: str):
            def loss(model: torch.nn.Module, b: dict[str, Any]) -> torch.Tensor:
                noise = torch.randn((b["image"].shape[0], *z_shape), generator=gens[layout])
                out = model(b["image"], noise)
                return vae_per_sample_loss(out=out, image=b["image"], labels=b["labels"], labelled=b["labelled"],
                                           config=config.vae)
            return loss

        seconds: dict[str, list[float]] = {k: [] for k in LAYOUTS}
        last: dict[str, float] = {}
        for r in range(reps + 2):
            for layout in LAYOUTS if r % 2 == 0 else tuple(reversed(LAYOUTS)):
                with _layout(layout):
                    t0 = time.perf_counter()
                    last[layout] = float(stages[layout].step(loss_for(layout)))
                    if r >= 2:
                        seconds[layout].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in seconds.items()}
        row = {"mode": mode, "batch": batch, "frame": [1, s, h, w], "seconds_per_step": med,
               "speedup": med["default"] / med["channels_last"], "last_loss": last}
        rows.append(row)
        sys.stdout.write(f"vae {mode:6s} batch {batch} frame 1x{s}x{h}x{w}: default {med['default']:.3f} s/step, "
                         f"channels-last {med['channels_last']:.3f} s/step, speedup {row['speedup']:.2f}x "
                         f"(last loss {last['default']:.5f} vs {last['channels_last']:.5f})\n")
        sys.stdout.flush()
    return {"config": config_name, "torch_threads": torch.get_num_threads(), "reps": reps, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="demo")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (2: what a release uses on this machine)")
    ap.add_argument("--modes", default="plain,hooks", help="comma list of plain, hooks, functorch, ghost")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = run(config_name=args.config, reps=args.reps, modes=args.modes.split(","))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
