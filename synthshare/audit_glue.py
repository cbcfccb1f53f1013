"""Audit a candidate synthetic cohort against a trained run: the glue between synthshare and `audits`.

`run_audit` reads the run's train/holdout split and prepared subjects, prepares the candidate cohort
onto the same grid, computes the model-side scores (VAE reconstruction error, denoising error of
both diffusion stages), the data-side attack and the memorisation audit, evaluates the gate and
writes the reports atomically:

  OUT/privacy.json                    external: aggregates only (+ dp.*), may go into a release
  OUT/INTERNAL/audit_report.json      per-subject values, pseudonymous keys: never leaves the hospital
  OUT/INTERNAL/nearest_pairs.png      real training slices beside their nearest synthetic ones

It returns the verdict and never raises on a blocked gate (the CLI turns that into exit 3). Any
audit that fails is recorded and blocks the gate (fail closed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audits import (
    AuditResults,
    EmbeddingSpec,
    LoadedPolicy,
    Verdict,
    embed,
    evaluate_gate,
    external_privacy_report,
    internal_report,
    load_policy,
    run_audits,
    write_json_atomic,
)
from audits.report import write_pairs_png
from synthshare.config import CONFIG_DIR
from synthshare.data.prepared import PreparedSubject
from synthshare.errors import BadInputError, DataError
from synthshare.privacy_statement import dp_section
from synthshare.train.run_dir import RunDirError

log = logging.getLogger(__name__)

POLICY_DIR = CONFIG_DIR / "policy"
INTERNAL_DIR = "INTERNAL"
# Fixed fractions of the training schedule at which the denoising error is measured (seeded noise).
SCORE_TIMESTEP_FRACTIONS = (0.1, 0.25, 0.5)

Progress = Callable[[str], None]


def resolve_policy_path(policy: str | Path | None) -> Path:
    """A policy YAML path, a bundled policy name (default, strict), or None for the default policy."""
    if policy is None:
        return POLICY_DIR / "default.yaml"
    path = Path(policy)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    bundled = POLICY_DIR / f"{policy}.yaml"
    if bundled.exists():
        return bundled
    names = ", ".join(sorted(p.stem for p in POLICY_DIR.glob("*.yaml")))
    raise BadInputError(f"{policy}: no such policy file and no bundled policy by that name (bundled: {names})")


def _load_real(run_dir: Path) -> tuple[Any, list[PreparedSubject], list[PreparedSubject]]:
    from synthshare.data.cache import data_config_sha256, read_entry
    from synthshare.train.run_dir import RunDir

    run = RunDir(Path(run_dir))
    config = run.read_config()
    split = run.read_json(run.split_json)
    folder = run.cache / f"prepared-{data_config_sha256(config.data)[:16]}"
    if not folder.is_dir():
        raise DataError(f"{folder}: the run's prepared subjects are missing; re-run `synthshare train --run {run.root}` to rebuild the cache")
    try:
        train = [read_entry(folder, key) for key in split["train"]]
        holdout = [read_entry(folder, key) for key in split["holdout"]]
    except KeyError as err:
        raise DataError(f"{run.split_json}: no {err} list; re-run `synthshare train --run {run.root}`") from err
    return config, train, holdout


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A candidate synthetic subject on the run's prepared grid: its release id and (T, S, H, W) image."""

    key: str
    image: np.ndarray


def _on_grid(subject: Any, data: Any) -> bool:
    x, y, z, t = subject.image.shape
    same_shape = (t, z, x, y) == (data.frames, data.slices, data.crop[0], data.crop[1])
    return same_shape and np.allclose(subject.spacing, data.spacing, rtol=1e-3)


def _load_candidates(samples_dir: Path, config: Any) -> list[Candidate]:
    """Read any cohort layout; subjects already on the run's grid (what `sample` writes) are used as
    they are, others are prepared like real subjects (the audit needs the image only)."""
    from synthshare.data.cohort import open_cohort
    from synthshare.data.prepared import NIFTI_TO_PREPARED
    from synthshare.data.preprocess import prepare_subject

    reader = open_cohort(Path(samples_dir))
    out = []
    for subject_id in reader.ids():
        subject = reader.load(subject_id)
        if _on_grid(subject, config.data):
            image = np.ascontiguousarray(np.asarray(subject.image, dtype=np.float32).transpose(NIFTI_TO_PREPARED))
        else:
            image = prepare_subject(subject=subject, data=config.data).image
        out.append(Candidate(key=subject_id, image=image))
    return out


def _model_scores(
    *, run_dir: Path, config: Any, train: Sequence[PreparedSubject], holdout: Sequence[PreparedSubject], seed: int
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Any], list[str]]:
    """Model-side scores per attack, the ledger, and errors (each error blocks the gate)."""
    errors: list[str] = []
    try:
        from synthshare.models.scores import (
            denoising_error_scores,
            vae_reconstruction_scores,
        )
        from synthshare.sample.generator import load_generator

        generator = load_generator(run_dir=run_dir)
    except RunDirError:
        raise  # a stale or malformed run is bad input (exit 2, with the command that fixes it), not a verdict
    except Exception as err:  # no model, no model-side audit: recorded, and the gate blocks
        log.exception("cannot load the generator for model-side scores")
        return {}, {}, [f"model-side scores: cannot load the generator: {type(err).__name__}: {err}"]
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        scores["vae_reconstruction"] = tuple(  # type: ignore[assignment]
            vae_reconstruction_scores(run_dir=run_dir, subjects=list(group), generator=generator) for group in (train, holdout)
        )
    except Exception as err:
        log.exception("VAE reconstruction scores failed")
        errors.append(f"attack vae_reconstruction: {type(err).__name__}: {err}")
    for stage in ("static", "motion"):
        total = int(getattr(config, stage).num_train_timesteps)
        timesteps = sorted({min(total - 1, max(1, int(f * total))) for f in SCORE_TIMESTEP_FRACTIONS})
        try:
            scores[f"denoising_error_{stage}"] = tuple(  # type: ignore[assignment]
                denoising_error_scores(run_dir=run_dir, subjects=list(group), stage=stage, timesteps=timesteps, seed=seed, generator=generator)
                for group in (train, holdout)
            )
        except Exception as err:
            log.exception("denoising error scores (%s) failed", stage)
            errors.append(f"attack denoising_error_{stage}: {type(err).__name__}: {err}")
    return scores, dict(generator.ledger or {}), errors


def _pairs(results: AuditResults, train: Sequence[PreparedSubject], synthetic: Sequence[PreparedSubject]) -> list[tuple[np.ndarray, np.ndarray, str]]:
    mem = results.memorization
    if mem is None:
        return []
    pairs = []
    for match in mem.pixel_matches:
        real, syn = train[match.train_index].image, synthetic[match.synthetic_index].image
        mid = real.shape[1] // 2
        pairs.append((real[0, mid], syn[0, mid], f"syn #{match.synthetic_index}: cos {match.similarity:.3f}, NCC {match.ncc:.3f}"))
    return pairs


def audit_prepared(
    *,
    policy: LoadedPolicy,
    train: Sequence[PreparedSubject],
    holdout: Sequence[PreparedSubject],
    synthetic: Sequence[Any],
    model_scores: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    dp: dict[str, Any] | None = None,
    errors: Sequence[str] = (),
    out_dir: Path,
    spec: EmbeddingSpec = EmbeddingSpec(),
) -> Verdict:
    """Audit prepared cohorts (anything with `.image` (T, S, H, W) and `.key`), gate, write the reports."""
    if not synthetic:
        raise DataError("the candidate synthetic cohort is empty; sample at least one subject")
    params = policy.policy.audit
    results = run_audits(
        params=params,
        train_embeddings=embed(images=[s.image for s in train], spec=spec, name="train"),
        holdout_embeddings=embed(images=[s.image for s in holdout], spec=spec, name="holdout"),
        synthetic_embeddings=embed(images=[s.image for s in synthetic], spec=spec, name="synthetic"),
        model_scores=model_scores,
        train_images=[s.image for s in train],
        synthetic_images=[s.image for s in synthetic],
        dp_enabled=None if dp is None else bool(dp.get("enabled")),
        dp_epsilon=None if dp is None else dp.get("epsilon"),
        errors=errors,
    )
    verdict = evaluate_gate(policy=policy, results=results)
    out_dir = Path(out_dir)
    internal = internal_report(
        verdict=verdict,
        results=results,
        embedding=spec,
        train_keys=[s.key for s in train],
        holdout_keys=[s.key for s in holdout],
        synthetic_keys=[s.key for s in synthetic],
    )
    write_json_atomic(path=out_dir / INTERNAL_DIR / "audit_report.json", payload=internal)
    pairs = _pairs(results, train, synthetic)
    if pairs:
        write_pairs_png(path=out_dir / INTERNAL_DIR / "nearest_pairs.png", pairs=pairs)
    external = external_privacy_report(verdict=verdict, results=results)
    if dp is not None:
        external["dp"] = dp
    write_json_atomic(path=out_dir / "privacy.json", payload=external)
    return verdict


def run_audit(
    *, run_dir: Path, samples_dir: Path, policy_path: str | Path | None, out_dir: Path, progress: bool | Progress = False
) -> Verdict:
    """Audit the cohort in `samples_dir` against the run in `run_dir` under a policy; write reports to `out_dir`.

    `progress`: a callable receiving one line per step (the CLI prints them), or a bool (lines are logged).
    """
    say: Progress = progress if callable(progress) else log.info
    policy = load_policy(path=resolve_policy_path(policy_path))
    config, train, holdout = _load_real(Path(run_dir))
    say(f"audit: {len(train)} train / {len(holdout)} holdout subjects; policy {policy.policy.name} ({policy.sha256[:12]})")
    synthetic = _load_candidates(Path(samples_dir), config)
    say(f"audit: {len(synthetic)} candidate synthetic subjects")
    scores, ledger, errors = _model_scores(run_dir=Path(run_dir), config=config, train=train, holdout=holdout, seed=policy.policy.audit.seed)
    say(f"audit: model-side scores for {', '.join(scores) or 'no attack'}")
    return audit_prepared(
        policy=policy, train=train, holdout=holdout, synthetic=synthetic, model_scores=scores, dp=dp_section(ledger), errors=errors, out_dir=Path(out_dir)
    )
