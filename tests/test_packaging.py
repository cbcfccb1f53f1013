"""The generic top-level packages `privacy` and `audits` must come from this distribution."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["synthshare", "privacy", "audits"])
def test_import_packages_come_from_this_project(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(ROOT)


def test_audits_and_privacy_do_not_import_synthshare():
    code = (
        "import sys, privacy, audits, pkgutil, importlib\n"
        "for pkg in (privacy, audits):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(any(k == 'synthshare' or k.startswith('synthshare.') for k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_help_is_instant_without_torch():
    code = "import sys; from synthshare.cli.app import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
