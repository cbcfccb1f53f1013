"""Memorisation audit: copies of training subjects and the closer-to-train (DCR) test.

Inputs are unit-norm embeddings (``audits.embedding.embed``); similarity is the cosine similarity.

- Copy threshold tau: the ``copy_quantile`` (default 95th) percentile of a null distribution of
  nearest-neighbour similarities between two different real subjects. By default the null is each
  HOLDOUT subject's max similarity to TRAIN ("holdout_to_train"): a holdout subject is exactly what a
  non-memorised synthetic subject looks like, and its maximum is taken over the same n_train
  references as the synthetic subject's, so a fresh synthetic subject exceeds tau with probability
  about 1 - q whatever the split sizes. The alternative "train_to_holdout" (each TRAIN subject's max
  similarity to HOLDOUT) takes the maximum over fewer references when n_holdout < n_train, which
  lowers tau and flags fresh subjects as copies more often than 1 - q; it is kept for comparison.
- Copies: synthetic subjects whose max similarity to train exceeds tau. Under the null their count
  is about Binomial(n_synthetic, 1 - q); ``copies_binomial_p`` tests for more. By construction about
  1 - q of a fresh cohort are such "copies", so this count (or its fraction) detects MASS
  memorisation only: a handful of exact copies of one training subject hides in that 5%.
- Near-copies: synthetic subjects nearer a training subject than ``near_copy_ratio`` times the
  distance between the two closest DISTINCT real subjects (Euclidean distance of the unit
  embeddings; the null pairs are each holdout subject with its nearest training subject and each
  training subject with its nearest other training subject). A rank threshold cannot do this job:
  with n_holdout = 20 and 40 synthetic subjects, even the null's maximum is exceeded by about
  40 / 21 fresh subjects. The ratio is an extrapolation below everything real subjects do to each
  other; it holds while the embedding separates distinct subjects (phantom cohorts, 60 train / 20
  holdout, 20 seeds: exact copies sit at ratio 0.00, copies with 5% noise at 0.07-0.11, the nearest
  of 40 fresh subjects at 0.89-1.26; configs/policy/default.yaml says what that does not cover).
  ``near_copy_subjects`` counts the distinct training subjects copied. If two distinct real subjects
  are near-identical (a duplicated scan) the null is degenerate (``near_copy_measurable`` False) and
  the gate blocks rather than pass every copy.
- Closer to train (DCR-style): for each synthetic subject, is its nearest real subject in the pooled
  train + holdout set a training subject? If the generator did not memorise, the synthetic subject
  is exchangeable with a fresh real subject and its nearest pooled neighbour is uniform over the
  pool, so the expected raw share is n_train / (n_train + n_holdout), not 1/2. We report the
  size-corrected share b = (f / n_train) / (f / n_train + (1 - f) / n_holdout), which is 1/2 under the
  null whatever the split and 1 when every synthetic subject is nearest a training subject, and the
  one-sided binomial p-value of the raw count against n_train / (n_train + n_holdout). Using the whole
  train set (rather than an equal-sized random subset) keeps all the power.
- Subject-level permutation test (``permutation_p``): the binomial test treats synthetic subjects as
  independent draws, but a weak generator's samples often share one nearest real subject (38 of 40
  samples on 3 real subjects was measured), so one training subject that happens to be "average"
  drives the binomial p to 1e-11 with nothing memorised. The real subject is the privacy unit, so
  the null is exchangeability of the train/holdout labels over REAL subjects: keep each synthetic
  subject's nearest pooled real subject, re-draw which real subjects are "train" (same sizes), and
  count how often the shuffled closer-to-train count reaches the observed one. It is the criterion
  the default policy gates on; the binomial p is still reported.
- Pixel-space check: normalised cross-correlation of the top-k synthetic candidates (highest
  similarity to train) with their nearest training subject, when images are given. The threshold is
  absolute (not calibrated on the cohort) and NCC is position-sensitive (a 1-pixel shift of a copy
  drops it to 0.80 or less on 16-pixel phantoms), so it is a second opinion for the strict policy,
  not the copy criterion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from audits.errors import AuditInputError
from audits.stats import binomial_p

Calibration = Literal["holdout_to_train", "train_to_holdout"]
# Below this embedding distance two distinct real subjects count as duplicates (numerical noise of
# the float32 embedding is ~1e-5; two phantom subjects are >= 0.1 apart, random unit vectors ~1.4).
DEGENERATE_DISTANCE = 1e-3


def _embeddings(name: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise AuditInputError(f"{name}: embeddings must be a non-empty (N, D) array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AuditInputError(f"{name}: embeddings hold NaN or infinite values; re-embed the cohort")
    return arr


def nearest_similarity(*, queries: np.ndarray, references: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the max cosine similarity to any reference row and that reference's index.

    Chunked matrix products (chunk x n_references at a time), never a loop over pairs.
    """
    q = _embeddings("queries", queries)
    r = _embeddings("references", references)
    if q.shape[1] != r.shape[1]:
        raise AuditInputError(f"embedding sizes differ: queries D={q.shape[1]}, references D={r.shape[1]}; embed both alike")
    best = np.empty(q.shape[0], dtype=np.float32)
    index = np.empty(q.shape[0], dtype=np.int64)
    rt = np.ascontiguousarray(r.T)
    for start in range(0, q.shape[0], chunk):
        sims = q[start : start + chunk] @ rt
        idx = np.argmax(sims, axis=1)
        index[start : start + chunk] = idx
        best[start : start + chunk] = sims[np.arange(sims.shape[0]), idx]
    return best, index


@dataclass(frozen=True, kw_only=True)
class PixelMatch:
    synthetic_index: int
    train_index: int
    similarity: float
    ncc: float


@dataclass(frozen=True, kw_only=True)
class MemorizationResult:
    """Aggregates first; the per-subject arrays are for the internal report only."""

    n_synthetic: int
    n_train: int
    n_holdout: int
    calibration: Calibration
    copy_quantile: float
    tau: float
    copies: int
    copy_fraction: float
    copies_binomial_p: float
    closer_to_train_fraction: float
    closer_to_train_raw_fraction: float
    expected_raw_fraction: float
    binomial_p: float
    permutation_p: float
    near_copy_ratio: float
    near_copies: int
    near_copy_subjects: int
    near_copy_measurable: bool
    null_min_distance: float
    near_copy_distance: float
    closest_distance_ratio: float
    max_pixel_ncc: float | None
    pixel_matches: tuple[PixelMatch, ...] = ()
    max_sim_to_train: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    max_sim_to_holdout: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    nearest_train: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))


def _pair_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of matched rows in float64 (1 - cosine loses exact copies in float32 noise)."""
    return np.linalg.norm(a.astype(np.float64) - b.astype(np.float64), axis=1)


def nearest_other(*, embeddings: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """For each row, the index of its most similar OTHER row (leave-one-out nearest neighbour)."""
    x = _embeddings("embeddings", embeddings)
    if x.shape[0] < 2:
        raise AuditInputError("leave-one-out nearest neighbour needs at least two subjects")
    index = np.empty(x.shape[0], dtype=np.int64)
    xt = np.ascontiguousarray(x.T)
    for start in range(0, x.shape[0], chunk):
        sims = x[start : start + chunk] @ xt
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = -np.inf
        index[start : start + chunk] = np.argmax(sims, axis=1)
    return index


def pixel_ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation (Pearson over voxels) of two same-shaped images."""
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    x = x - x.mean()
    y = y - y.mean()
    denom = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return float(np.dot(x, y) / denom) if denom > 0 else 0.0


def _pixel_matches(
    *,
    candidates: np.ndarray,
    nearest: np.ndarray,
    sims: np.ndarray,
    synthetic_images: Sequence[np.ndarray],
    train_images: Sequence[np.ndarray],
) -> tuple[PixelMatch, ...]:
    matches = []
    for s in candidates:
        t = int(nearest[s])
        syn, real = np.asarray(synthetic_images[s]), np.asarray(train_images[t])
        if syn.shape != real.shape:
            raise AuditInputError(
                f"pixel check: synthetic subject {int(s)} has shape {syn.shape} but training subject {t} has {real.shape}; "
                "prepare both cohorts onto the same grid"
            )
        matches.append(PixelMatch(synthetic_index=int(s), train_index=t, similarity=float(sims[s]), ncc=pixel_ncc(syn, real)))
    return tuple(matches)


def subject_permutation_p(*, nearest_real: np.ndarray, n_train: int, n_holdout: int, n_permutations: int = 9999,
                          seed: int = 0, chunk: int = 1000) -> float:
    """One-sided p-value of the closer-to-train count under re-drawn train/holdout labels of the real subjects.

    nearest_real: per synthetic subject, the index of its nearest real subject in the pooled set
    (0..n_train-1 train, then holdout). p = (1 + #{shuffled count >= observed}) / (1 + n_permutations).
    """
    pool = n_train + n_holdout
    hits = np.bincount(np.asarray(nearest_real, dtype=np.int64), minlength=pool).astype(np.float64)
    observed = hits[:n_train].sum()
    rng = np.random.default_rng(seed)
    reached = 0
    for start in range(0, n_permutations, chunk):
        size = min(chunk, n_permutations - start)
        # a random n_train-subset of the pool per row: the n_train smallest of uniform keys
        keys = rng.random((size, pool))
        kth = np.partition(keys, n_train - 1, axis=1)[:, n_train - 1 : n_train]
        in_train = keys <= kth
        reached += int(np.count_nonzero(in_train @ hits >= observed - 1e-9))
    return (1 + reached) / (1 + n_permutations)


def memorization_audit(
    *,
    synthetic: np.ndarray,
    train: np.ndarray,
    holdout: np.ndarray,
    copy_quantile: float = 0.95,
    calibration: Calibration = "holdout_to_train",
    near_copy_ratio: float = 0.5,
    synthetic_images: Sequence[np.ndarray] | None = None,
    train_images: Sequence[np.ndarray] | None = None,
    top_k: int = 5,
    n_permutations: int = 9999,
    seed: int = 0,
) -> MemorizationResult:
    """Copies, closer-to-train share and pixel NCC of the top-k candidates (see the module docstring)."""
    if not 0.0 < copy_quantile < 1.0:
        raise AuditInputError(f"copy_quantile must be in (0, 1), got {copy_quantile}")
    if not 0.0 < near_copy_ratio <= 1.0:
        raise AuditInputError(f"near_copy_ratio must be in (0, 1], got {near_copy_ratio}")
    syn = _embeddings("synthetic", synthetic)
    tr = _embeddings("train", train)
    ho = _embeddings("holdout", holdout)
    if (synthetic_images is None) != (train_images is None):
        raise AuditInputError("pixel check: pass both synthetic_images and train_images, or neither")
    if synthetic_images is not None and (len(synthetic_images) != syn.shape[0] or len(train_images) != tr.shape[0]):
        raise AuditInputError("pixel check: one image per embedded subject is needed (counts differ)")

    to_train, nearest_train = nearest_similarity(queries=syn, references=tr)
    to_holdout, nearest_holdout = nearest_similarity(queries=syn, references=ho)
    holdout_to_train, holdout_nearest = nearest_similarity(queries=ho, references=tr)
    if calibration == "holdout_to_train":
        null = holdout_to_train
    else:
        null, _ = nearest_similarity(queries=tr, references=ho)
    tau = float(np.quantile(null.astype(np.float64), copy_quantile))

    n_syn, n_tr, n_ho = syn.shape[0], tr.shape[0], ho.shape[0]
    copies = int(np.count_nonzero(to_train > tau))

    # near-copies: against the closest pair of distinct real subjects (see the module docstring)
    null_pairs = [_pair_distance(ho, tr[holdout_nearest])]
    if n_tr >= 2:
        null_pairs.append(_pair_distance(tr, tr[nearest_other(embeddings=tr)]))
    null_min = float(np.concatenate(null_pairs).min())
    to_train_distance = _pair_distance(syn, tr[nearest_train])
    near_distance = near_copy_ratio * null_min
    near = to_train_distance < near_distance
    closer = int(np.count_nonzero(to_train > to_holdout))
    raw = closer / n_syn
    expected = n_tr / (n_tr + n_ho)
    balanced = (raw / n_tr) / (raw / n_tr + (1.0 - raw) / n_ho)

    matches: tuple[PixelMatch, ...] = ()
    if synthetic_images is not None and train_images is not None and top_k > 0:
        candidates = np.argsort(-to_train, kind="stable")[:top_k]
        matches = _pixel_matches(
            candidates=candidates, nearest=nearest_train, sims=to_train, synthetic_images=synthetic_images, train_images=train_images
        )
    return MemorizationResult(
        n_synthetic=n_syn,
        n_train=n_tr,
        n_holdout=n_ho,
        calibration=calibration,
        copy_quantile=copy_quantile,
        tau=tau,
        copies=copies,
        copy_fraction=copies / n_syn,
        copies_binomial_p=binomial_p(successes=copies, trials=n_syn, p0=1.0 - copy_quantile),
        closer_to_train_fraction=float(balanced),
        closer_to_train_raw_fraction=float(raw),
        expected_raw_fraction=float(expected),
        binomial_p=binomial_p(successes=closer, trials=n_syn, p0=expected),
        permutation_p=subject_permutation_p(
            nearest_real=np.where(to_train > to_holdout, nearest_train, n_tr + nearest_holdout),
            n_train=n_tr, n_holdout=n_ho, n_permutations=n_permutations, seed=seed,
        ),
        near_copy_ratio=near_copy_ratio,
        near_copies=int(np.count_nonzero(near)),
        near_copy_subjects=int(np.unique(nearest_train[near]).size),
        near_copy_measurable=null_min > DEGENERATE_DISTANCE,
        null_min_distance=null_min,
        near_copy_distance=near_distance,
        closest_distance_ratio=float(to_train_distance.min() / null_min) if null_min > 0 else float("inf"),
        max_pixel_ncc=max((m.ncc for m in matches), default=None),
        pixel_matches=matches,
        max_sim_to_train=to_train,
        max_sim_to_holdout=to_holdout,
        nearest_train=nearest_train,
    )
