"""A data-independent subject embedding for memorisation audits.

Why this embedding: anything fitted on the real cohort (a trained encoder, PCA, a cohort-wide
standardiser) could itself memorise training subjects and hide or fake copies. This embedding has
no parameters learnt from data:

1. features (``features``):
   - "amplitude_spectrum" (default): per frame and slice, the magnitude of the in-plane 2D Fourier
     transform of the slice minus its mean, keeping the ``spectrum_size`` x ``spectrum_size`` lowest
     frequencies. The magnitude does not change when the slice is translated (circularly), so a
     training subject shifted by a few pixels is still recognised as a copy; it also ignores the
     180-degree rotation, which is a copy as well. What it keeps is the size, shape, wall thickness and
     contrast of the heart, which is what makes a subject recognisable;
   - "intensity": the image itself (position-sensitive, for comparison);
2. area-average the features of the whole 4D subject onto a coarse grid (default 4 phases x 4
   slices x 8 x 8). With ED at frame 0 in every prepared subject the phase bins line up across
   subjects, so several key phases (ED, around ES, filling) are represented; the coarse grid ignores
   noise that does not make a copy any less of a copy;
3. standardise each subject on its own (zero mean, unit variance over its features), so global
   intensity scale and offset do not matter;
4. optionally project with a fixed-seed Gaussian random matrix to ``projection_dim`` dimensions
   (Johnson-Lindenstrauss: preserves inner products, bounds the cost for large grids);
5. L2-normalise.

Similarity is the cosine similarity, i.e. the dot product of two embeddings. After step 3 it is the
Pearson correlation of the two feature volumes: 1 for a copy (up to intensity scale and in-plane
shift), lower for different subjects, and it does not depend on the rest of the cohort.
Known limit: a non-circular shift moves content across the field-of-view edge; at 16 px a 1-pixel
shift then keeps only part of the similarity (the power tests measure it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from audits.errors import AuditInputError


@dataclass(frozen=True, kw_only=True)
class EmbeddingSpec:
    """Everything that defines the embedding; recorded in the internal report."""

    features: Literal["amplitude_spectrum", "intensity"] = "amplitude_spectrum"
    spectrum_size: int = 8
    grid: tuple[int, ...] = (4, 4, 8, 8)
    projection_dim: int | None = None
    projection_seed: int = 0
    chunk: int = 256


def _pool_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) exact area-averaging weights: voxel i = [i, i+1) against bin j's interval."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo = np.maximum(edges[:-1, None], np.arange(n_in)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(n_in)[None, :] + 1.0)
    weights = np.clip(hi - lo, 0.0, None)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _coarse(batch: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    out = batch
    for axis, n_out in enumerate(grid, start=1):
        pool = _pool_matrix(out.shape[axis], n_out)
        out = np.moveaxis(np.tensordot(pool, out, axes=([1], [axis])), 0, axis)
    return out.reshape(out.shape[0], -1)


def _amplitude_spectrum(batch: np.ndarray, size: int) -> np.ndarray:
    """|FFT2| over the last two axes of (N, ..., H, W), centred, cropped to the size x size lowest frequencies."""
    centred = batch - batch.mean(axis=(-2, -1), keepdims=True)
    amplitude = np.fft.fftshift(np.abs(np.fft.fft2(centred, axes=(-2, -1))), axes=(-2, -1))
    h, w = amplitude.shape[-2:]
    kh, kw = min(size, h), min(size, w)
    top, left = h // 2 - kh // 2, w // 2 - kw // 2
    return amplitude[..., top : top + kh, left : left + kw].astype(np.float32)


def _features(batch: np.ndarray, spec: EmbeddingSpec) -> np.ndarray:
    if spec.features == "amplitude_spectrum":
        batch = _amplitude_spectrum(batch, spec.spectrum_size)
    return _coarse(batch, spec.grid)


def _projection(dim_in: int, spec: EmbeddingSpec) -> np.ndarray | None:
    if spec.projection_dim is None or spec.projection_dim >= dim_in:
        return None
    rng = np.random.default_rng(spec.projection_seed)
    return (rng.standard_normal((dim_in, spec.projection_dim)) / np.sqrt(spec.projection_dim)).astype(np.float32)


def embed(*, images: Sequence[np.ndarray] | np.ndarray, spec: EmbeddingSpec = EmbeddingSpec(), name: str = "cohort") -> np.ndarray:
    """Embed subjects: ``images`` is a sequence of arrays (one per subject) with ``len(spec.grid)`` axes
    each, e.g. prepared (T, S, H, W) images; shapes may differ between subjects (pooling aligns them).

    Returns float32 (N, D), unit rows. ``name`` only labels error messages.
    """
    if len(images) == 0:
        raise AuditInputError(f"{name}: no subjects to embed")
    if any(g < 1 for g in spec.grid) or spec.spectrum_size < 1:
        raise AuditInputError(f"embedding grid and spectrum_size must be positive, got {spec.grid}, {spec.spectrum_size}")
    if spec.features == "amplitude_spectrum" and len(spec.grid) < 2:
        raise AuditInputError("the amplitude_spectrum features need images with at least two (in-plane) axes")
    rows = []
    projection: np.ndarray | None = None
    for start in range(0, len(images), spec.chunk):
        chunk = [np.asarray(img, dtype=np.float32) for img in images[start : start + spec.chunk]]
        for offset, img in enumerate(chunk):
            if img.ndim != len(spec.grid):
                raise AuditInputError(
                    f"{name}: subject {start + offset} has shape {img.shape}; the embedding grid {spec.grid} needs "
                    f"{len(spec.grid)} axes (prepared images are (T, S, H, W))"
                )
            if not np.all(np.isfinite(img)):
                raise AuditInputError(f"{name}: subject {start + offset} holds NaN or infinite voxels; re-prepare it")
        shapes = {img.shape for img in chunk}
        if len(shapes) == 1:
            feats = _features(np.stack(chunk), spec)
        else:
            feats = np.concatenate([_features(img[None], spec) for img in chunk])
        feats = feats - feats.mean(axis=1, keepdims=True)
        feats = feats / np.maximum(feats.std(axis=1, keepdims=True), 1e-8)
        if start == 0:
            projection = _projection(feats.shape[1], spec)
        if projection is not None:
            feats = feats @ projection
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        rows.append((feats / np.maximum(norms, 1e-12)).astype(np.float32))
    return np.concatenate(rows)
