"""Fixtures for the data tests; the NIfTI cohort writers live in cohort_writers.py (a unique module name)."""

from cohort_writers import acdc_root, cohorts, generic_root, mnms2_root, synthetic_root  # noqa: F401
