"""Generator benchmark: controllability, temporal coherence and speed on a phantom cohort.

    python benchmarks/generator_bench.py [--config demo] [--n-edv 10] [--n-ef 10] [--coherence 30] [--work DIR] [--out DIR]
    (--n-edv 0 skips step 3)

1. writes the phantom cohort of the config (its truth is the ground truth for controllability),
2. prepares, splits and trains the cascade (train split only; resumes inside --work),
3. samples a grid of requested LV EDV x EF (>= 100 subjects by default) and measures the
   generated segmentations: Pearson r and MAE, requested vs measured, for LV EDV, ESV, EF,
4. temporal coherence against REAL curves: the holdout phantoms re-rendered with labels on every
   frame and prepared like the cohort (a real cohort labels only ED and ES) are the real curves;
   the same subjects' conditions and seeds (so the same anatomy) are sampled several ways:
   joint: the joint motion model (all frames' residuals in one sample), the release path;
   joint_NAME: each --motion-variant, another joint motion model (e.g. the other motion.layout) trained
     beside it on the run's VAE and anatomy (in --work/run-NAME);
   joint_model_per_frame_draws: the joint model sampled once per frame, each frame's residual from its own
     draw (what dropping the joint sample would cost; not the published method);
   perframe_model_shared_noise / _independent_noise: the PUBLISHED baseline, a motion model that sees one
     frame (z_t - z_ED, context z_ED + the phase), trained on the same data, steps, batch and lr, sampled
     per frame with the same initial noise for every frame (the published sampler) or its own noise
     (benchmarks/perframe_baseline.py; trained once, cached in --work/perframe_baseline; never DP, never
     released: it folds frames into the batch).
   Per set (reports/curves.py): roughness (RMS cyclic second difference / stroke volume) and its ratio to
   real, shape distance (|normalised curve - real mean normalised curve|, in stroke volumes; mean and
   median; the real set's own value is the spread of real hearts), band sd (spread across subjects), the
   share of curves straying further from the real mean than the worst real curve, the share with one
   systole and with ED at frame 0, network evaluations and subjects per second of the sampler; the same
   for the VAE round trip of the real frames (encode, decode the segmentation): the ceiling.
   --out DIR writes coherence.png (real band | each sampler) and generator_bench.json,
5. network evaluations per subject and subjects per second.

Measured 2026-12-01 on the current demo config (600 VAE and anatomy steps; motion LDM frames_in_channels,
16/32 channels, 300 steps):
python benchmarks/generator_bench.py --config demo --work W --out O \
    --motion-variant 'ta600={"layout":"time_axis","steps":600}' --motion-variant 'ta1200={"layout":"time_axis","steps":1200}'
(torch's default 2 threads) with W/run and W/phantom links to the run and phantom of a `synthshare release`
of that config (so only the per-frame baseline trained here: 300 steps, 73 s, final loss 0.26; the two
time-axis variants were trained by earlier runs of this bench into W/run-ta600, W/run-ta1200, 3 and 5 min);
2 CPU cores of a machine about 2x slower than the 2026-11-23 one (its test suite 4 min 25 s against 2 min
06 s); 100 phantoms with drawn curve shapes, 70 train, window 32 x 32 x 10 at 4 mm; JSON and plot in
benchmarks/results/:
  controllability over the 10 x 10 EDV x EF grid (100 subjects): LV EDV r 0.955 MAE 31.7 mL; ESV r 0.960
  MAE 28.9 mL; EF r 0.985 MAE 5.0 points. 88 network evaluations per subject; 1.17 subjects/s.
  temporal coherence over 30 holdout subjects (roughness ratio to real, shape distance to the real mean
  curve mean / median in stroke volumes, band sd, beyond the worst real curve, one systole, ED at frame 0,
  evaluations per subject, motion membership AUC [95% CI] of the release audit's motion attack):
    real                                 -     0.076 / 0.071  0.093   0%  100%  100%    -
    VAE round trip                      0.94   0.074 / 0.071  0.086   0%  100%  100%    -
    joint (fic, the release path)       0.94   0.040 / 0.039  0.038   0%   87%  100%    88   0.600 [0.473, 0.714]
    joint, time_axis, 600 steps         1.01   0.068 / 0.061  0.087   0%   77%   97%    88   0.717 [0.600, 0.817]
    joint, time_axis, 1200 steps        0.97   0.058 / 0.051  0.064   0%   93%  100%    88   0.910 [0.849, 0.963]
    joint model, per-frame draws        0.93   0.041 / 0.041  0.038   0%   93%  100%   328
    per-frame model, shared noise       0.93   0.085 / 0.071  0.071   3%  100%  100%   328
    per-frame model, independent noise  0.94   0.086 / 0.069  0.081   7%   97%  100%   328
  The release path never leaves the real envelope (the published per-frame model: 3% and 7% of curves) at
  3.7x fewer evaluations, but gives every heart nearly the mean curve shape (spread 0.038 against 0.093)
  and has a second dip in diastole in 4 of 30 (one systole 87% against 97-100%). The time-axis layout
  (models/motion.py) widens the spread and at 1200 steps reaches 93% one systole inside the envelope, but
  it memorises: its motion membership AUC upper bound 0.963 is over the default gate's 0.85, and a
  `synthshare release` of the demo with it was blocked by membership.denoising_error_motion.auc (exit 3).
  At 600 steps it passes (0.817) with 77% one systole. So NO joint model here is both more coherent on
  every measure than per-frame sampling and releasable. Also measured on time_axis (one systole / spread
  from this bench with --sets and --motion-variant, before motion_membership was added to it; the AUC
  upper bounds in brackets by the same scores and bootstrap, seed 0, in a one-off script): 300 steps 63% / 0.093 (AUC upper 0.693), 600 steps at
  lr 4e-3 67% / 0.075 (0.799), 32/64 channels at 300 steps 73% / 0.092 (0.711), 1200 steps with EMA 0.995
  83% / 0.063 (0.977), 8/16 channels at 1200 steps 73% / 0.049 (0.885, by this bench), 1200 steps with
  motion.context_noise 0.5 (conditioning augmentation of z_ED) 90% / 0.078, 3% beyond the worst real curve
  (AUC 0.852 [0.765, 0.925], by this bench: less memorisation than 0.910, still over the gate); on the 1200-step model motion guidance 1.0 93% / 0.057, 1.5 90% / 0.059, 30 DDIM
  steps 93% / 0.065. The frames-in-channels model with motion guidance 1.0: 100% / 0.027.
  Stronger conditioning augmentation (2026-12-01, same W, --n-edv 0 --sets joint_ta1200cn1,joint_ta900cn1
  --motion-variant 'ta1200cn1={"layout":"time_axis","steps":1200,"context_noise":1.0}' --motion-variant
  'ta900cn1={"layout":"time_axis","steps":900,"context_noise":1.0}'; benchmarks/results/
  generator_bench_context_noise.json), one systole / ED at frame 0 / spread / beyond the worst real / motion AUC:
    time_axis 1200 steps, context_noise 1.0   80%   97%  0.078  0%  0.815 [0.722, 0.892]  (still over 0.85)
    time_axis  900 steps, context_noise 1.0   80%   97%  0.068  0%  0.739 [0.630, 0.833]  (releasable)
  Noise on the anatomy context does cut memorisation (AUC 0.910 -> 0.852 -> 0.815 at 1200 steps for noise 0,
  0.5, 1.0), but it costs the coherence it bought: one systole 93% -> 90% -> 80%.

Re-measured 2026-12-01 after the VAE moved to the channels-last layout (models/vae.py: the same model, other
float rounding, so another training), W/run and W/phantom linked to a fresh demo release's work folder,
`python benchmarks/generator_bench.py --config demo --work W --out O` (anatomy guidance 2.0 then):
  grid LV EDV r 0.948 MAE 34.1 mL, ESV r 0.977 MAE 44.4 mL, EF r 0.974 MAE 9.7 points; 88 evaluations, 1.07 subj/s
    real                                 -     0.076 / 0.071  0.093   0%  100%  100%
    VAE round trip                      0.94   0.073 / 0.070  0.085   0%  100%  100%
    joint (fic, the release path)       0.94   0.042 / 0.037  0.039   0%   87%  100%    88   0.597 [0.468, 0.719]
    joint model, per-frame draws        0.93   0.043 / 0.036  0.042   0%   87%  100%   328
    per-frame model, shared noise       0.96   0.094 / 0.071  0.092   7%   97%  100%   328
    per-frame model, independent noise  0.96   0.092 / 0.063  0.097  10%   93%  100%   328
  EDV r 0.948 is under the 0.95 goal, so the anatomy guidance was measured on the same run with --sampling
  '{"guidance_scale": G, "motion_guidance_scale": 2.0}' (grid r (MAE) EDV / ESV / EF; joint one systole):
    G 3.0: 0.925 (42.1) / 0.972 (54.2) / 0.967 (11.0), 93%      G 2.0: 0.948 (34.1) / 0.977 (44.4) / 0.974 (9.7), 87%
    G 1.5: 0.956 (28.5) / 0.977 (38.2) / 0.977 (9.0), 90%       G 1.0: 0.953 (23.1) / 0.957 (28.7) / 0.973 (7.8), 90%
  configs/demo.yaml now samples the anatomy at 1.5 (motion stays at 2.0; 88 evaluations).
  A temporal prior tried and removed: band-limiting each sampled residual trajectory to K harmonics of the
  cycle (a least-squares projection keeping ED at 0; commit ce40024, --sampling-variant
  'harm2={"motion_harmonics":2}'): one systole 83% with K = 2 and 80% with K = 3, against 87% without. The
  second dips are low-harmonic shapes, not frame-to-frame jitter.

Re-measured 2026-12-02 after the generator moved to bfloat16 autocast training (models/precision.py: the
same models, bfloat16 rounding in the forward pass, so another training), W/run and W/phantom linked to a
demo release's work folder, `python benchmarks/generator_bench.py --config demo --work W --out O --draws 3
--sets joint,perframe_model_shared_noise,perframe_model_independent_noise` (benchmarks/results/
generator_bench.json): every holdout heart sampled 3 times, 90 curves per synthetic set, Wilson 95%
intervals in brackets (30 curves gave intervals too wide to tell 87% from 97%):
  grid LV EDV r 0.956 MAE 18.6 mL, ESV r 0.959 MAE 24.5 mL, EF r 0.988 MAE 7.5 points; 88 evaluations, 1.17 subj/s
    (roughness ratio, shape distance mean / median, band sd, beyond the worst real, one systole, ED at frame 0,
    evaluations, motion membership AUC)
    real                                 -     0.076 / 0.071  0.093   0%   100% [89, 100]  100% [89, 100]
    VAE round trip                      0.95   0.073 / 0.071  0.086   0%   100% [89, 100]  100% [89, 100]
    joint (fic, the release path)       0.97   0.044 / 0.035  0.051   1%    91% [83, 95]   100% [96, 100]  88  0.616 [0.491, 0.731]
    per-frame model, shared noise       0.96   0.088 / 0.061  0.081  20%   100% [96, 100]  100% [96, 100] 328
    per-frame model, independent noise  0.98   0.091 / 0.067  0.088  21%    93% [86, 97]   100% [96, 100] 328
  With 90 curves the picture is sharper than with 30: the published per-frame sampler leaves the real envelope
  in 20% of its curves (the release path 1%), and the release path's one-systole share (91%) is below the
  per-frame sampler with shared noise (100%): the intervals do not overlap. Its failures are a dip of 5-10% of
  the stroke volume in diastasis, where the real curve is flat (frame 6 of 8), mostly in low-EF hearts.
  Motion tries on the same run (--n-edv 0, --motion-variant NAME=JSON; JSONs in benchmarks/results/), one
  systole / ED at frame 0 / spread / beyond the worst real / motion AUC:
    EMA 0.99 (--draws 3)                        88% [79, 93]  91%  0.078   3%  0.603 [0.477, 0.720]
    600 steps (30 curves)                       90%           97%  0.044   0%  0.643 [0.531, 0.761]
    noise correlated across frames, rho 0.5     84% [76, 91]  94%  0.065   3%  0.578 [0.459, 0.696]
    noise correlated across frames, rho 0.8     88% [79, 93]  91%  0.141  10%  0.590 [0.466, 0.709]
    motion guidance 1.5 (--sampling)           93% [86, 97] 100%  0.035   0%  (the same model: 0.616)
      (grid at motion guidance 1.5: ESV r 0.977 MAE 28.4 mL, EF r 0.985 MAE 9.3 points, against 24.5 / 7.5)
    motion guidance only at t / T in [0.5, 1]  94% [88, 98] 100%  0.033   0%  78 evaluations
                        ... in [0.2, 0.8]  90% [82, 95] 100%  0.039   0%  80
                        ... in [0.0, 0.5]  91% [83, 95] 100%  0.038   0%  78
      (guidance in a limited interval, Kynkaanniemi et al. 2024; --sampling-variant with a sampler option
      implemented, measured and removed: benchmarks/results/generator_bench_guidance_interval.json)
  Every sampler-side setting moves along one trade-off: more one-systole curves for a narrower spread of
  shapes (motion guidance 1.0: 100% and 0.027). None reaches both the per-frame sampler's 100% and its spread.
  EMA widens the spread of curve shapes towards real (0.078 against 0.051) but costs ED at frame 0. The
  correlated noise (mixed noise, Ge et al. 2023 "Preserve Your Own Correlation", in training, sampling and the
  audit's scores alike) made every coherence figure worse; it was implemented, measured and removed.

Measured 2026-12-02 on a 2-core AMD EPYC without AVX-512 (float32 training), W/run and W/phantom linked to a demo
release's work folder, `python benchmarks/generator_bench.py --config demo --work W --out O --n-edv 0 --draws 3
--sets joint,joint_qc4,perframe_model_shared_noise,perframe_model_independent_noise --sampling-variant
'qc4={"plausibility_tries":4}'` (benchmarks/results/generator_bench_plausibility.json and its coherence png; the
per-frame baseline retrained here: 300 steps, 190 s, final loss 0.27). 90 curves a set; columns as above plus
draws per subject (roughness ratio, shape distance mean / median, band sd, beyond the worst real, one systole,
ED at frame 0, evaluations, draws):
    real                                 -     0.076 / 0.071  0.093   0%   100% [89, 100]  100%
    joint, first draws (the model)      0.94   0.036 / 0.028  0.039   0%    91% [83, 95]   100%   88   1
    joint + plausibility check (the     0.94   0.033 / 0.028  0.032   0%   100% [96, 100]  100%  103   1.17
      release path: sampling.plausibility_tries 4)
    per-frame model, shared noise       0.95   0.103 / 0.076  0.101  11%    97% [91, 99]   100%  328
    per-frame model, independent noise  0.97   0.105 / 0.080  0.114  13%    90% [82, 95]   100%  328
  The check (sample/sampler.py: ED at frame 0 and one systole, else the same conditions drawn again with a seed
  derived from the subject's own) reads the synthetic output alone. It makes one systole 100% by construction for
  the subjects it keeps, so the model's own figure is the first-draw one (91%), which fidelity.json reports beside
  it (temporal.plausibility_check.first_draw_plausible_fraction). The release path then matches or beats the
  published sampler on every curve measure but one, at a third of its evaluations: it stays inside the real
  envelope (0% against 11%) and nearer the real mean shape (0.033 against 0.103), but its hearts vary less in shape
  (band sd 0.032 against the real 0.093; the per-frame sampler's 0.101 comes with its curves outside the envelope).
  Controllability with the check (`--sets joint --sampling '{"plausibility_tries":4}'`, the grid included;
  benchmarks/results/generator_bench_plausibility_grid.json): 100 grid subjects, LV EDV r 0.967 MAE 21.7 mL,
  ESV r 0.958 MAE 22.9 mL, EF r 0.989 MAE 4.8 points (the 2026-12-02 bfloat16 run without it: 0.956 / 0.959 / 0.988).
  configs/demo.yaml now samples with plausibility_tries 4, so the joint set (the release path) is the checked one;
  the model alone is `--sampling-variant 'first={"plausibility_tries":1}'`. The set of a sampler with the check also
  reports draws_per_subject, and its evaluations per subject count every draw.
  Tried on the same W beforehand and not kept: an MDM velocity loss (Tevet et al. 2023) on the motion model's x0
  estimate around the closed cycle, motion.velocity_weight 1 and 4: one systole 90% and 90% against 91%
  (benchmarks/results/generator_bench_velocity_loss.json).

History (2026-11-23, frames-in-channels motion model, 32/64 channels, 300 steps): grid EDV r 0.971, ESV
0.981, EF 0.986; joint one systole 77%, spread 0.085; the published baseline (300 steps) 100% / 0.076 with
a systematically late filling (shape distance 0.096). With 16/32 channels: one systole 90%, spread 0.039;
1200 motion steps (spread 0.040), 16 frames (EDV r 0.812) and motion guidance 1.0 or 0.0 (spread 0.030 /
0.029) did not widen it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from perframe_baseline import (  # benchmarks/, beside this script
    evaluations_per_subject,
    perframe_for_run,
    sample_perframe_batch,
)

from synthshare.config import Config, load_config
from synthshare.data.measures import volume_curve_ml
from synthshare.data.prepared import PreparedSubject
from synthshare.labels import LV
from synthshare.models.conditioning import MEASURE_FIELDS
from synthshare.reports import curves
from synthshare.sample.conditions import Condition, complete
from synthshare.sample.generator import load_generator
from synthshare.sample.sampler import (
    network_evaluations_per_subject,
    sample_batch,
    sample_plausible_batch,
    sample_cohort,
    subject_seed,
)
from synthshare.train.run_dir import RunDir
from synthshare.train.trainer import conditions_fingerprint, stage_hashes, train_run


def real_curve_subjects(*, phantom: Path, cohort, keys: list[str], config: Config) -> list[PreparedSubject]:
    """The given phantom subjects with labels on EVERY frame, prepared like the cohort: the real curves."""
    from synthshare.data.cohort import open_cohort
    from synthshare.data.phantom import (
        draw_phantom_params,
        phantom_groups,
        render_phantom_subject,
    )
    from synthshare.data.preprocess import prepare_subject

    rng = np.random.default_rng(config.phantom.seed)
    size = (config.phantom.size, config.phantom.size)
    params = [draw_phantom_params(rng=rng, group=g, size=size) for g in phantom_groups(config.phantom.n)]
    reader = open_cohort(phantom)
    out = []
    for key in keys:
        subject_id = cohort.internal_id(key)
        p = params[int(subject_id.removeprefix("patient")) - 1]
        _, labels, _ = render_phantom_subject(p)
        subject = reader.load(subject_id)
        full = dataclasses.replace(subject, labels={t: labels[..., t] for t in range(p.frames)})
        out.append(prepare_subject(subject=full, data=config.data))
    return out


@torch.no_grad()
def vae_roundtrip_curves(*, generator, subjects: list[PreparedSubject]) -> list[np.ndarray]:
    """LV curves of the VAE's decoded segmentation of each real frame: the ceiling any generator in this
    latent space can reach (the segmentation decoder is trained on the labelled ED and ES frames only)."""
    from synthshare.models.encode import encode_frames

    generator.vae.train(False)
    out = []
    for s in subjects:
        _, seg = generator.vae.decode(encode_frames(vae=generator.vae, image=s.image))
        labels = seg.argmax(dim=1).to(torch.uint8).numpy()
        out.append(volume_curve_ml(labels, LV, s.spacing, frame_axis=0))
    return out


def max_deviation(curve: np.ndarray, reference: np.ndarray) -> float:
    """Largest |normalised curve - reference| over the frames, in stroke volumes."""
    diff = np.abs(curves.normalised(curve) - reference)
    return float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")


def wilson_interval(successes: int, n: int) -> list[float]:
    """Wilson score 95% interval of a proportion: how far apart two sets' shares must be to mean anything."""
    from scipy.stats import binomtest

    if n == 0:
        return [float("nan"), float("nan")]
    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(ci.low), float(ci.high)]


def coherence(curve_list: list[np.ndarray], reference: np.ndarray, *, worst_real: float) -> dict[str, float]:
    """Temporal-coherence figures of one set of LV volume curves against the real mean shape.

    The band sd and the mean shape distance grow with real-like variety AND with a few malformed curves alike;
    the median shape distance and the share of curves that stray further from the real mean, at some frame,
    than the worst real curve (`worst_real`; 0 for the real set by construction) tell the two apart.
    """
    norm = np.stack([curves.normalised(c) for c in curve_list])
    distance = [curves.shape_distance(c, reference) for c in curve_list]
    one_systole = [curves.single_systole(c) for c in curve_list]
    ed_first = [curves.ed_at_frame0(c) for c in curve_list]
    return {
        "n": len(curve_list),
        "roughness_mean": float(np.nanmean([curves.roughness(c) for c in curve_list])),
        "shape_distance_mean": float(np.nanmean(distance)),
        "shape_distance_median": float(np.nanmedian(distance)),
        "beyond_worst_real_fraction": float(np.mean([max_deviation(c, reference) > worst_real for c in curve_list])),
        "single_systole_fraction": float(np.mean(one_systole)),
        "single_systole_wilson95": wilson_interval(sum(one_systole), len(one_systole)),
        "ed_at_frame0_fraction": float(np.mean(ed_first)),
        "ed_at_frame0_wilson95": wilson_interval(sum(ed_first), len(ed_first)),
        "band_sd_mean": float(np.nanmean(np.nanstd(norm, axis=0, ddof=1))),
    }


def coherence_png(*, path: Path, band: tuple[list, list, list], sets: dict[str, list[np.ndarray]]) -> None:
    """Real band (mean +- sd of normalised curves), then each synthetic set's curves over it, side by side."""
    from matplotlib.figure import Figure

    mean = np.asarray([np.nan if v is None else v for v in band[0]], dtype=float)
    sd = np.asarray([np.nan if v is None else v for v in band[1]], dtype=float)
    frames = mean.size
    phase = np.arange(frames + 1) / frames
    cyc = lambda v: np.append(v, v[0])
    fig = Figure(figsize=(4.0 * (1 + len(sets)), 3.4))
    colours = ("tab:blue", "tab:red", "tab:green", "tab:orange")
    panels = [("real (holdout phantoms): mean +- sd", [])] + [(f"{name} (n={len(c)})", c) for name, c in sets.items()]
    for i, (title, curve_list) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.fill_between(phase, cyc(mean - sd), cyc(mean + sd), color="0.8", label="real mean +- sd")
        ax.plot(phase, cyc(mean), color="black", lw=2, label="real mean")
        for c in curve_list:
            ax.plot(phase, cyc(curves.normalised(c)), color=colours[(i - 1) % len(colours)], alpha=0.4, lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("cardiac phase (ED = 0)")
        ax.set_ylim(-0.15, 1.15)
        if i == 0:
            ax.set_ylabel("LV volume, normalised (ED 1, ES 0)")
            ax.legend(fontsize=7, loc="lower right")
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})


def agreement(requested: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(requested) & np.isfinite(measured)
    r = float(np.corrcoef(requested[ok], measured[ok])[0, 1]) if ok.sum() > 2 and measured[ok].std() > 0 else float("nan")
    return {"pearson_r": r, "mae": float(np.mean(np.abs(requested[ok] - measured[ok])))}


def motion_membership(*, generator, run_dir: Path, train: list[PreparedSubject], holdout: list[PreparedSubject]) -> dict:
    """The release audit's motion-stage attack on one motion model: denoising error at the audit's timesteps,
    train (members) vs holdout, AUC with its bootstrap 95% CI (the default policy blocks a CI upper bound > 0.85)."""
    from audits import evaluate_attack
    from audits import load_policy
    from synthshare.audit_glue import SCORE_TIMESTEP_FRACTIONS, resolve_policy_path
    from synthshare.models.scores import denoising_error_scores

    seed = load_policy(path=resolve_policy_path(None)).policy.audit.seed
    total = generator.config.motion.num_train_timesteps
    timesteps = sorted({min(total - 1, max(1, int(f * total))) for f in SCORE_TIMESTEP_FRACTIONS})
    members, nonmembers = (denoising_error_scores(run_dir=run_dir, subjects=group, stage="motion", timesteps=timesteps,
                                                  seed=seed, generator=generator) for group in (train, holdout))
    attack = evaluate_attack(name="denoising_error_motion", member_scores=members, nonmember_scores=nonmembers,
                             lower_is_member=True, seed=seed)
    return {"auc": attack.auc, "auc_ci": list(attack.auc_ci)}


def baseline_key(*, config: Config, cohort, train_keys: list[str]) -> str:
    """What the per-frame baseline's weights depend on: the motion stage's inputs, whatever the joint model's layout."""
    return stage_hashes(config=config.with_updates({"motion": {"layout": "frames_in_channels"}}), train_keys=train_keys,
                        conditions_sha256=conditions_fingerprint(cohort=cohort, train_keys=train_keys))["motion"]


def with_sampling(generator, overrides: dict, *, flag: str):
    """The generator with its sampling section updated AND validated: a misspelt or out-of-range key stops the
    bench instead of silently measuring the unchanged sampler under the variant's name."""
    from synthshare.errors import ConfigError

    try:
        config = generator.config.with_updates({"sampling": overrides})
    except ConfigError as err:
        raise SystemExit(f"{flag}: {err}") from err
    return dataclasses.replace(generator, config=config)


def parse_variant(text: str) -> tuple[str, dict]:
    name, sep, overrides = text.partition("=")
    if not sep or not name.isidentifier():
        raise SystemExit(f"--motion-variant {text!r}: expected NAME=JSON with NAME a plain identifier")
    return name, json.loads(overrides)


def variant_generator(*, run: RunDir, config: Config, name: str, motion: dict, cohort, train_keys: list[str]):
    """The run's VAE and anatomy model with another motion model (config.motion updated by `motion`), trained in a
    sibling run folder (the finished upstream stages and the released statistics are copied: only motion trains)."""
    import shutil

    other = RunDir(run.root.parent / f"{run.root.name}-{name}")
    other.root.mkdir(parents=True, exist_ok=True)
    for item in ("conditions.json", "split.json", "vae", "static"):
        src, dst = run.root / item, other.root / item
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dst)
    train_run(cohort=cohort, train_keys=train_keys, config=config.with_updates({"motion": motion}), run_dir=other)
    return load_generator(run_dir=other.root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="demo")
    parser.add_argument("--n-edv", type=int, default=10, help="0 skips the controllability grid (coherence only)")
    parser.add_argument("--n-ef", type=int, default=10)
    parser.add_argument("--coherence", type=int, default=30, help="most holdout subjects for the coherence comparison")
    parser.add_argument("--draws", type=int, default=1, help="synthetic subjects per holdout heart in the coherence "
                        "comparison (each its own seed): more curves per set, narrower intervals on its shares")
    parser.add_argument("--work", type=Path, default=None, help="work folder (kept; a rerun resumes training)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--out", type=Path, default=None, help="write coherence.png and generator_bench.json here")
    parser.add_argument("--motion-variant", action="append", default=[], metavar="NAME=JSON",
                        help="a motion model to train and sample BESIDE the config's own for the coherence comparison "
                        "(same VAE, anatomy, data and seeds): NAME and the motion-section overrides as JSON, e.g. "
                        "time_axis='{\"layout\": \"time_axis\"}'; repeatable; its set is called joint_NAME")
    parser.add_argument("--sampling", default=None, metavar="JSON",
                        help="overrides of the run's sampling section for every set, the grid included, e.g. "
                        "'{\"guidance_scale\": 3.0, \"motion_guidance_scale\": 2.0}'")
    parser.add_argument("--sampling-variant", action="append", default=[], metavar="NAME=JSON",
                        help="the config's own joint model sampled with other sampling settings, e.g. "
                        "g1='{\"motion_guidance_scale\": 1.0}'; repeatable; its set is called joint_NAME (same motion "
                        "model as joint, so the same motion membership AUC)")
    parser.add_argument("--sets", default="", help="comma-separated sampler names to run (default: all): joint, "
                        "joint_NAME (a --motion-variant), joint_model_per_frame_draws, perframe_model_shared_noise, perframe_model_independent_noise")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from synthshare.data.phantom_writers import write_phantom_cohort
    from synthshare.train.prepare import prepare_and_split

    config = load_config(args.config)
    work = args.work or Path(tempfile.mkdtemp(prefix="generator_bench."))
    work.mkdir(parents=True, exist_ok=True)
    phantom = work / "phantom"
    if not phantom.exists():
        write_phantom_cohort(out=phantom, n=config.phantom.n, seed=config.phantom.seed, size=(config.phantom.size, config.phantom.size))
    run = RunDir(work / "run")
    cohort, split = prepare_and_split(data=phantom, config=config, run=run)
    t0 = time.perf_counter()
    train_run(cohort=cohort, train_keys=split.train, config=config, run_dir=run)
    train_s = time.perf_counter() - t0

    generator = load_generator(run_dir=run.root)
    if args.sampling:
        generator = with_sampling(generator, json.loads(args.sampling), flag="--sampling")
    train_edv = np.array([cohort.load(k).measures.lv_edv for k in split.train])
    edvs = np.linspace(np.percentile(train_edv, 10), np.percentile(train_edv, 90), args.n_edv)
    efs = np.linspace(25.0, 65.0, args.n_ef)
    grid = [] if args.n_edv * args.n_ef == 0 else [complete(condition={"group": "NOR" if ef >= 50 else "DCM", "lv_edv": float(edv), "lv_esv": float(edv * (1 - ef / 100))},
                     prior=generator.prior) for edv in edvs for ef in efs]
    t0 = time.perf_counter()
    subjects = sample_cohort(run_dir=run.root, n=len(grid), seed=0, conditions=grid, generator=generator) if grid else []
    sample_s = time.perf_counter() - t0

    figures: dict[str, object] = {"config": config.name, "n_train": len(split.train), "n_sampled": len(subjects),
                                  "train_seconds": round(train_s, 1), "sample_seconds": round(sample_s, 1),
                                  "subjects_per_second": len(subjects) / sample_s if subjects else None,
                                  "network_evaluations_per_subject": network_evaluations_per_subject(generator=generator)}
    for field in ("lv_edv", "lv_esv", "lv_ef") if subjects else ():
        req = np.array([float(s.requested[field]) for s in subjects])
        mea = np.array([float(getattr(s.measured, field)) for s in subjects])
        figures[field] = agreement(req, mea)

    # temporal coherence: the holdout subjects' real curves vs synthetic ones for their conditions and seeds
    holdout = sorted(split.holdout)[: args.coherence]
    real = real_curve_subjects(phantom=phantom, cohort=cohort, keys=holdout, config=config)
    real_curves = [curves.lv_curve(s) for s in real]
    band = curves.curve_band(curves=np.stack([curves.normalised(c) for c in real_curves]))
    reference = np.asarray(band[0], dtype=float)
    conds: list[Condition] = []
    for s in real:
        known = {f: float(v) for f, v in s.measures.as_dict().items() if f in MEASURE_FIELDS}
        conds.append(complete(condition={"group": s.group, **known}, prior=generator.prior))
    # --draws K: every holdout heart's conditions K times, each with its own seed (draw 0 = the seeds of one draw)
    seeds = [subject_seed(seed=1, index=i + k * len(conds)) for k in range(args.draws) for i in range(len(conds))]
    conds = conds * args.draws
    spacing = tuple(float(v) for v in config.data.spacing)
    variants = dict(parse_variant(v) for v in args.motion_variant)
    others = {name: variant_generator(run=run, config=config, name=name, motion=motion, cohort=cohort, train_keys=split.train)
              for name, motion in variants.items()}
    figures["motion_variants"] = {"joint": config.to_dict()["motion"],
                                  **{f"joint_{name}": g.config.to_dict()["motion"] for name, g in others.items()}}
    resampled = {}
    for name, overrides in (parse_variant(v) for v in args.sampling_variant):
        if name in others:
            raise SystemExit(f"--sampling-variant {name}: that name is already a --motion-variant")
        resampled[name] = with_sampling(generator, overrides, flag=f"--sampling-variant {name}")
    figures["sampling_variants"] = {"joint": config.to_dict()["sampling"],
                                    **{f"joint_{name}": g.config.to_dict()["sampling"] for name, g in resampled.items()}}
    wanted = set(filter(None, args.sets.split(","))) or None
    baseline = None
    if wanted is None or wanted & {"perframe_model_shared_noise", "perframe_model_independent_noise"}:
        # the published per-frame motion model (benchmarks/perframe_baseline.py), trained once and cached in --work
        t0 = time.perf_counter()
        baseline = perframe_for_run(generator=generator, motion_hash=baseline_key(config=config, cohort=cohort, train_keys=split.train),
                                    cohort=cohort, train_keys=split.train, folder=work / "perframe_baseline")
        figures["perframe_baseline_seconds"] = round(time.perf_counter() - t0, 1)
        figures["perframe_baseline_final_loss"] = baseline.final_loss
    draws: dict[str, list[int]] = {}  # set name -> draws made per subject, for sets with the plausibility check

    def joint(g, independent, name=""):
        if independent or g.config.sampling.plausibility_tries == 1:
            return lambda c, s: sample_batch(generator=g, conditions=c, seeds=s, independent_frames=independent)

        def checked(c, s):  # the release path's sampler: implausible curves drawn again (sampling.plausibility_tries)
            images, labels, _, made, _ = sample_plausible_batch(generator=g, conditions=c, seeds=s)
            draws.setdefault(name, []).extend(made)
            return images, labels
        return checked
    perframe = lambda noise: lambda c, s: sample_perframe_batch(generator=generator, baseline=baseline, conditions=c, seeds=s, noise=noise)
    samplers = {  # name: (sample(conditions, seeds) -> (images, labels), network evaluations per subject)
        "joint": (joint(generator, False, "joint"), network_evaluations_per_subject(generator=generator)),
        **{f"joint_{name}": (joint(g, False, f"joint_{name}"), network_evaluations_per_subject(generator=g)) for name, g in others.items()},
        **{f"joint_{name}": (joint(g, False, f"joint_{name}"), network_evaluations_per_subject(generator=g)) for name, g in resampled.items()},
        "joint_model_per_frame_draws": (joint(generator, True), evaluations_per_subject(generator=generator)),
        "perframe_model_shared_noise": (perframe("shared"), evaluations_per_subject(generator=generator)),
        "perframe_model_independent_noise": (perframe("independent"), evaluations_per_subject(generator=generator)),
    }
    samplers = {name: v for name, v in samplers.items() if wanted is None or name in wanted}
    sets: dict[str, list[np.ndarray]] = {}
    seconds: dict[str, float] = {}
    for name, (sample, _) in samplers.items():
        sets[name] = []
        t0 = time.perf_counter()
        for i in range(0, len(conds), config.sampling.batch_size):
            _, labels = sample(conds[i : i + config.sampling.batch_size], seeds[i : i + config.sampling.batch_size])
            sets[name] += [volume_curve_ml(lab, LV, spacing, frame_axis=0) for lab in labels]  # as curves.lv_curve
        seconds[name] = time.perf_counter() - t0
    worst_real = max(max_deviation(c, reference) for c in real_curves)
    temporal = {"real": coherence(real_curves, reference, worst_real=worst_real),
                "vae_roundtrip": coherence(vae_roundtrip_curves(generator=generator, subjects=real), reference, worst_real=worst_real)}
    temporal["vae_roundtrip"]["roughness_ratio_to_real"] = temporal["vae_roundtrip"]["roughness_mean"] / temporal["real"]["roughness_mean"]
    for name, curve_list in sets.items():
        temporal[name] = coherence(curve_list, reference, worst_real=worst_real)
        temporal[name]["roughness_ratio_to_real"] = temporal[name]["roughness_mean"] / temporal["real"]["roughness_mean"]
        temporal[name]["network_evaluations_per_subject"] = samplers[name][1]
        made = draws.get(name)
        if made:  # the plausibility check (sampling.plausibility_tries): evaluations per kept subject
            temporal[name]["draws_per_subject"] = float(np.mean(made))
            temporal[name]["network_evaluations_per_subject"] = samplers[name][1] * float(np.mean(made))
        temporal[name]["subjects_per_second"] = len(curve_list) / seconds[name]
    # privacy beside coherence: the release gate's motion-stage membership attack on every joint motion model
    members, nonmembers = [cohort.load(k) for k in split.train], [cohort.load(k) for k in split.holdout]
    joints = {"joint": (generator, run.root), **{f"joint_{name}": (g, run.root.parent / f"{run.root.name}-{name}") for name, g in others.items()}}
    for name, (g, root) in joints.items():
        if name in temporal:
            temporal[name]["motion_membership"] = motion_membership(generator=g, run_dir=root, train=members, holdout=nonmembers)
    figures["temporal_coherence"] = temporal
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        coherence_png(path=args.out / "coherence.png", band=band, sets=sets)

    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    if args.out is not None:
        (args.out / "generator_bench.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
