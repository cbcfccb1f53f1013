"""Suite-wide fixtures.

Every test process gets its own steward-key folder ($SYNTHSHARE_HOME): DP runs create a secret
dp-noise key and releases a fingerprint key there, never in the real ~/.synthshare of whoever runs
the tests. Tests that need their own keys still monkeypatch the variable themselves.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _steward_home(tmp_path_factory: pytest.TempPathFactory):
    old = os.environ.get("SYNTHSHARE_HOME")
    os.environ["SYNTHSHARE_HOME"] = str(tmp_path_factory.mktemp("synthshare-home"))
    yield
    if old is None:
        os.environ.pop("SYNTHSHARE_HOME", None)
    else:
        os.environ["SYNTHSHARE_HOME"] = old
