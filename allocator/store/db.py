"""Engines, sessions and migrations of the product's database.

SQLite by default (a file ``var/allocator.db`` under the working directory,
created on first use), PostgreSQL when ``ALLOCATOR_DATABASE_URL`` (or the
``url`` argument) points to one (``postgresql+psycopg://user:pw@host/db``).

SQLite runs in WAL mode with foreign keys on, a busy timeout, and every
writing transaction started with ``BEGIN IMMEDIATE`` so that two writers queue
instead of failing half-way; read-only work (listing, showing, exporting,
checking a password) uses ``transaction(engine, write=False)``, a plain
deferred ``BEGIN`` that never takes SQLite's single write lock (WAL readers do
not block the writer nor each other). PostgreSQL runs at READ COMMITTED with row
locks (``SELECT ... FOR UPDATE``) where the workflow needs them, and read-only
transactions are declared ``READ ONLY``.

A database URL that cannot be parsed, names an unknown dialect or a driver
that is not installed raises :class:`~allocator.errors.InvalidRequestError`
with a one-line message (code ``error.store.database_url``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from allocator.errors import InvalidRequestError, StoreError

#: Environment variable naming the database URL.
URL_ENV = "ALLOCATOR_DATABASE_URL"
#: Default SQLite file, relative to the working directory.
DEFAULT_PATH = Path("var") / "allocator.db"
#: Milliseconds a writer waits for another writer's lock on SQLite.
BUSY_TIMEOUT_MS = 30_000
#: Test hook: the name of a checkpoint at which the process pauses (see :func:`checkpoint`).
PAUSE_ENV = "ALLOCATOR_TEST_PAUSE"
PAUSE_FILE_ENV = "ALLOCATOR_TEST_PAUSE_FILE"
#: Execution option marking a read-only transaction (see :func:`transaction`).
READ_ONLY_OPTION = "allocator_read_only"
#: What a database URL looks like, for the error message.
URL_EXAMPLES = "sqlite:///var/allocator.db or postgresql+psycopg://user:password@host/dbname"


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


def parse_url(url: str) -> URL:
    """The parsed database URL, its dialect and driver checked.

    Raises
    ------
    InvalidRequestError
        When ``url`` is not a URL, names an unknown dialect, or its driver is not installed.

    Examples
    --------
    >>> parse_url("sqlite:///x.db").get_backend_name()
    'sqlite'
    >>> parse_url("not a url")
    Traceback (most recent call last):
    ...
    allocator.errors.InvalidRequestError: the database URL 'not a url' cannot be used: it is not a URL (expected sqlite:///var/allocator.db or postgresql+psycopg://user:password@host/dbname)
    """
    shown = repr(url if len(url) <= 80 else url[:77] + "...")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        reason = f"it is not a URL (expected {URL_EXAMPLES})"
        raise InvalidRequestError(f"the database URL {shown} cannot be used: {reason}",
                                  code="error.store.database_url", url=shown, reason=reason) from None
    shown = repr(parsed.render_as_string(hide_password=True))
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        reason = f"unknown database kind {parsed.drivername!r} (expected {URL_EXAMPLES})"
        raise InvalidRequestError(f"the database URL {shown} cannot be used: {reason}",
                                  code="error.store.database_url", url=shown, reason=reason) from None
    except ImportError as exc:
        reason = f"its driver is not installed ({exc.name or exc}); install the postgres extra"
        raise InvalidRequestError(f"the database URL {shown} cannot be used: {reason}",
                                  code="error.store.database_url", url=shown, reason=reason) from None
    return parsed


def is_sqlite(engine_or_url: Engine | str) -> bool:
    """Whether an engine (or URL) is SQLite."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else parse_url(engine_or_url)
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
        # writers take the write lock at once (they queue); readers never take it
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _postgres_setup(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION, False):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")


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
    parsed = parse_url(u)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kw)
        _sqlite_setup(engine)
        return engine
    engine = create_engine(parsed, pool_pre_ping=True, **kw)
    if parsed.get_backend_name() == "postgresql":
        _postgres_setup(engine)
    return engine


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
    with engine.execution_options(**{READ_ONLY_OPTION: True}).connect() as conn:  # no write lock
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
        shown = engine.url.render_as_string(hide_password=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"cannot open the database {shown!r}: {reason}", code="error.store.cannot_open",
                         url=shown, reason=reason) from exc
    return engine


def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back everything when it raises.

    Parameters
    ----------
    engine : Engine
    write : bool
        False for read-only work (listing, showing, exporting, password checks):
        on SQLite a plain ``BEGIN`` that does not take the single write lock, so
        readers never queue behind a writer's ``BEGIN IMMEDIATE`` nor hold one up;
        on PostgreSQL a ``READ ONLY`` transaction. A read-only transaction that
        tries to write fails (PostgreSQL) or takes the lock only then (SQLite):
        pass ``write=True`` for anything that writes.

    Examples
    --------
    >>> from allocator.store import make_engine, upgrade
    >>> import tempfile, pathlib
    >>> eng = make_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'a.db'}")
    >>> upgrade(eng)
    >>> with transaction(eng) as s:
    ...     pass
    """
    bind = engine if write else engine.execution_options(**{READ_ONLY_OPTION: True})
    with sessions(bind)() as session, session.begin():
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
