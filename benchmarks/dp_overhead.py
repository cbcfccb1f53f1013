"""DP-SGD overhead on CPU: time per DP step / time per plain step, same model, same batch.

    python benchmarks/dp_overhead.py [--reps 3] [--models unet1.8m,vae,static,motion] [--no-memory] [--json OUT]

Method. For each model, one plain stage and one private stage per clipping mode (hooks, functorch,
ghost) are built from copies of the same weights, over the same B subjects; the private stages use
q = 1 so every DP batch has exactly B examples, like the plain one. After one warm-up step each,
the modes are timed round-robin (plain, hooks, functorch, ghost, plain, ...) so that load from
other processes on the machine hits all of them alike; the median of `reps` steps is reported.
Peak memory: each (model, mode) runs 2 steps in a fresh subprocess and reports the growth of
ru_maxrss (resource.getrusage, the process's peak resident set) from just before the first step
to after the last; that is the extra peak memory of training steps, in MiB.

Results feed privacy.modes.AUTO_TABLE; the figures of the run that set it are in that module.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import torch
from torch import nn

from privacy import plain_stage, private_stage

MODES = ("plain", "hooks", "functorch", "ghost")


def _unet(in_ch: int, out_ch: int, channels: tuple[int, ...], groups: int) -> nn.Module:
    from monai.networks.nets import DiffusionModelUNet

    return DiffusionModelUNet(spatial_dims=3, in_channels=in_ch, out_channels=out_ch, channels=channels,
                              attention_levels=(False,) * len(channels), num_res_blocks=1, norm_num_groups=groups)


def _vae() -> nn.Module:
    from monai.networks.nets import AutoencoderKL

    return AutoencoderKL(spatial_dims=3, in_channels=1, out_channels=1, channels=(8, 16), latent_channels=4,
                         num_res_blocks=(1, 1), norm_num_groups=4, attention_levels=(False, False),
                         with_encoder_nonlocal_attn=False, with_decoder_nonlocal_attn=False)


def _denoise_loss(module: nn.Module, batch: Any) -> torch.Tensor:
    x, t = batch
    out = module(x, t)
    return ((out - x[:, : out.shape[1]]) ** 2).flatten(1).mean(1)


def _recon_loss(module: nn.Module, batch: Any) -> torch.Tensor:
    (x,) = batch
    recon, _, _ = module(x)
    return ((recon - x) ** 2).flatten(1).mean(1)


# name -> (model builder, example shape, batch size, uses timesteps)
CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int, bool]] = {
    "unet1.8m": (lambda: _unet(4, 4, (32, 64), 8), (4, 8, 8, 4), 32, True),  # ~1.73 M parameters
    "vae": (_vae, (1, 32, 32, 8), 8, False),  # demo VAE shape: one 32 x 32 x 8 frame
    "static": (lambda: _unet(4, 4, (16, 32), 4), (4, 16, 16, 4), 16, True),  # anatomy latent
    "motion": (lambda: _unet(8, 4, (16, 32), 4), (8, 16, 16, 4), 16, True),  # residual + anatomy latent
}


def _dataset(shape: tuple[int, ...], n: int, timesteps: bool) -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(0)
    if timesteps:
        return [(torch.randn(*shape, generator=g), torch.randint(0, 1000, (), generator=g)) for _ in range(n)]
    return [(torch.randn(*shape, generator=g),) for _ in range(n)]


def _stage(mode: str, model: nn.Module, data: list, batch: int) -> Any:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    if mode == "plain":
        return plain_stage(module=model, optimizer=opt, dataset=data, batch_size=batch, generator=gen)
    return private_stage(module=model, optimizer=opt, dataset=data, expected_batch_size=batch, noise_multiplier=1.0,
                         max_grad_norm=1.0, generator=gen, mode=mode)  # q = 1: exactly `batch` examples


def time_case(name: str, reps: int) -> dict[str, Any]:
    build, shape, batch, ts = CASES[name]
    torch.manual_seed(0)
    base = build()
    data = _dataset(shape, batch, ts)
    loss = _denoise_loss if ts else _recon_loss
    stages = {m: _stage(m, copy.deepcopy(base), data, batch) for m in MODES}
    for st in stages.values():  # warm-up
        st.step(loss)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for r in range(reps):
        order = MODES[r % len(MODES):] + MODES[: r % len(MODES)]
        for m in order:
            t0 = time.perf_counter()
            stages[m].step(loss)
            times[m].append(time.perf_counter() - t0)
    med = {m: statistics.median(v) for m, v in times.items()}
    return {"model": name, "params": sum(p.numel() for p in base.parameters()), "batch": batch,
            "example_shape": list(shape), "seconds": med, "ratio": {m: med[m] / med["plain"] for m in MODES[1:]}}


def memory_child(name: str, mode: str) -> dict[str, Any]:
    build, shape, batch, ts = CASES[name]
    torch.manual_seed(0)
    stage = _stage(mode, build(), _dataset(shape, batch, ts), batch)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(2):
        stage.step(_denoise_loss if ts else _recon_loss)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"model": name, "mode": mode, "peak_growth_mib": (after - before) / 1024.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default=",".join(CASES))
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-models", default="unet1.8m")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(memory_child(*args.child)) + "\n")
        return
    results: dict[str, Any] = {"torch_threads": torch.get_num_threads(), "timing": [], "memory": []}
    for name in args.models.split(","):
        row = time_case(name, args.reps)
        results["timing"].append(row)
        s = row["seconds"]
        sys.stdout.write(f"{name:9s} {row['params']:>9,d} params  batch {row['batch']:2d}  plain {s['plain']:.3f}s  "
                         + "  ".join(f"{m} {s[m]:.3f}s ({row['ratio'][m]:.2f}x)" for m in MODES[1:]) + "\n")
        sys.stdout.flush()
    if not args.no_memory:
        for name in args.memory_models.split(","):
            for mode in MODES:
                out = subprocess.run([sys.executable, __file__, "--child", name, mode], capture_output=True, text=True,
                                     check=True)
                rec = json.loads(out.stdout.strip().splitlines()[-1])
                results["memory"].append(rec)
                sys.stdout.write(f"memory {name} {mode:9s} peak RSS growth {rec['peak_growth_mib']:.0f} MiB\n")
                sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
