"""Consistent copies of the database while it is in use, and dumps for comparing states."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, select, text
from sqlalchemy.engine import make_url

from allocator.errors import InvalidRequestError, StoreError
from allocator.fsutil import atomic_file


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, read in one transaction (compare two states with ``==``).

    Examples
    --------
    >>> from allocator.store import memory_store
    >>> dump(memory_store())["roles"]
    [('admin',), ('approver',), ('officer',), ('receiver',)]
    """
    md = MetaData()
    md.reflect(engine)
    out: dict[str, list[tuple]] = {}
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        for name, table in sorted(md.tables.items()):
            rows = [tuple(_plain(v) for v in r) for r in conn.execute(select(table))]
            out[name] = sorted(rows, key=lambda r: json.dumps(r, default=str))
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return v


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def backup(engine: Engine, out: str | Path) -> Path:
    """Write a consistent copy of the database to ``out`` while the application keeps running.

    SQLite: the online backup API (a page-by-page copy of one snapshot; the
    result is itself a SQLite database). PostgreSQL: ``pg_dump`` when it is
    installed (plain SQL), else a logical JSON export of every table read in
    one REPEATABLE READ transaction. The file appears only when complete.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from allocator.store import make_engine, upgrade
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> eng = make_engine(f"sqlite:///{d / 'a.db'}"); upgrade(eng)
    >>> backup(eng, d / "copy.db").stat().st_size > 0
    True
    """
    out = Path(out)
    with atomic_file(out) as tmp:
        if engine.dialect.name == "sqlite":
            db = make_url(str(engine.url)).database
            if not db or db == ":memory:":
                raise InvalidRequestError("an in-memory database cannot be backed up to a file")
            tmp.unlink()
            src = sqlite3.connect(db, timeout=30)
            dst = sqlite3.connect(tmp)
            try:
                with dst:
                    src.backup(dst)
            finally:
                dst.close()
                src.close()
        elif engine.dialect.name == "postgresql" and shutil.which("pg_dump"):
            url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            res = subprocess.run(["pg_dump", "--no-owner", "--dbname", url, "--file", str(tmp)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise StoreError(f"pg_dump failed: {res.stderr.strip().splitlines()[-1] if res.stderr else res.returncode}")
        else:
            md = MetaData()
            md.reflect(engine)
            data: dict[str, Any] = {"format": "supply-allocator/backup-json/1", "tables": {}}
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                for name, table in sorted(md.tables.items()):
                    data["tables"][name] = [dict(r._mapping) for r in conn.execute(select(table))]
            tmp.write_text(json.dumps(data, default=_json_default, indent=1), encoding="utf-8")
    return out
