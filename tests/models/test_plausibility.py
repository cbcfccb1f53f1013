"""sampling.plausibility_tries: an implausible LV volume curve is drawn again with the same conditions.

The check (ED at frame 0, one systole) reads the synthetic output only; redraw seeds derive from the subject's
own seed, never from the batch; a subject that never passes keeps its last draw and says so; with one try the
sampler is the plain sampler; the count reaches fidelity.json, the sidecar, samples.csv and the datasheet.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pydantic import ValidationError

from synthshare.config import SamplingConfig
from synthshare.labels import LV
from synthshare.sample import sampler
from synthshare.sample.sampler import draw_seed, plausible_curve, sample_batch, sample_cohort, sample_plausible_batch

SPACING = (1.0, 1.0, 1.0)
GOOD = [10, 8, 5, 3, 4, 7, 9, 10]  # LV voxels per frame: one systole, ED first
DOUBLE_DIP = [10, 8, 5, 3, 8, 5, 9, 10]  # a second dip in diastole
ED_LATE = [8, 6, 4, 3, 6, 8, 10, 9]  # largest volume at frame 6


def _labels(voxels: list[int]) -> np.ndarray:
    labels = np.zeros((len(voxels), 1, 4, 4), dtype=np.uint8)
    for t, v in enumerate(voxels):
        labels[t].reshape(-1)[:v] = LV
    return labels


def test_the_rule():
    assert plausible_curve(_labels(GOOD), SPACING)
    assert not plausible_curve(_labels(DOUBLE_DIP), SPACING)
    assert not plausible_curve(_labels(ED_LATE), SPACING)


def test_draw_seeds_derive_from_the_subject_alone():
    assert draw_seed(seed=123, draw=1) == 123
    second = draw_seed(seed=123, draw=2)
    assert second == draw_seed(seed=123, draw=2) and second != 123
    assert len({draw_seed(seed=123, draw=k) for k in range(1, 6)}) == 5
    assert draw_seed(seed=124, draw=2) != second
    with pytest.raises(ValueError):
        draw_seed(seed=1, draw=0)


def test_tries_are_bounded():
    assert SamplingConfig().plausibility_tries == 1
    with pytest.raises(ValidationError):
        SamplingConfig(plausibility_tries=0)


def _fake_generator(generator, tries: int):
    config = generator.config.model_copy(update={
        "sampling": generator.config.sampling.model_copy(update={"plausibility_tries": tries}),
        "data": generator.config.data.model_copy(update={"spacing": SPACING}),
    })
    return dataclasses.replace(generator, config=config)


@pytest.fixture()
def scripted(monkeypatch):
    """sample_batch replaced by a script: seed -> voxel curve (default GOOD); records every call's seeds."""
    script: dict[int, list[int]] = {}
    calls: list[list[int]] = []

    def fake(*, generator, conditions, seeds, independent_frames=False):
        calls.append(list(seeds))
        labels = np.stack([_labels(script.get(s, GOOD)) for s in seeds])
        images = np.stack([np.full(labels.shape[1:], float(s % 1000), dtype=np.float32) for s in seeds])
        return images, labels

    monkeypatch.setattr(sampler, "sample_batch", fake)
    return script, calls


def test_only_the_implausible_are_drawn_again(generator, scripted):
    script, calls = scripted
    seeds = [11, 22, 33]
    script[22] = DOUBLE_DIP  # fails its first draw, passes the second
    script[33] = ED_LATE
    script[draw_seed(seed=33, draw=2)] = DOUBLE_DIP  # fails twice, passes the third
    gen = _fake_generator(generator, tries=4)
    images, labels, used, draws, ok = sample_plausible_batch(generator=gen, conditions=[{}] * 3, seeds=seeds)
    assert calls == [seeds, [draw_seed(seed=22, draw=2), draw_seed(seed=33, draw=2)], [draw_seed(seed=33, draw=3)]]
    assert used == [11, draw_seed(seed=22, draw=2), draw_seed(seed=33, draw=3)]
    assert draws == [1, 2, 3] and ok == [True, True, True]
    assert all(plausible_curve(lab, SPACING) for lab in labels)
    assert images[1].flat[0] == float(used[1] % 1000)  # the kept draw's image goes with its labels


def test_a_subject_that_never_passes_keeps_its_last_draw(generator, scripted):
    script, calls = scripted
    script[5] = DOUBLE_DIP
    for k in (2, 3):
        script[draw_seed(seed=5, draw=k)] = ED_LATE
    gen = _fake_generator(generator, tries=3)
    _, labels, used, draws, ok = sample_plausible_batch(generator=gen, conditions=[{}], seeds=[5])
    assert len(calls) == 3 and used == [draw_seed(seed=5, draw=3)] and draws == [3] and ok == [False]
    assert np.array_equal(labels[0], _labels(ED_LATE))


def test_one_try_is_the_plain_sampler(generator, scripted):
    script, calls = scripted
    script[5] = DOUBLE_DIP
    _, labels, used, draws, ok = sample_plausible_batch(generator=_fake_generator(generator, tries=1), conditions=[{}],
                                                        seeds=[5])
    assert calls == [[5]] and used == [5] and draws == [1] and ok == [None]
    assert np.array_equal(labels[0], _labels(DOUBLE_DIP))


def test_a_checked_cohort_is_reproducible_and_each_subject_by_its_seed(trained_run, generator):
    """The real sampler on the tiny run (untrained curves fail often, so redraws happen). Without the condition
    calibration (configs/tiny.yaml has one; its factors depend on the check, test_condition_calibration.py)."""
    generator = dataclasses.replace(generator, config=generator.config.model_copy(update={
        "sampling": generator.config.sampling.model_copy(update={"calibration_n": 0})}))
    gen = dataclasses.replace(generator, config=generator.config.model_copy(update={
        "sampling": generator.config.sampling.model_copy(update={"plausibility_tries": 3})}))
    a = sample_cohort(run_dir=trained_run.root, n=6, seed=3, generator=gen)
    b = sample_cohort(run_dir=trained_run.root, n=6, seed=3, generator=gen)
    assert all(np.array_equal(x.image, y.image) and x.seed == y.seed and x.draws == y.draws for x, y in zip(a, b))
    assert all(s.plausible is not None and 1 <= s.draws <= 3 for s in a)
    spacing = tuple(float(v) for v in gen.config.data.spacing)
    assert all(s.plausible == plausible_curve(s.labels, spacing) for s in a)
    redrawn = [s for s in a if s.draws > 1]
    assert redrawn, "the tiny run's curves should fail the check at least once in 6 subjects"
    s = redrawn[0]
    image, _ = sample_batch(generator=gen, conditions=[s.model_conditions], seeds=[s.seed])
    np.testing.assert_allclose(image[0], s.image, atol=1e-5)
    plain = sample_cohort(run_dir=trained_run.root, n=6, seed=3, generator=generator)
    assert all(p.draws == 1 and p.plausible is None for p in plain)
    kept_first = [i for i, s in enumerate(a) if s.draws == 1]
    assert all(np.array_equal(a[i].image, plain[i].image) for i in kept_first)


def test_the_count_reaches_the_reports_and_the_package(generator, tmp_path):
    from synthshare.release.bids import sidecar
    from synthshare.reports.fidelity import _plausibility
    from synthshare.cli.sample import samples_csv

    base = sample_cohort(run_dir=None, n=3, seed=1, generator=generator)
    subjects = [dataclasses.replace(base[0], draws=1, plausible=True), dataclasses.replace(base[1], draws=3, plausible=False),
                dataclasses.replace(base[2], draws=2, plausible=True)]
    block = _plausibility(subjects)
    assert block["checked"] and block["draws_total"] == 6 and block["extra_draws"] == 3
    assert block["implausible_kept"] == 1 and block["first_draw_plausible_fraction"] == pytest.approx(1 / 3)
    assert _plausibility(base) == {"checked": False, "rule": None, "draws_total": 3, "extra_draws": 0,
                                   "first_draw_plausible_fraction": None, "implausible_kept": None}
    car = sidecar(subjects[1])
    assert car["sampler_draws"] == 3 and car["plausible_volume_curve"] is False
    assert sidecar(base[0])["plausible_volume_curve"] is None
    rows = samples_csv(subjects).splitlines()
    assert rows[0].endswith(",draws,plausible") and rows[2].endswith(",3,false")


def test_the_html_headline_gives_the_first_draw_share_beside_the_kept_one():
    from synthshare.reports.html import _headline

    fidelity = {"temporal": {"synthetic": {"single_systole_fraction": 1.0},
                             "plausibility_check": {"checked": True, "first_draw_plausible_fraction": 0.875,
                                                    "extra_draws": 7, "implausible_kept": 0}}}
    rows = dict(_headline(fidelity, {}))
    assert rows["synthetic LV volume curves with one systole (share)"] == "1"
    assert rows["... plausible on the first draw, the model alone (share); extra draws; kept implausible"] == "0.875; 7; 0"
    unchecked = dict(_headline({"temporal": {"synthetic": {"single_systole_fraction": 0.9},
                                             "plausibility_check": {"checked": False}}}, {}))
    assert not any(key.startswith("... plausible") for key in unchecked)
