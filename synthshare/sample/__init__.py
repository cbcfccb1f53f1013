"""Sampling synthetic subjects from a trained run: conditions, then the cascade sampler."""
