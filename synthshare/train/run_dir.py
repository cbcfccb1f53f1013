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
STAGES: tuple[Stage, ...] = ("vae", "static", "motion")
UPSTREAM: dict[str, str | None] = {"vae": None, "static": "vae", "motion": "vae"}


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
            return json.loads(path.read_text())
        except FileNotFoundError as err:
            raise RunDirError(f"{path}: missing; run `synthshare train --run {self.root}` first") from err
        except (OSError, json.JSONDecodeError) as err:
            raise RunDirError(f"{path}: unreadable ({err}); delete the run folder's stage and retrain") from err

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


def keys_fingerprint(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def stage_hash(*, stage: str, config: Config, train_keys: list[str], upstream_hash: str | None) -> str:
    """What a stage's result depends on: its config section, data grid, privacy, seed, precision, data, upstream."""
    from synthshare.models.precision import training_precision  # imports torch: only when a hash is asked for

    payload = {
        "stage": stage,
        "section": config.to_dict()[stage],
        "data": config.to_dict()["data"],
        "privacy": config.to_dict()["privacy"],
        "seed": config.seed,
        # the precision it trains in on THIS machine (`auto` resolves per machine; DP forces float32)
        "precision": training_precision(config),
        "train_keys": keys_fingerprint(train_keys),
        "upstream": upstream_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
