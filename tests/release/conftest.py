"""Fixtures for the release tests; helpers live in release_helpers.py (a unique module name)."""

from release_helpers import keypair, release, subjects  # noqa: F401
