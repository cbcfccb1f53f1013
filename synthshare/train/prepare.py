"""Ingest + split for a run: open the cohort, prepare it into the run's cache, split by subject."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthshare.config import Config
    from synthshare.data.cache import PreparedCohort
    from synthshare.data.split import Split
    from synthshare.train.run_dir import RunDir


def prepare_and_split(*, data: Path, config: Config, run: RunDir, progress: bool = False) -> tuple[PreparedCohort, Split]:
    """(PreparedCohort, Split); writes RUN/split.json (pseudonymous keys; the run folder stays inside)."""
    from synthshare.data.cache import prepare_cohort
    from synthshare.data.cohort import open_cohort
    from synthshare.data.split import split_subjects

    reader = open_cohort(data)
    cohort = prepare_cohort(reader=reader, data=config.data, cache_dir=run.cache, progress=progress, workers=0)
    d = config.data
    split = split_subjects(keys=cohort.keys, groups=cohort.groups, holdout_fraction=d.holdout_fraction, seed=config.seed,
                           min_holdout=d.min_holdout, min_train=d.min_train)
    run.root.mkdir(parents=True, exist_ok=True)
    run.write_json(run.split_json, {**split.to_dict(), "train": sorted(split.train), "holdout": sorted(split.holdout)})
    return cohort, split
