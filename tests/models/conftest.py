"""Fixtures of the model tests: tiny in-memory subjects (tests/distributed/tiny_cohort.py) and a trained run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from synthshare.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "distributed"))
from tiny_cohort import MemoryCohort, make_subject


@pytest.fixture(scope="session")
def tiny_config():
    return load_config("tiny")


@pytest.fixture(scope="session")
def make_cohort():
    """Factory: MemoryCohort of subjects with the given LV radii (voxels)."""
    return lambda radii: MemoryCohort([make_subject(index=i, radius=r) for i, r in enumerate(radii)])


@pytest.fixture(scope="session")
def cohort() -> MemoryCohort:
    return MemoryCohort()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, cohort, tiny_config):
    """A tiny run trained through all three stages (2 steps each), DP off."""
    from synthshare.train.run_dir import RunDir
    from synthshare.train.trainer import train_run

    run = RunDir(tmp_path_factory.mktemp("run") / "run")
    train_run(cohort=cohort, train_keys=cohort.keys[:6], config=tiny_config, run_dir=run)
    return run


@pytest.fixture(scope="module")
def generator(trained_run):
    """The trained tiny run, loaded for sampling."""
    from synthshare.sample.generator import load_generator

    return load_generator(run_dir=trained_run.root)
