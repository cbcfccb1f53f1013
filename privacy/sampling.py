"""Batch samplers over SUBJECT indices. Each batch holds at most one example per subject.

Poisson sampling (every subject independently with probability q) is what the RDP analysis of
DP-SGD assumes; the batch size varies and may be zero. The plain (non-DP) sampler draws a fixed
number of distinct subjects. Both draw from a torch.Generator the caller owns, so a run replays.
"""

from __future__ import annotations

import torch

from privacy.errors import PrivacyConfigError


class PoissonSubjectSampler:
    """Each call draws a batch: subject i is in it with probability `sample_rate`, independently."""

    def __init__(self, *, n_subjects: int, sample_rate: float, generator: torch.Generator) -> None:
        if n_subjects < 1:
            raise PrivacyConfigError("the training set is empty: DP training needs at least one subject")
        if not (0.0 < sample_rate <= 1.0):
            raise PrivacyConfigError(f"sample_rate={sample_rate} is not in (0, 1]; lower the batch size "
                                     f"(it must not exceed the {n_subjects} training subjects)")
        self.n_subjects = n_subjects
        self.sample_rate = sample_rate
        self.generator = generator

    def sample(self) -> list[int]:
        mask = torch.rand(self.n_subjects, generator=self.generator, device=self.generator.device) < self.sample_rate
        return mask.nonzero().flatten().tolist()


class UniformSubjectSampler:
    """Each call draws `batch_size` distinct subjects uniformly (no replacement within a batch)."""

    def __init__(self, *, n_subjects: int, batch_size: int, generator: torch.Generator) -> None:
        if n_subjects < 1:
            raise PrivacyConfigError("the training set is empty: training needs at least one subject")
        if batch_size < 1:
            raise PrivacyConfigError(f"batch_size={batch_size} must be at least 1")
        self.n_subjects = n_subjects
        self.batch_size = min(batch_size, n_subjects)
        self.generator = generator

    def sample(self) -> list[int]:
        perm = torch.randperm(self.n_subjects, generator=self.generator, device=self.generator.device)
        return sorted(perm[: self.batch_size].tolist())
