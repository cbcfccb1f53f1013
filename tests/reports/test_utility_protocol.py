"""The utility protocol's parts: augmentation, mixing ratio, pretrain -> fine-tune, config validation."""

from __future__ import annotations

import pytest
import torch
from report_cohorts import make_prepared, make_synthetic

from synthshare.config import UtilityConfig, config_from_dict, load_config
from synthshare.errors import ConfigError
from synthshare.reports import segnet, utility_report
from synthshare.reports.augment import (
    Augmentation,
    apply_augmentation,
    draw_augmentation,
)
from synthshare.reports.utility import _pool, phase_steps, train_regime

TINY = load_config("tiny").utility
AUGMENT = UtilityConfig(augment_flip=True, augment_rot90=True, augment_intensity=0.2)


# -- augmentation -------------------------------------------------------------------------------


def _draw(config: UtilityConfig, seed: int, n: int = 16, square: bool = True) -> Augmentation:
    return draw_augmentation(n=n, square=square, config=config, generator=torch.Generator().manual_seed(seed))


def _same(a: Augmentation, b: Augmentation) -> bool:
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("flip_h", "flip_w", "quarter_turns", "scale"))


def test_augmentation_is_seeded_and_seed_matters():
    assert _same(_draw(AUGMENT, 0), _draw(AUGMENT, 0))
    assert not _same(_draw(AUGMENT, 0), _draw(AUGMENT, 1))


def test_switching_a_part_off_keeps_the_other_draws():
    no_intensity = AUGMENT.model_copy(update={"augment_intensity": 0.0})
    a, b = _draw(AUGMENT, 3), _draw(no_intensity, 3)
    assert torch.equal(a.flip_h, b.flip_h) and torch.equal(a.quarter_turns, b.quarter_turns)
    assert torch.all(b.scale == 1.0) and not torch.all(a.scale == 1.0)
    assert float(a.scale.min()) >= 0.8 and float(a.scale.max()) <= 1.2


def test_disabled_or_non_square_draws_leave_geometry_alone():
    off = _draw(UtilityConfig(), 0)
    assert not off.flip_h.any() and not off.flip_w.any() and not off.quarter_turns.any() and torch.all(off.scale == 1)
    assert not _draw(AUGMENT, 0, square=False).quarter_turns.any()
    assert _draw(AUGMENT, 0, square=True).quarter_turns.any()  # control: square slices do turn


def test_fixed_transform_pinned_on_a_small_slice():
    image = torch.arange(9, dtype=torch.float32).view(1, 1, 3, 3)
    labels = torch.arange(9).view(1, 1, 3, 3)
    flip_h = Augmentation(flip_h=torch.tensor([True]), flip_w=torch.tensor([False]),
                          quarter_turns=torch.tensor([0]), scale=torch.tensor([2.0]))
    x, y = apply_augmentation(images=image, labels=labels, augmentation=flip_h)
    assert y[0, 0].tolist() == [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
    assert x[0, 0].tolist() == [[12.0, 14.0, 16.0], [6.0, 8.0, 10.0], [0.0, 2.0, 4.0]]
    turn = Augmentation(flip_h=torch.tensor([False]), flip_w=torch.tensor([False]),
                        quarter_turns=torch.tensor([1]), scale=torch.tensor([1.0]))
    _, y = apply_augmentation(images=image, labels=labels, augmentation=turn)
    assert y[0, 0].tolist() == [[2, 5, 8], [1, 4, 7], [0, 3, 6]]
    assert labels[0, 0, 0].tolist() == [0, 1, 2]  # the input is not modified


def test_image_and_labels_move_together():
    labels = torch.randint(4, (32, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    image = labels.float() * 10.0 + 1.0  # the image is a function of the labels, voxel by voxel
    drawn = _draw(AUGMENT, 5, n=32)
    x, y = apply_augmentation(images=image, labels=labels, augmentation=drawn)
    assert torch.allclose(x / drawn.scale.view(-1, 1, 1, 1), y.float() * 10.0 + 1.0)
    assert not torch.equal(y, labels)  # control: the labels did move
    # negative control: the augmented image no longer matches the labels as they were
    assert not torch.allclose(x / drawn.scale.view(-1, 1, 1, 1), labels.float() * 10.0 + 1.0)


# -- batches, phases, regimes -------------------------------------------------------------------


def test_mixing_ratio_sets_the_share_of_real_slices():
    real = _pool(make_prepared(2, seed=1))
    syn = _pool(make_synthetic(2, seed=2))
    shares = {}
    for fraction in (0.5, 0.8):
        _, _, which = segnet.draw_batch(pools=[real, syn], probabilities=torch.tensor([fraction, 1 - fraction]),
                                        batch_size=4000, generator=torch.Generator().manual_seed(0))
        shares[fraction] = float((which == 0).float().mean())
    assert shares[0.5] == pytest.approx(0.5, abs=0.03)
    assert shares[0.8] == pytest.approx(0.8, abs=0.03)


@pytest.mark.parametrize(
    "steps, fraction, expected",
    [(10, 0.5, (5, 5)), (100, 0.25, (75, 25)), (2, 0.9, (1, 1)), (3, 0.01, (2, 1)), (600, 0.5, (300, 300))],
)
def test_phase_steps_split_one_budget(steps, fraction, expected):
    config = UtilityConfig(steps=steps, combine="pretrain_finetune", finetune_fraction=fraction)
    assert phase_steps(config) == expected
    assert sum(phase_steps(config)) == steps


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_finetuning_starts_from_the_pretrained_weights_and_changes_them():
    config = TINY.model_copy(update={"steps": 4, "combine": "pretrain_finetune", "finetune_fraction": 0.5})
    real, syn = _pool(make_prepared(3, seed=1)), _pool(make_synthetic(3, seed=2))
    model, _ = train_regime(regime="real+synthetic", real=real, synthetic=syn, config=config, seed=0, progress=False)

    # replay: pretrain on synthetic, then fine-tune the same model on real
    replay = segnet.build_unet(config=config, seed=0)
    segnet.train_unet(model=replay, pools=[syn], config=config, seed=0, progress=False, name="pre", steps=2)
    pretrained = _weights(replay)
    segnet.train_unet(model=replay, pools=[real], config=config, seed=0, progress=False, name="ft", steps=2)
    assert all(torch.equal(a, b) for a, b in zip(_weights(model), _weights(replay)))
    assert not all(torch.equal(a, b) for a, b in zip(_weights(model), pretrained))  # fine-tuning changed them

    # negative control: fine-tuning from a fresh initialisation gives other weights
    fresh = segnet.build_unet(config=config, seed=0)
    segnet.train_unet(model=fresh, pools=[real], config=config, seed=0, progress=False, name="ft", steps=2)
    assert not all(torch.equal(a, b) for a, b in zip(_weights(model), _weights(fresh)))


def test_real_regime_ignores_synthetic_and_protocol_is_reported(real_train, synthetic, real_holdout):
    config = TINY.model_copy(update={"steps": 2, "combine": "pretrain_finetune", "augment_flip": True})
    real, syn = _pool(real_train[:2]), _pool(synthetic[:2])
    a, _ = train_regime(regime="real", real=real, synthetic=syn, config=config, seed=0, progress=False)
    b, _ = train_regime(regime="real", real=real, synthetic=_pool(synthetic[2:4]), config=config, seed=0, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    c, _ = train_regime(regime="real+synthetic", real=real, synthetic=syn, config=config, seed=0, progress=False)
    assert not all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(c)))
    report = utility_report(real_train=real_train[:2], synthetic=synthetic[:2], real_test=real_holdout[:1],
                            config=config, seed=0, progress=False)
    protocol = report["protocol"]
    assert protocol["steps_per_regime"] == 2
    assert protocol["real+synthetic"].startswith("1 steps on synthetic") and "fine-tuning" in protocol["real+synthetic"]
    assert protocol["augmentation"].startswith("random flips")
    mixed = utility_report(real_train=real_train[:2], synthetic=synthetic[:2], real_test=real_holdout[:1],
                           config=TINY.model_copy(update={"steps": 1}), seed=0, progress=False)
    assert "probability 0.5" in mixed["protocol"]["real+synthetic"] and mixed["protocol"]["augmentation"] == "none"


def test_augmentation_changes_training_and_is_reproducible(real_train, synthetic):
    plain = TINY.model_copy(update={"steps": 2})
    augmented = plain.model_copy(update={"augment_flip": True, "augment_rot90": True, "augment_intensity": 0.3})
    real, syn = _pool(real_train[:2]), _pool(synthetic[:2])
    runs = [train_regime(regime="real", real=real, synthetic=syn, config=c, seed=0, progress=False)[0]
            for c in (augmented, augmented, plain)]
    assert all(torch.equal(x, y) for x, y in zip(_weights(runs[0]), _weights(runs[1])))
    assert not all(torch.equal(x, y) for x, y in zip(_weights(runs[0]), _weights(runs[2])))


# -- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "utility, field",
    [
        ({"combine": "pretrain_finetune", "steps": 1}, "at least 2 steps"),
        ({"combine": "interleave"}, "combine"),
        ({"real_fraction": 1.0}, "real_fraction"),
        ({"finetune_fraction": 0.0}, "finetune_fraction"),
        ({"augment_intensity": -0.1}, "augment_intensity"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"augment": True}, "augment"),
        ({"max_real_train": 20, "scarcity": [5, 20]}, "scarcity"),
        ({"scarcity": [5, 5]}, "scarcity"),
        ({"scarcity": [0]}, "scarcity"),
        ({"max_real_train": 2}, "max_real_train"),  # a regime of 1-2 real subjects releases their Dice
        ({"max_real_train": 20, "scarcity": [2]}, "scarcity"),
    ],
)
def test_bad_utility_configs_are_refused(utility, field):
    with pytest.raises(ConfigError, match=field):
        config_from_dict({"utility": utility}, source="test")


def test_good_utility_config_loads():
    config = config_from_dict(
        {"utility": {"combine": "pretrain_finetune", "steps": 2, "finetune_fraction": 0.5, "augment_flip": True,
                     "augment_intensity": 0.1, "lr_schedule": "cosine", "real_fraction": 0.7}},
        source="test",
    )
    assert config.utility.combine == "pretrain_finetune" and phase_steps(config.utility) == (1, 1)


def test_fewest_real_training_subjects_is_the_release_minimum():
    from synthshare.config import MIN_REAL_TRAIN
    from synthshare.reports.curves import MIN_AGGREGATE_COUNT

    assert MIN_REAL_TRAIN == MIN_AGGREGATE_COUNT == 3
    utility = config_from_dict({"utility": {"max_real_train": 4, "scarcity": [3]}}, source="test").utility
    assert (utility.max_real_train, utility.scarcity) == (4, (3,))  # control: the minimum itself loads


def test_train_seeds_report_the_mean_of_independent_trainings() -> None:
    from synthshare.reports.utility import _mean_over_runs

    runs = [{"mean": 0.8, "LV": 0.9, "MYO": float("nan")}, {"mean": 0.6, "LV": 0.7, "MYO": float("nan")}]
    mean = _mean_over_runs(runs)
    assert mean["mean"] == pytest.approx(0.7) and mean["LV"] == pytest.approx(0.8)
    assert mean["MYO"] != mean["MYO"]  # missed in every run: stays NaN (reported as null with a note)


def test_utility_report_with_two_train_seeds_is_the_mean_of_the_single_seed_reports(real_train, synthetic, real_holdout):
    base = TINY.model_copy(update={"steps": 2})
    kw = {"real_train": real_train[:2], "synthetic": synthetic[:2], "real_test": real_holdout[:1], "progress": False}
    one = [utility_report(**kw, config=base, seed=s) for s in (0, 1)]
    two = utility_report(**kw, config=base.model_copy(update={"train_seeds": 2}), seed=0)
    assert two["train_seeds"] == [0, 1]
    for regime in ("real", "synthetic", "real+synthetic"):
        assert two["dice_mean_per_seed"][regime] == pytest.approx([one[0]["dice"][regime]["mean"], one[1]["dice"][regime]["mean"]])
        assert two["dice"][regime]["LV"] == pytest.approx((one[0]["dice"][regime]["LV"] + one[1]["dice"][regime]["LV"]) / 2)
    # negative control: the seeds really differ (else the mean would prove nothing)
    assert one[0]["dice_mean_per_seed"] != one[1]["dice_mean_per_seed"]


def test_scarcity_rows_are_the_main_report_on_nested_real_subsets(real_train, synthetic, real_holdout):
    """A scarcity row equals a utility report whose real subjects are that nested subset; gain = r+s - r."""
    from synthshare.reports.utility import _real_subset

    config = TINY.model_copy(update={"steps": 2, "max_real_train": 4, "scarcity": (1, 2), "train_seeds": 2})
    kw = {"synthetic": synthetic[:2], "real_test": real_holdout[:1], "progress": False, "seed": 0}
    report = utility_report(real_train=real_train, config=config, **kw)
    assert [row["n_real"] for row in report["scarcity"]] == [2, 1]
    main_subset = _real_subset(real_train, 4, 0)
    for row in report["scarcity"]:
        subset = _real_subset(main_subset, row["n_real"], 0)
        assert {s.key for s in subset} <= {s.key for s in main_subset}  # nested
        alone = utility_report(real_train=subset, config=config.model_copy(update={"max_real_train": row["n_real"], "scarcity": ()}), **kw)
        for regime in ("real", "real+synthetic"):
            assert row["dice_mean_per_seed"][regime] == pytest.approx(alone["dice_mean_per_seed"][regime])
        assert row["gain_points"]["per_seed"] == pytest.approx(
            [100 * (b - a) for a, b in zip(row["dice_mean_per_seed"]["real"], row["dice_mean_per_seed"]["real+synthetic"])])
        assert row["gain_points"]["mean"] == pytest.approx(sum(row["gain_points"]["per_seed"]) / 2)
    assert report["gain_points"]["mean"] == pytest.approx(
        100 * (sum(report["dice_mean_per_seed"]["real+synthetic"]) - sum(report["dice_mean_per_seed"]["real"])) / 2)
    # negative control: fewer real subjects really train another model
    assert report["scarcity"][0]["dice_mean_per_seed"]["real"] != report["scarcity"][1]["dice_mean_per_seed"]["real"]
    assert "nested subsets of [1, 2]" in report["protocol"]["scarcity"]


def test_scarcity_larger_than_the_real_subjects_is_skipped_with_a_note(real_train, synthetic, real_holdout):
    config = TINY.model_copy(update={"steps": 2, "max_real_train": 10, "scarcity": (3,)})
    report = utility_report(real_train=real_train[:3], synthetic=synthetic[:2], real_test=real_holdout[:1], config=config,
                            seed=0, progress=False)
    assert report["scarcity"] == [] and any("scarcity 3: only 3 real" in note for note in report["notes"])


# -- work units and worker processes ------------------------------------------------------------


def test_worker_processes_give_the_same_report_as_one_process(real_train, synthetic, real_holdout, caplog):
    """Units run on one thread wherever they run, so 1 and 2 worker processes give identical figures."""
    config = TINY.model_copy(update={"steps": 4, "max_real_train": 3, "scarcity": (2,), "train_seeds": 2,
                                     "combine": "pretrain_finetune"})
    kw = {"real_train": real_train[:3], "synthetic": synthetic[:2], "real_test": real_holdout[:1], "progress": True,
          "seed": 0}
    one = utility_report(config=config.model_copy(update={"workers": 1}), **kw)
    with caplog.at_level("WARNING", logger="synthshare.parallel"):
        two = utility_report(config=config.model_copy(update={"workers": 2}), **kw)
    assert not any("running the remaining" in r.getMessage() for r in caplog.records)  # the workers did the work
    assert one == two
    # control: the report holds real, distinct trainings (else equality would prove nothing)
    assert one["dice_mean_per_seed"]["real"][0] != one["dice_mean_per_seed"]["real+synthetic"][0]
    assert one["scarcity"][0]["dice_mean_per_seed"]["real"] != one["dice_mean_per_seed"]["real"]


def test_shared_pretraining_equals_pretraining_each_size_alone(real_train, synthetic, real_holdout):
    """One pretrain -> a fine-tuned copy per real subset size == train_regime run separately per size."""
    from synthshare.reports.utility import _evaluate, _Inputs, _run_unit, _Unit

    config = TINY.model_copy(update={"steps": 4, "combine": "pretrain_finetune", "finetune_fraction": 0.5})
    real = {3: _pool(real_train[:3]), 1: _pool(real_train[:1])}
    syn = _pool(synthetic[:2])
    inputs = _Inputs(real=real, synthetic=syn, test=list(real_holdout[:1]), config=config)
    shared = _run_unit(inputs, _Unit("real+synthetic", 0, (3, 1)))
    assert [s.size for s in shared] == [3, 1]
    for scored in shared:
        alone, loss = train_regime(regime="real+synthetic", real=real[scored.size], synthetic=syn, config=config,
                                   seed=0, progress=False)
        assert scored.final_loss == loss
        assert scored.evaluation == _evaluate(alone, inputs.test, config)
    assert shared[0].final_loss != shared[1].final_loss  # control: the sizes fine-tune differently


def test_worker_count_follows_the_request_and_the_cpus():
    from synthshare.parallel import available_cpus, resolve_workers

    assert resolve_workers(3, pieces=10) == 3
    assert resolve_workers(3, pieces=2) == 2
    assert resolve_workers(0, pieces=100) == available_cpus()
    assert resolve_workers(0, pieces=0) == 1


# -- reference: the same protocol with further real subjects in place of the synthetic ones -----


@pytest.mark.parametrize("combine", ["pretrain_finetune", "mix"])
def test_reference_is_real_plus_synthetic_trained_on_further_real_subjects(real_train, synthetic, real_holdout, combine):
    """reference == real+synthetic of a report whose 'synthetic' subjects are the further real ones, at every size."""
    from synthshare.reports.utility import _real_subset, _reference_subjects

    config = TINY.model_copy(update={"steps": 4, "max_real_train": 3, "scarcity": (2,), "train_seeds": 2,
                                     "combine": combine, "reference": True})
    kw = {"real_test": real_holdout[:1], "progress": False, "seed": 0}
    report = utility_report(real_train=real_train, synthetic=synthetic[:2], config=config, **kw)
    subset = _real_subset(real_train, 3, 0)
    further = _reference_subjects(real_train=real_train, real=subset, n=2, seed=0, config=config, notes=[])
    assert len(further) == 2 and not {s.key for s in further} & {s.key for s in subset}  # outside the real subset
    reference = report["reference"]
    assert reference["n_subjects"] == 2 and [row["n_real"] for row in reference["scarcity"]] == [2]
    stand_in = utility_report(real_train=subset, synthetic=further, config=config.model_copy(update={"reference": False}),
                              **kw)
    assert reference["dice_mean_per_seed"] == pytest.approx(stand_in["dice_mean_per_seed"]["real+synthetic"])
    assert reference["scarcity"][0]["dice_mean_per_seed"] == pytest.approx(
        stand_in["scarcity"][0]["dice_mean_per_seed"]["real+synthetic"])
    assert reference["gain_points"]["per_seed"] == pytest.approx(
        [100 * (b - a) for a, b in zip(report["dice_mean_per_seed"]["real"], reference["dice_mean_per_seed"])])
    # control: the further real subjects train another model than the synthetic ones do
    assert reference["dice_mean_per_seed"] != report["dice_mean_per_seed"]["real+synthetic"]
    # the synthetic figures do not depend on whether the reference ran
    assert stand_in["dice_mean_per_seed"]["real"] == report["dice_mean_per_seed"]["real"]
    assert "further real training subjects" in report["protocol"]["reference"]


def test_reference_off_none_or_short_is_stated(real_train, synthetic, real_holdout):
    config = TINY.model_copy(update={"steps": 2, "max_real_train": 3, "reference": False})
    kw = {"synthetic": synthetic[:4], "real_test": real_holdout[:1], "progress": False, "seed": 0}
    off = utility_report(real_train=real_train, config=config, **kw)
    assert off["reference"] is None and off["protocol"]["reference"] == "none"
    on = config.model_copy(update={"reference": True})
    none_left = utility_report(real_train=real_train[:3], config=on, **kw)
    assert none_left["reference"] is None
    assert any(n.startswith("reference: 0 real training subjects outside") for n in none_left["notes"])
    short = utility_report(real_train=real_train[:5], config=on, **kw)  # 2 further real subjects for 4 synthetic
    assert short["reference"]["n_subjects"] == 2
    assert any("only 2 real training subjects outside the real subset, fewer than the 4" in n for n in short["notes"])
