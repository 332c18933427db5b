"""Shared fixtures: paths to the repository, the demo scenario and ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"


def shared_dir() -> Path | None:
    """``../shared`` beside the repository (CI) or ``$ALLOCATOR_SHARED``; None when absent."""
    for cand in (os.environ.get("ALLOCATOR_SHARED"), ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if cand and (Path(cand) / "data").is_dir():
            return Path(cand)
    return None


@pytest.fixture
def shared_data() -> Path:
    d = shared_dir()
    if d is None:
        pytest.skip("../shared/data is absent (it is only beside the repository in CI and development)")
    return d / "data"


@pytest.fixture
def demo_path() -> Path:
    if not DEMO.is_dir():
        pytest.skip("demo scenario not present")
    return DEMO
