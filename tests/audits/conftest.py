from __future__ import annotations

import pytest
from audit_helpers import POLICY_DIR

from audits import LoadedPolicy, load_policy


@pytest.fixture
def default_policy() -> LoadedPolicy:
    return load_policy(path=POLICY_DIR / "default.yaml")
