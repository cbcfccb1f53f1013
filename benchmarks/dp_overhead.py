"""DP-SGD overhead on CPU: time per DP step / time per plain step, same model, same batch.

    python benchmarks/dp_overhead.py [--reps 3] [--models unet1.8m,vae,static,motion] [--no-memory] [--json OUT]

Method. For each model, one plain stage and one private stage per clipping mode (hooks, functorch,
ghost) are built from copies of the same weights, over the same B subjects; the private stages use
q = 1 so every DP batch has exactly B examples, like the plain one. After one warm-up step each,
the modes are timed round-robin (plain, hooks, functorch, ghost, plain, ...) so that load from
other processes on the machine hits all of them alike; the median of `reps` steps is reported.
Peak memory: each (model, mode) runs 2 steps in a fresh subprocess; just before the first step the
kernel's peak-RSS mark is reset (/proc/self/clear_refs), and the report is VmHWM after the last
step minus VmRSS before the first: the extra peak resident memory of training steps, in MiB
(the same figure resource.getrusage's ru_maxrss would give without the import-time peak).

Results feed privacy.modes.AUTO_TABLE; the figures of the run that set it are in that module.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from privacy import plain_stage, private_stage

MODES = ("plain", "hooks", "hooks_summed", "hooks_opacus", "functorch", "ghost")


@contextlib.contextmanager
def _conv_sampler(mode: str) -> Iterator[None]:
    """hooks_opacus = hooks with Opacus' own (unfold) convolution sampler, for reference;
    hooks_summed = hooks that also let autograd compute the convolutions' unused summed weight
    gradients (privacy.conv_weight_grads off): what hooks cost before that module."""
    from opacus.grad_sample import GradSampleHooks, GradSampleHooksFastGradientClipping
    from opacus.grad_sample.conv import compute_conv_grad_sample

    from privacy import engine

    tables = (GradSampleHooks.GRAD_SAMPLERS, GradSampleHooksFastGradientClipping.GRAD_SAMPLERS)
    saved = [dict(t) for t in tables]
    saved_skip = (engine.summed_conv_weight_grads_skipped, engine.inputs_requiring_grad)
    if mode in ("hooks_summed", "hooks_opacus"):
        engine.summed_conv_weight_grads_skipped = lambda module: contextlib.nullcontext()
        engine.inputs_requiring_grad = lambda batch: batch
    if mode == "hooks_opacus":
        for t in tables:
            for cls in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
                t[cls] = compute_conv_grad_sample
    try:
        yield
    finally:
        engine.summed_conv_weight_grads_skipped, engine.inputs_requiring_grad = saved_skip
        for t, s in zip(tables, saved):
            t.clear()
            t.update(s)


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
                         max_grad_norm=1.0, generator=gen, mode="hooks" if mode.startswith("hooks") else mode)  # q = 1


def time_case(name: str, reps: int) -> dict[str, Any]:
    build, shape, batch, ts = CASES[name]
    torch.manual_seed(0)
    base = build()
    data = _dataset(shape, batch, ts)
    loss = _denoise_loss if ts else _recon_loss
    stages = {m: _stage(m, copy.deepcopy(base), data, batch) for m in MODES}
    for m, st in stages.items():  # warm-up
        with _conv_sampler(m):
            st.step(loss)
    wall: dict[str, list[float]] = {m: [] for m in MODES}
    cpu: dict[str, list[float]] = {m: [] for m in MODES}
    for r in range(reps):
        order = MODES[r % len(MODES):] + MODES[: r % len(MODES)]
        for m in order:
            with _conv_sampler(m):
                w0, c0 = time.perf_counter(), time.process_time()
                stages[m].step(loss)
                wall[m].append(time.perf_counter() - w0)
                cpu[m].append(time.process_time() - c0)
    med = {m: statistics.median(v) for m, v in wall.items()}
    med_cpu = {m: statistics.median(v) for m, v in cpu.items()}
    return {"model": name, "params": sum(p.numel() for p in base.parameters()), "batch": batch,
            "example_shape": list(shape), "seconds": med, "cpu_seconds": med_cpu,
            "ratio": {m: med[m] / med["plain"] for m in MODES[1:]},
            "cpu_ratio": {m: med_cpu[m] / med_cpu["plain"] for m in MODES[1:]}}


def memory_child(name: str, mode: str) -> dict[str, Any]:
    build, shape, batch, ts = CASES[name]
    torch.manual_seed(0)
    stage = _stage(mode, build(), _dataset(shape, batch, ts), batch)
    before = _reset_peak_rss_kib()
    with _conv_sampler(mode):
        for _ in range(2):
            stage.step(_denoise_loss if ts else _recon_loss)
    after = _status_kib("VmHWM")
    return {"model": name, "mode": mode, "peak_growth_mib": (after - before) / 1024.0}


def _status_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak_rss_kib() -> int:
    """Reset the peak-RSS mark (Linux: write 5 to clear_refs) so that imports and model building do not
    count; fall back to ru_maxrss when that is not allowed. Returns the resident set now, in KiB."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _status_kib("VmRSS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default=",".join(CASES))
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-models", default="unet1.8m")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: stable on a shared machine; OpenMP spin-waits inflate multi-thread timings)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        sys.stdout.write(json.dumps(memory_child(*args.child)) + "\n")
        return
    results: dict[str, Any] = {"torch_threads": torch.get_num_threads(), "timing": [], "memory": []}
    for name in args.models.split(","):
        row = time_case(name, args.reps)
        results["timing"].append(row)
        s = row["seconds"]
        sys.stdout.write(f"{name:9s} {row['params']:>9,d} params  batch {row['batch']:2d}  plain {s['plain']:.3f}s | "
                         + "  ".join(f"{m} {s[m]:.3f}s {row['ratio'][m]:.2f}x (cpu {row['cpu_ratio'][m]:.2f}x)"
                                     for m in MODES[1:]) + "\n")
        sys.stdout.flush()
    if not args.no_memory:
        for name in args.memory_models.split(","):
            for mode in MODES:
                out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--child", name, mode],
                                     capture_output=True, text=True, check=True)
                rec = json.loads(out.stdout.strip().splitlines()[-1])
                results["memory"].append(rec)
                sys.stdout.write(f"memory {name} {mode:9s} peak RSS growth {rec['peak_growth_mib']:.0f} MiB\n")
                sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
