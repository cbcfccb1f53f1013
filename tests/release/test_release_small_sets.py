"""The release refuses to report on fewer than MIN_AGGREGATE_COUNT real subjects per set: every released
figure must be an aggregate, never one or two subjects' values (a custom gate policy may allow small sets)."""

from types import SimpleNamespace

import pytest

from synthshare.config import load_config
from synthshare.errors import BadInputError
from synthshare.release.pipeline import _reports


class _Untouchable:
    def load(self, key):  # the refusal comes before any real subject is read
        raise AssertionError(f"loaded {key}")


@pytest.mark.parametrize("n_train, n_holdout, which", [(10, 2, "holdout"), (2, 10, "train"), (10, 1, "holdout")])
def test_reports_on_too_few_real_subjects_are_refused(n_train, n_holdout, which):
    split = SimpleNamespace(train=[f"t{i}" for i in range(n_train)], holdout=[f"h{i}" for i in range(n_holdout)])
    with pytest.raises(BadInputError, match=f"real {which} subjects"):
        _reports(cohort=_Untouchable(), split=split, synthetic=[], config=load_config("tiny"),
                 privacy_report={"dp": {"enabled": False}}, progress=False)


def test_three_per_set_passes_the_check():
    split = SimpleNamespace(train=["t0", "t1", "t2"], holdout=["h0", "h1", "h2"])
    with pytest.raises(AssertionError, match="loaded"):  # past the check: it starts reading subjects
        _reports(cohort=_Untouchable(), split=split, synthetic=[], config=load_config("tiny"),
                 privacy_report={"dp": {"enabled": False}}, progress=False)
