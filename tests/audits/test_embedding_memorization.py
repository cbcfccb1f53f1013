"""Embedding and memorisation on small random smooth arrays (no phantom needed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from audits import (
    AuditInputError,
    EmbeddingSpec,
    data_side_attack,
    embed,
    memorization_audit,
    nearest_similarity,
)


def _smooth_cohort(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [gaussian_filter(rng.standard_normal((4, 4, 16, 16)), sigma=(0.5, 0.5, 2, 2)).astype(np.float32) for _ in range(n)]


def test_embedding_unit_norm_shift_and_scale_invariant() -> None:
    imgs = _smooth_cohort(3, seed=0)
    moved = [3.0 * np.roll(imgs[0], (2, -1), axis=(2, 3)) + 1.0]
    emb = embed(images=imgs + moved)
    assert emb.shape == (4, 4 * 4 * 8 * 8) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert float(emb[0] @ emb[3]) == pytest.approx(1.0, abs=1e-5)  # shifted + rescaled copy
    assert float(emb[0] @ emb[1]) < 0.95  # negative control: a different subject
    # the intensity features are NOT shift invariant (documented difference)
    inten = embed(images=imgs + moved, spec=EmbeddingSpec(features="intensity"))
    assert float(inten[0] @ inten[3]) < 0.99


def test_embedding_projection_is_seeded_and_shapes_may_differ() -> None:
    imgs = _smooth_cohort(2, seed=1) + [np.random.default_rng(2).random((6, 5, 12, 20)).astype(np.float32)]
    a = embed(images=imgs, spec=EmbeddingSpec(projection_dim=32, projection_seed=3))
    b = embed(images=imgs, spec=EmbeddingSpec(projection_dim=32, projection_seed=3))
    assert a.shape == (3, 32)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(AuditInputError, match="axes"):
        embed(images=[np.zeros((4, 16, 16))])


def test_nearest_similarity_chunked_equals_dense() -> None:
    rng = np.random.default_rng(0)
    q = rng.standard_normal((50, 8)).astype(np.float32)
    r = rng.standard_normal((30, 8)).astype(np.float32)
    best, idx = nearest_similarity(queries=q, references=r, chunk=7)
    dense = q @ r.T
    np.testing.assert_array_equal(idx, dense.argmax(axis=1))
    np.testing.assert_allclose(best, dense.max(axis=1), rtol=1e-6)


def test_memorization_flags_copies_and_not_fresh() -> None:
    train, holdout = _smooth_cohort(30, seed=10), _smooth_cohort(15, seed=11)
    fresh, copies = _smooth_cohort(20, seed=12), [t + 0.01 for t in train[:20]]
    emb_tr, emb_ho = embed(images=train), embed(images=holdout)
    leak = memorization_audit(synthetic=embed(images=copies), train=emb_tr, holdout=emb_ho, synthetic_images=copies, train_images=train)
    ok = memorization_audit(synthetic=embed(images=fresh), train=emb_tr, holdout=emb_ho, synthetic_images=fresh, train_images=train)
    assert (leak.copies, leak.closer_to_train_fraction, leak.closer_to_train_raw_fraction) == (20, 1.0, 1.0)
    assert leak.binomial_p == pytest.approx((30 / 45) ** 20)
    assert leak.max_pixel_ncc == pytest.approx(1.0)
    assert ok.copies <= 3 and ok.binomial_p > 0.01 and ok.max_pixel_ncc < 0.5
    assert ok.expected_raw_fraction == pytest.approx(30 / 45)


def test_balanced_fraction_is_half_at_expected_share() -> None:
    # 3 train, 1 holdout, 4 synthetic: each synthetic subject nearest to one real -> raw share 3/4 = expected
    eye = np.eye(4, dtype=np.float32)
    result = memorization_audit(synthetic=eye, train=eye[:3], holdout=eye[3:])
    assert result.closer_to_train_raw_fraction == 0.75
    assert result.closer_to_train_fraction == pytest.approx(0.5)


def test_data_side_attack_detects_release_of_training_subjects() -> None:
    train, holdout = _smooth_cohort(20, seed=20), _smooth_cohort(20, seed=21)
    emb_tr, emb_ho = embed(images=train), embed(images=holdout)
    leak = data_side_attack(train_embeddings=emb_tr, holdout_embeddings=emb_ho, synthetic_embeddings=emb_tr, n_bootstrap=100)
    fresh = data_side_attack(train_embeddings=emb_tr, holdout_embeddings=emb_ho, synthetic_embeddings=embed(images=_smooth_cohort(20, 22)), n_bootstrap=100)
    assert leak.auc == 1.0
    assert fresh.auc < 0.8 and fresh.auc_ci[0] < 0.5 < fresh.auc_ci[1]


def test_permutation_p_treats_the_real_subject_as_the_unit() -> None:
    from audits.memorization import subject_permutation_p
    from audits.stats import binomial_p

    n_train, n_holdout = 10, 12
    # a weak generator: 38 of 40 samples share one (training) nearest real subject, nothing is copied
    collapsed = np.array([3] * 38 + [n_train + 1, n_train + 5])
    assert binomial_p(successes=38, trials=40, p0=n_train / (n_train + n_holdout)) < 1e-9  # what the binomial says
    assert subject_permutation_p(nearest_real=collapsed, n_train=n_train, n_holdout=n_holdout) > 0.3
    # a memorising generator: every sample is nearest a different training subject
    spread = np.arange(40) % n_train
    assert subject_permutation_p(nearest_real=spread, n_train=n_train, n_holdout=n_holdout) < 1e-3
    # a fresh generator: nearest real subjects spread over the whole pool
    fresh = np.arange(44) % (n_train + n_holdout)  # every real subject the nearest of two samples
    assert subject_permutation_p(nearest_real=fresh, n_train=n_train, n_holdout=n_holdout) > 0.1
