"""`synthshare release`: the whole release path, top-down, in the order of DESIGN.md's data flow.

    ingest -> split -> train (resumable) -> sample -> audit -> gate -> reports -> package

Everything real stays in the work folder (inside the hospital): the prepared cache, the run with
its checkpoints, the sampled candidate cohort and the internal audit report. Only the package
written by `build_release` is meant to leave, and it is written only after the gate passed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from synthshare.config import Config
from synthshare.errors import BadInputError, GateBlockedError
from synthshare.privacy_statement import NO_GUARANTEE, dp_section, guarantee_statement
from synthshare.steward_keys import key_id, key_path, keyed_hash, load_key

log = logging.getLogger(__name__)

Announce = Callable[[str], None]

# Written into every work folder synthshare creates: only such a folder is ever cleaned by a run.
WORK_MARKER = ".synthshare-work"


@dataclass(frozen=True, kw_only=True)
class ReleaseOutcome:
    out: Path
    work: Path
    n_subjects: int
    dp_enabled: bool
    epsilon: float | None
    delta: float | None
    gate_passed: bool


def default_work_dir(out: Path) -> Path:
    """Beside RELEASE, hidden: the hospital-internal state a re-run resumes from."""
    return out.parent / f".{out.name}.work"


def release(
    *,
    out: Path,
    config: Config,
    policy: Path,
    data: Path | None = None,
    work: Path | None = None,
    signing_key: Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    announce: Announce | None = None,
) -> ReleaseOutcome:
    """Run the release path; raises GateBlockedError (exit 3) with nothing written to `out` if any criterion fails."""
    say = announce or (lambda message: log.info(message))
    out = out.resolve()
    work = (work or default_work_dir(out)).resolve()
    _refuse_unsafe_paths(out=out, work=work, data=data, overwrite=overwrite)
    claim_work_dir(work)

    # 1. ingest: the steward's cohort, or the embedded phantom generated on the fly
    source = data if data is not None else _embedded_phantom(work=work, config=config, say=say)
    say(f"ingest: {'embedded phantom cohort' if data is None else 'cohort'} ({_cohort_format(source)} layout)")
    from synthshare.train.prepare import prepare_and_split
    from synthshare.train.run_dir import RunDir

    run = RunDir(work / "run")
    cohort, split = prepare_and_split(data=source, config=config, run=run, progress=progress)
    say(f"split: {len(split.train)} train / {len(split.holdout)} holdout subjects (holdout never trains)")

    # 2. train: VAE -> static LDM -> motion LDM, finished stages skipped, unfinished ones resumed
    from synthshare.train.trainer import train_run

    ledger = train_run(cohort=cohort, train_keys=split.train, config=config, run_dir=run,
                       progress=_stage_progress(say) if progress else None)
    dp = dp_section(ledger.to_dict())
    say("train: done; " + (f"epsilon = {dp['epsilon']:.3g} at delta = {dp['delta']:.3g} per subject"
                           if dp["enabled"] else NO_GUARANTEE))

    # 3. sample the candidate cohort; it stays in the work folder until the gate has passed
    from synthshare.sample.generator import load_generator
    from synthshare.sample.sampler import calibrate_conditions, sample_cohort

    generator = load_generator(run_dir=run.root)
    calibration = calibrate_conditions(generator=generator, seed=config.seed)  # None unless sampling.calibration_n
    synthetic = sample_cohort(run_dir=run.root, n=config.sampling.n, seed=config.seed, generator=generator,
                              calibration=calibration)
    samples_dir = _write_candidates(work=work, synthetic=synthetic)
    say(f"sample: {len(synthetic)} synthetic subjects" + ("" if calibration is None else
        " (requests calibrated: " + ", ".join(f"{k} /{v:.3f}" for k, v in calibration.factors.items()) + ")"))

    # 4. audit + gate: the same code path as `synthshare audit --run RUN --samples DIR`
    from synthshare.audit_glue import run_audit

    audit_dir = work / "audit"
    verdict = run_audit(run_dir=run.root, samples_dir=samples_dir, policy_path=policy, out_dir=audit_dir, progress=progress)
    privacy_report = json.loads((audit_dir / "privacy.json").read_text())
    if not verdict.passed:
        failed = [c.name for c in verdict.criteria if not c.passed]
        raise GateBlockedError(
            f"release gate blocked by {', '.join(failed) or 'a missing result'}; nothing was released. "
            f"The internal audit report is in {audit_dir} (it stays inside the hospital)."
        )
    say("audit: every gate criterion passed")

    # 5. reports: fidelity and utility against the real holdout, one self-contained HTML page
    reports = _reports(cohort=cohort, split=split, synthetic=synthetic, config=config, privacy_report=privacy_report,
                       progress=progress, calibration=None if calibration is None else calibration.to_dict())
    say(f"reports: controllability r(LV EDV) = {reports['fidelity']['controllability']['lv_edv']['pearson_r']:.3f}")

    # 6. package: built beside `out`, hashed, (signed,) then renamed into place
    from synthshare.release.documents import DocumentContext
    from synthshare.release.package import build_release

    context = DocumentContext.from_config(
        config=config,
        source_cohort="embedded phantom cohort (synthetic ground truth)" if data is None else "the releasing institution's cohort",
        privacy_report=privacy_report,
    )
    provenance = _provenance(config=config, split=split, ledger=ledger, policy=policy, run=run)
    _remove_stale_builds(out)
    build_release(out=out, subjects=synthetic, reports=reports, context=context, provenance=provenance,
                  signing_key=signing_key, overwrite=overwrite)
    say(f"package: {out}")
    return ReleaseOutcome(out=out, work=work, n_subjects=len(synthetic), dp_enabled=dp["enabled"],
                          epsilon=dp.get("epsilon"), delta=dp.get("delta"), gate_passed=True)


def _refuse_unsafe_paths(*, out: Path, work: Path, data: Path | None, overwrite: bool) -> None:
    """Every check on the three folders, before anything is written (BadInputError, exit 2)."""
    from synthshare.release.package import check_release_target

    check_release_target(out=out, overwrite=overwrite)  # --overwrite replaces only an earlier release
    if data is not None:
        data = data.resolve()
        if not data.exists():
            raise BadInputError(f"{data}: no such cohort folder; pass --data with an ACDC, M&Ms-2 or generic cohort")
        if out == data or data in out.parents or out in data.parents:
            raise BadInputError(f"{out}: the release folder must not overlap the cohort folder {data}")
        if work == data or data in work.parents or work in data.parents:
            raise BadInputError(f"{work}: the work folder must not overlap the cohort folder {data}; "
                                "pass a --work outside the cohort (or omit --work)")
    if work == out or out in work.parents:
        raise BadInputError(f"{work}: the work folder must not be inside the release folder {out}")
    if work in out.parents:
        raise BadInputError(f"{out}: the release folder must not be inside the work folder {work}; "
                            "choose an --out outside it (or omit --work)")
    _check_work_dir(work)


def _check_work_dir(work: Path) -> None:
    """A run cleans parts of its work folder: refuse a folder synthshare did not make."""
    if not work.exists():
        return
    if not work.is_dir():
        raise BadInputError(f"{work}: exists and is not a folder; pass another --work (or omit it)")
    made_before_the_marker = any((work / "run" / name).is_file() for name in ("config.json", "split.json"))
    if (work / WORK_MARKER).is_file() or made_before_the_marker or not any(work.iterdir()):
        return  # made by synthshare (marked, or by an earlier version: its run layout), or empty
    raise BadInputError(f"{work}: holds files but is not a synthshare work folder (no {WORK_MARKER} file), and a run "
                        f"deletes and rewrites parts of it; pass an empty or new --work, or omit --work to use "
                        f"the default beside the release")


def claim_work_dir(work: Path) -> Path:
    """Create (or adopt) `work` as a synthshare work folder and mark it; BadInputError for any other folder."""
    _check_work_dir(work)
    work.mkdir(parents=True, exist_ok=True)
    marker = work / WORK_MARKER
    if not marker.is_file():
        from synthshare.atomic import atomic_write_text

        atomic_write_text(path=marker, text="synthshare work folder: hospital-internal (real data); "
                                            "a release run may delete and rewrite what is in it\n")
    return work


def _remove_stale_builds(out: Path) -> None:
    """A killed run can leave its half-built package beside `out`; it never became a release."""
    for stale in out.parent.glob(f".{glob.escape(out.name)}.building-*"):
        log.warning("removing the half-built package of an interrupted run: %s", stale)
        shutil.rmtree(stale, ignore_errors=True)


def _embedded_phantom(*, work: Path, config: Config, say: Announce) -> Path:
    from synthshare.data.phantom import write_phantom_cohort

    p = config.phantom
    target = work / f"phantom-n{p.n}-seed{p.seed}-size{p.size}"
    if not target.exists():
        say(f"phantom: writing {p.n} subjects (seed {p.seed})")
        write_phantom_cohort(out=target, n=p.n, seed=p.seed, layout="acdc", size=(p.size, p.size), workers=p.workers)
    return target


def _cohort_format(source: Path) -> str:
    from synthshare.data.cohort import detect_format

    return detect_format(source)


def _stage_progress(say: Announce) -> Callable[[str, int, int], None]:
    seen: set[str] = set()

    def advance(name: str, step: int, total: int) -> None:
        if name not in seen:
            seen.add(name)
            say(f"train: {name} ({total} steps)")

    return advance


def _write_candidates(*, work: Path, synthetic: list) -> Path:
    """The candidate cohort in the synthshare layout, written fresh (the audit reads it back like any cohort)."""
    from synthshare.release.bids import write_synthetic_subject

    claim_work_dir(work)  # never clean a folder synthshare did not make
    samples = work / "samples"
    tmp = work / "samples.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for subject in synthetic:
        write_synthetic_subject(subject=subject, out_dir=tmp)
    shutil.rmtree(samples, ignore_errors=True)
    tmp.rename(samples)
    return samples


def _reports(*, cohort: Any, split: Any, synthetic: list, config: Config, privacy_report: dict, progress: bool,
             calibration: dict | None = None) -> dict:
    from synthshare.reports.curves import volume_curve_band
    from synthshare.reports.fidelity import fidelity_report
    from synthshare.reports.html import render_report_html
    from synthshare.reports.utility import utility_report

    from synthshare.reports.curves import MIN_AGGREGATE_COUNT

    # Every released figure is an aggregate of at least MIN_AGGREGATE_COUNT real subjects per set (a
    # custom policy with a lower min_subjects could otherwise let 1-2 holdout subjects' values out).
    for name, keys in (("holdout", split.holdout), ("train", split.train)):
        if len(keys) < MIN_AGGREGATE_COUNT:
            raise BadInputError(f"{len(keys)} {name} subject(s): the released reports need at least {MIN_AGGREGATE_COUNT} "
                                f"real {name} subjects so that no figure is one subject's value; raise "
                                f"data.min_{name if name == 'train' else 'holdout'} or add subjects")
    holdout = [cohort.load(k) for k in split.holdout]
    train = [cohort.load(k) for k in split.train]
    dp = privacy_report["dp"]  # every report carries the same guarantee statement (or "no formal privacy guarantee")
    fidelity = fidelity_report(real=holdout, synthetic=synthetic, real_reference=train, seed=config.seed, dp=dp,
                               calibration=calibration)
    if config.utility.enabled:
        utility = utility_report(real_train=train, synthetic=synthetic, real_test=holdout, config=config.utility,
                                 seed=config.seed, progress=progress, dp=dp)
    else:
        utility = {"enabled": False, "note": "utility evaluation disabled in the config",
                   "privacy_guarantee": guarantee_statement(dp)}
    html = render_report_html(fidelity=fidelity, utility=utility, privacy=privacy_report, synthetic=synthetic,
                              real_curves=volume_curve_band(subjects=holdout))
    return {"fidelity": fidelity, "utility": utility, "privacy": privacy_report, "report.html": html}


def _code_version() -> dict[str, str | None]:
    from synthshare import __version__

    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD") or None
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"synthshare": __version__, "git_commit": commit, "git_dirty": None if status is None else bool(status)}


def fingerprint_key_path() -> Path:
    """The steward's secret key for data fingerprints (``$SYNTHSHARE_HOME`` or ``~/.synthshare``)."""
    return key_path("fingerprint")


def data_fingerprint(*, keys: list[str]) -> dict[str, str]:
    """HMAC-SHA256 of the cohort's per-subject content hashes under the steward's secret key.

    A plain hash of the data would let anyone holding candidate subjects test which ones were used
    (a non-private function of the cohort). Keyed, it identifies the cohort only to whoever holds the
    key: the steward can prove to an auditor which data a release came from by showing the key.
    The key is created once per machine, so the same data give the same fingerprint (reproducible).
    """
    return keyed_hash(name="fingerprint", message="\n".join(keys).encode())


def stage_fingerprints(*, hashes: dict[str, str]) -> dict[str, dict[str, str]]:
    """The stage hashes, keyed like data_fingerprint. Plain, they would let anyone holding candidate
    scans test a guessed training set exactly (they hash config, seed and the training subjects' content)."""
    return {stage: keyed_hash(name="fingerprint", message=b"synthshare-stage\x00" + h.encode()) for stage, h in hashes.items()}


def dp_randomness() -> dict[str, str]:
    """What provenance says of the DP random draws: secret, and under which key (never the seeds)."""
    return {"source": "secret: seeds are HMAC-SHA256 under the steward's dp-noise key", "key_id": key_id(load_key("dp-noise"))}


def _provenance(*, config: Config, split: Any, ledger: Any, policy: Path, run: Any) -> dict:
    """What produced the release. Hashes only: no real id, path or timestamp (the package is reproducible)."""
    from synthshare.models.precision import training_precision

    libraries = {}
    for name in ("torch", "opacus", "diffusers", "monai", "nibabel", "numpy", "scikit-learn", "scipy"):
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libraries[name] = None
    split_info = split.to_dict()
    provenance = {
        "config": config.to_dict(),
        "config_sha256": config.sha256(),
        # what `precision` (possibly `auto`) resolved to for the generator's training on this machine
        "training_precision": training_precision(config),
        "seeds": {"run": config.seed, "sampling": config.seed, "phantom": config.phantom.seed},
        "code": _code_version(),
        "libraries": libraries,
        "python": platform.python_version(),
        "data_fingerprint": data_fingerprint(keys=sorted(split.train) + sorted(split.holdout)),
        # counts only: per-group counts and key-list hashes are exact functions of the real cohort
        "split": {k: split_info[k] for k in ("seed", "holdout_fraction", "n_train", "n_holdout")},
        "privacy_ledger": ledger.to_dict(),
        "policy_sha256": hashlib.sha256(policy.read_bytes()).hexdigest(),
        "stages": stage_fingerprints(hashes={stage: run.done(stage)["hash"] for stage in ("vae", "static", "motion")}),
    }
    if config.privacy.epsilon is not None:
        provenance["dp_randomness"] = dp_randomness()
    return provenance
