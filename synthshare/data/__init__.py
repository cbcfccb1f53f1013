"""Cohort data layer: readers, validation, measures, preprocessing, split, phantom."""
