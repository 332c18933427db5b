"""Engines, sessions and migrations of the product's database.

SQLite by default (a file ``var/allocator.db`` under the working directory,
created on first use), PostgreSQL when ``ALLOCATOR_DATABASE_URL`` (or the
``url`` argument) points to one (``postgresql+psycopg://user:pw@host/db``).

SQLite runs in WAL mode with foreign keys on, a busy timeout, and every
transaction started with ``BEGIN IMMEDIATE`` so that two writers queue instead
of failing half-way; PostgreSQL runs at READ COMMITTED with row locks
(``SELECT ... FOR UPDATE``) where the workflow needs them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from allocator.errors import StoreError

#: Environment variable naming the database URL.
URL_ENV = "ALLOCATOR_DATABASE_URL"
#: Default SQLite file, relative to the working directory.
DEFAULT_PATH = Path("var") / "allocator.db"
#: Milliseconds a writer waits for another writer's lock on SQLite.
BUSY_TIMEOUT_MS = 30_000
#: Test hook: the name of a checkpoint at which the process pauses (see :func:`checkpoint`).
PAUSE_ENV = "ALLOCATOR_TEST_PAUSE"
PAUSE_FILE_ENV = "ALLOCATOR_TEST_PAUSE_FILE"


def database_url(url: str | None = None) -> str:
    """The database URL: ``url``, else ``$ALLOCATOR_DATABASE_URL``, else ``sqlite:///var/allocator.db``.

    Examples
    --------
    >>> database_url("sqlite:///x.db")
    'sqlite:///x.db'
    """
    if url:
        return url
    env = os.environ.get(URL_ENV, "").strip()
    if env:
        return env
    return f"sqlite:///{DEFAULT_PATH.as_posix()}"


def is_sqlite(engine_or_url: Engine | str) -> bool:
    """Whether an engine (or URL) is SQLite."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy, not the driver, open transactions (BEGIN IMMEDIATE below)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kw: Any) -> Engine:
    """An engine for ``url`` (see :func:`database_url`), SQLite configured for safe concurrent use.

    The folder of a SQLite file is created when missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> eng = make_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'a.db'}")
    >>> eng.dialect.name
    'sqlite'
    """
    u = database_url(url)
    if is_sqlite(u):
        db = make_url(u).database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, **kw)
        _sqlite_setup(engine)
        return engine
    return create_engine(u, pool_pre_ping=True, **kw)


def migrations_config(engine: Engine) -> Any:
    """An Alembic ``Config`` for the migrations shipped in the package (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "allocator.store:migrations")
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the newest), creating it when empty.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> eng = make_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'a.db'}")
    >>> upgrade(eng)
    >>> "rounds" in current_tables(eng)
    True
    """
    from alembic import command

    command.upgrade(migrations_config(engine), revision)


def current_tables(engine: Engine) -> list[str]:
    """Names of the tables in the database."""
    return sorted(inspect(engine).get_table_names())


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrations_config(engine)).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def open_db(url: str | None = None) -> Engine:
    """An engine on the database at ``url``, migrated to the newest schema on first use."""
    engine = make_engine(url)
    try:
        if not schema_is_current(engine):
            upgrade(engine)
    except Exception as exc:  # driver errors: connection refused, bad URL ...
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"cannot open the database {engine.url!r}: {exc}") from exc
    return engine


def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back everything when it raises.

    Examples
    --------
    >>> from allocator.store import make_engine, upgrade
    >>> import tempfile, pathlib
    >>> eng = make_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'a.db'}")
    >>> upgrade(eng)
    >>> with transaction(eng) as s:
    ...     pass
    """
    with sessions(engine)() as session, session.begin():
        yield session


def checkpoint(name: str) -> None:
    """Test hook: pause forever here when ``$ALLOCATOR_TEST_PAUSE`` equals ``name``.

    The kill tests start a child process with the variable set, wait for the
    file named by ``$ALLOCATOR_TEST_PAUSE_FILE`` to appear (written here) and
    kill the child with SIGKILL while it holds an open transaction.
    """
    if os.environ.get(PAUSE_ENV) != name:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    while True:  # pragma: no cover - killed by the test
        time.sleep(0.1)
