"""Shared fixtures: paths to the repository, the demo scenario and ../shared/data; the test databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from db_backends import BACKENDS, PG_ENV, reset_pg

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


# --------------------------------------------------------------------------- databases


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database's URL: a SQLite file, or the PostgreSQL test database emptied first."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url = os.environ[PG_ENV]
    reset_pg(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    """A migrated, empty database's engine (disposed after the test)."""
    from allocator.store import make_engine, upgrade

    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()
