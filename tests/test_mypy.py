"""mypy is clean on the whole library (``[tool.mypy]`` in pyproject.toml: pandas-stubs, untyped libraries ignored)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_is_clean_on_the_package():
    # `files = ["allocator"]` in pyproject.toml: every module of the package, none left out
    r = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    n = sum(1 for _ in (ROOT / "allocator").rglob("*.py"))
    assert f"no issues found in {n} source files" in r.stdout, r.stdout[-2000:]
