"""The databases the store tests run on: SQLite always, PostgreSQL too when ``ALLOCATOR_TEST_POSTGRES_URL`` is set.

``eval "$(.ci/postgres.sh)"`` starts a private PostgreSQL and sets the variable.
The fixtures ``db_url`` and ``engine`` (``tests/conftest.py``) are parametrised
over :data:`BACKENDS`; modules import these names for their own marks.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine

PG_ENV = "ALLOCATOR_TEST_POSTGRES_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


def reset_pg(url: str) -> None:
    """Empty the PostgreSQL test database (drop and re-create its public schema)."""
    eng = create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql("DROP SCHEMA public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    eng.dispose()
