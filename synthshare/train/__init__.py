"""Training the cascade: run directory, checkpoints, subject-indexed datasets, the three stages."""
