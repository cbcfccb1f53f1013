"""`audits` is installed from this project and imports nothing from synthshare; model-side attacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import audits
from audits import AuditError, AuditInputError, model_side_attack


def test_audits_comes_from_this_project_and_stands_alone() -> None:
    assert Path(audits.__file__).resolve().parents[1] == Path(__file__).resolve().parents[2]
    code = "import sys, audits; bad = [m for m in sys.modules if m.split('.')[0] == 'synthshare']; sys.exit(1 if bad else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    negative = "import sys, audits, synthshare; sys.exit(0 if 'synthshare' in sys.modules else 1)"  # control
    assert subprocess.run([sys.executable, "-c", negative], check=False).returncode == 0


def test_model_side_attack_scores_each_subject_and_fails_loudly() -> None:
    members, nonmembers = [0.1, 0.2, 0.3], [0.5, 0.6]  # "subjects" are their own error here

    def score(items: list[float]) -> np.ndarray:
        return np.asarray(items)

    result = model_side_attack(name="toy", score_fn=score, members=members, nonmembers=nonmembers, n_bootstrap=50)
    assert result.auc == 1.0 and result.n_members == 3  # lower error = member
    flipped = model_side_attack(name="toy", score_fn=score, members=members, nonmembers=nonmembers, lower_is_member=False, n_bootstrap=50)
    assert flipped.auc == 0.0

    def broken(items: list[float]) -> np.ndarray:
        raise RuntimeError("model missing")

    with pytest.raises(AuditError, match="model missing"):
        model_side_attack(name="toy", score_fn=broken, members=members, nonmembers=nonmembers)
    with pytest.raises(AuditInputError, match="one score per subject"):
        model_side_attack(name="toy", score_fn=lambda items: np.zeros(1), members=members, nonmembers=nonmembers)
