"""The run directory: where each stage's outputs live, keyed by a hash of its inputs.

RUN/config.json        resolved config            RUN/split.json       train/holdout keys
RUN/conditions.json    released condition stats   RUN/<stage>/         checkpoint.safetensors, state.json, done.json
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from synthshare.atomic import write_json
from synthshare.config import Config
from synthshare.errors import BadInputError

Stage = Literal["vae", "static", "motion"]
STAGES: tuple[Stage, ...] = ("vae", "static", "motion")  # the chain: stats -> vae -> static -> motion


class RunDirError(BadInputError):
    """A run directory is missing a file a command needs, or holds one that cannot be read."""


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config_json(self) -> Path:
        return self.root / "config.json"

    @property
    def split_json(self) -> Path:
        return self.root / "split.json"

    @property
    def conditions_json(self) -> Path:
        return self.root / "conditions.json"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def checkpoint(self, stage: str) -> Path:
        return self.stage_dir(stage) / "checkpoint.safetensors"

    def state_json(self, stage: str) -> Path:
        return self.stage_dir(stage) / "state.json"

    def done_json(self, stage: str) -> Path:
        return self.stage_dir(stage) / "done.json"

    def read_json(self, path: Path) -> dict[str, Any]:
        try:
            value = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise RunDirError(f"{path}: missing; run `synthshare train --run {self.root}` first") from err
        except (OSError, json.JSONDecodeError) as err:
            raise RunDirError(f"{path}: unreadable ({err}); delete the run folder's stage and retrain") from err
        if not isinstance(value, dict):
            raise RunDirError(f"{path}: holds a JSON {type(value).__name__}, not an object; {self._repair}")
        return value

    @property
    def _repair(self) -> str:
        return f"delete it with the stage folders after it and retrain: `{retrain_command(self.root)}`"

    def field(self, path: Path, record: dict[str, Any], dotted: str) -> Any:
        """record[a][b].. for dotted "a.b..": RunDirError naming the file and the fix when it is missing."""
        value: Any = record
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                raise RunDirError(f"{path}: no {dotted!r} (malformed or written by another version); {self._repair}")
            value = value[part]
        return value

    def write_json(self, path: Path, value: dict[str, Any]) -> None:
        """Rank 0 writes (every rank computed the same value); the callers put a barrier before reads."""
        from privacy.distributed import is_main

        if is_main():
            write_json(path=path, value=value)

    def read_config(self) -> Config:
        from synthshare.config import config_from_dict

        return config_from_dict(self.read_json(self.config_json), source=str(self.config_json))

    def done(self, stage: str) -> dict[str, Any]:
        """The finished stage's record (hash, steps, ledger, extras); RunDirError if unfinished."""
        return self.read_json(self.done_json(stage))


def retrain_command(root: Path) -> str:
    """The command that brings every stage of the run at `root` up to date with its config.json."""
    return f"synthshare train --data DATA --config {root / 'config.json'} --run {root} --stage motion"


def keys_fingerprint(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def stage_hash(*, stage: str, config: Config, train_keys: list[str], upstream_hash: str | None,
               precision: str | None = None) -> str:
    """What a stage's result depends on: its config section, data grid, privacy, seed, precision, data, upstream.

    precision: the one it trained in (default: what `config.precision` resolves to on THIS machine).
    """
    return _stage_hash(stage=stage, config=config, keys_sha256=keys_fingerprint(train_keys), upstream_hash=upstream_hash,
                       precision=precision)


def _stage_hash(*, stage: str, config: Config, keys_sha256: str, upstream_hash: str | None, precision: str | None) -> str:
    from synthshare.models.precision import training_precision  # imports torch: only when a hash is asked for

    payload = {
        "stage": stage,
        "section": config.to_dict()[stage],
        "data": config.to_dict()["data"],
        "privacy": config.to_dict()["privacy"],
        "seed": config.seed,
        # the precision it trains in on THIS machine (`auto` resolves per machine; DP forces float32)
        "precision": precision or training_precision(config),
        "train_keys": keys_sha256,
        "upstream": upstream_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def chain_hashes(*, config: Config, train_keys_sha256: str, stats_hash: str, precision: str | None = None) -> dict[str, str]:
    """The hash of every stage, chained from the statistics release's hash (stats -> vae -> static -> motion).

    train_keys_sha256: `keys_fingerprint` of the train keys.
    """
    out: dict[str, str] = {}
    upstream = stats_hash
    for stage in STAGES:
        upstream = out[stage] = _stage_hash(stage=stage, config=config, keys_sha256=train_keys_sha256,
                                            upstream_hash=upstream, precision=precision)
    return out


def stale_stages(*, run: RunDir) -> list[str]:
    """What of the chain ("stats", "vae", "static", "motion") was made from other inputs than the run's files say now.

    "stats": conditions.json was released from another train set than split.json names (checked when the run
    has a split.json; runs made by `train_run` alone have none). A stage: it finished, but its done record's
    hash is not the one chained from conditions.json's hash (which covers the train subjects' keys and
    conditions and, under DP, the noise key's id) through config.json: say `train --stage vae` retrained the
    VAE under a changed config, and the anatomy and motion models still hold latents of the old VAE.
    A run folder may move between machines: under `precision: auto` (without DP) the chain is checked in
    the precision its VAE record matches, as every stage of one chain trains in one precision.
    """
    from synthshare.models.precision import training_precision

    config = run.read_config()
    conditions = run.read_json(run.conditions_json)
    stats = run.field(run.conditions_json, conditions, "hash")
    keys_sha256 = run.field(run.conditions_json, conditions, "train_keys_sha256")
    stale: list[str] = []
    if run.split_json.exists():
        split = run.read_json(run.split_json)
        train_keys = run.field(run.split_json, split, "train")
        if not isinstance(train_keys, list) or not all(isinstance(k, str) for k in train_keys):
            raise RunDirError(f"{run.split_json}: 'train' is not a list of subject keys; retrain: `{retrain_command(run.root)}`")
        if keys_fingerprint(train_keys) != keys_sha256:
            stale.append("stats")
    records = {s: run.read_json(run.done_json(s)) for s in STAGES if run.done_json(s).exists()}
    here = training_precision(config)
    candidates = [here]
    if config.precision == "auto" and config.privacy.epsilon is None:
        candidates += [p for p in ("float32", "bfloat16") if p != here]
    chains = [chain_hashes(config=config, train_keys_sha256=keys_sha256, stats_hash=stats, precision=p) for p in candidates]
    vae_hash = records.get("vae", {}).get("hash")
    expected = next((c for c in chains if c["vae"] == vae_hash), chains[0])
    stale += [s for s in STAGES if s in records and records[s].get("finished") and records[s].get("hash") != expected[s]]
    return stale
