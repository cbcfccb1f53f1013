"""README and datasheet privacy statements, and the one wording they share with privacy.json."""

from __future__ import annotations

import pytest

from synthshare.privacy_statement import DP_SCOPE, NO_GUARANTEE, dp_section, guarantee_statement
from synthshare.release.documents import DocumentContext, write_documents

OVERCLAIM = "Every model and statistic trained on the real cohort"


def _documents(tmp_path, subjects, **dp) -> tuple[str, str]:
    context = DocumentContext(dataset_name="SynthCine", license="CC-BY-NC-SA-4.0", nnunet_dataset_id=501,
                              source_cohort="embedded phantom", **dp)
    write_documents(root=tmp_path, context=context, subjects=subjects)
    return (tmp_path / "README.md").read_text(), (tmp_path / "datasheet.md").read_text()


def test_dp_on_states_epsilon_delta_and_the_scope(tmp_path, subjects):
    for text in _documents(tmp_path, subjects, dp_enabled=True, epsilon=8.0, delta=1e-5):
        assert "(8, 1e-05)-DP per subject" in text
        assert DP_SCOPE in text  # says what the guarantee does not cover (utility networks, statistics, n)
        assert OVERCLAIM not in text and NO_GUARANTEE not in text


def test_dp_on_without_a_finite_epsilon_is_neither_dp_off_nor_a_guarantee(tmp_path, subjects):
    for text in _documents(tmp_path, subjects, dp_enabled=True, epsilon=None, delta=1e-5):
        assert "differential privacy was on, but no finite (epsilon, delta)" in text
        assert NO_GUARANTEE in text and "DP off" not in text and "-DP per subject" not in text


def test_dp_off_says_no_formal_guarantee(tmp_path, subjects):
    for text in _documents(tmp_path, subjects, dp_enabled=False):
        assert f"{NO_GUARANTEE}: the generator was trained without differential privacy (DP off)" in text
        assert DP_SCOPE not in text


def test_scope_states_that_the_cohort_size_is_not_protected():
    assert "utility segmentation networks are trained on real subjects without DP" in DP_SCOPE
    assert "cohort sizes" in DP_SCOPE and "sampling rate" in DP_SCOPE


@pytest.mark.parametrize(
    "ledger, expected",
    [
        ({"enabled": False}, NO_GUARANTEE),
        ({"enabled": True, "epsilon": 2.5, "delta": 1e-6}, f"(2.5, 1e-06)-DP per subject (add/remove one subject); "
                                                           f"the guarantee {DP_SCOPE}"),
        ({"enabled": True, "epsilon": float("inf"), "delta": 1e-6},
         f"{NO_GUARANTEE}: differential privacy was on, but no finite (epsilon, delta) was accounted"),
        ({"enabled": True, "delta": None}, f"{NO_GUARANTEE}: differential privacy was on, but no finite (epsilon, delta) was accounted"),
    ],
)
def test_privacy_json_and_the_reports_share_one_statement(ledger, expected):
    dp = dp_section(ledger)
    assert dp["guarantee"] == expected == guarantee_statement(dp)
