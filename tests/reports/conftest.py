"""Fixtures of the report tests (helpers live in report_cohorts.py: a unique module name)."""

from __future__ import annotations

import pytest
from report_cohorts import make_prepared, make_synthetic

from synthshare.data.prepared import PreparedSubject, SyntheticSubject


@pytest.fixture(scope="session")
def real_holdout() -> list[PreparedSubject]:
    return make_prepared(6, seed=1)


@pytest.fixture(scope="session")
def real_train() -> list[PreparedSubject]:
    return make_prepared(6, seed=2)


@pytest.fixture(scope="session")
def synthetic() -> list[SyntheticSubject]:
    return make_synthetic(6, seed=3)
