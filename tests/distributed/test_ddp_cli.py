"""`torchrun --nproc_per_node 2 -m synthshare -- train|sample` against the single-process commands
(tiny config, a 24-subject phantom, DP on). The `--` stops torchrun's own option parser, which would
otherwise read `--run` as an abbreviation of its `--run-path`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~2 min: a phantom, two trainings, two samplings, each in fresh processes

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "synthshare", "--"]
SINGLE = [sys.executable, "-m", "synthshare"]


def _cli(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*prefix, "--quiet", *args], capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp-cli")
    _cli(SINGLE, "phantom", str(root / "data"), "--n", "24", "--seed", "0")
    out = {}
    for name, prefix in (("single", SINGLE), ("ddp", TORCHRUN)):
        out[f"train-{name}"] = _cli(prefix, "train", "--data", str(root / "data"), "--config", "tiny", "--run",
                                    str(root / f"run-{name}"), "--epsilon", "8")
        out[f"sample-{name}"] = _cli(prefix, "sample", "--run", str(root / "run-single"), "--n", "7", "--seed", "3",
                                     "--out", str(root / f"samples-{name}"))
    _cli(SINGLE, "sample", "--run", str(root / "run-single"), "--n", "7", "--seed", "4", "--out", str(root / "samples-seed4"))
    return root, out


def test_train_under_torchrun_spends_the_same_budget(work):
    root, out = work
    single = json.loads((root / "run-single" / "motion" / "done.json").read_text())
    ddp = json.loads((root / "run-ddp" / "motion" / "done.json").read_text())
    assert ddp["ledger"]["enabled"] and ddp["ledger"] == single["ledger"]
    vae = json.loads((root / "run-ddp" / "vae" / "done.json").read_text())
    assert vae["ledger"]["epsilon"] < ddp["ledger"]["epsilon"]  # negative control: one stage short differs
    assert out["train-ddp"].stdout.count("trained up to motion") == 1  # rank 1 stays quiet


def test_sample_under_torchrun_is_byte_identical(work):
    root, out = work
    single, ddp = _digest(root / "samples-single"), _digest(root / "samples-ddp")
    assert len(single) > 7 and ddp == single
    assert _digest(root / "samples-seed4") != single  # negative control: another seed, other bytes
    assert out["sample-ddp"].stdout.count("wrote 7 synthetic subjects") == 1
