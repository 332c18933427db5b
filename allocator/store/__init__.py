"""The product's database: scenario tables, users, rounds, deliveries and the ledger.

Typical use::

    from allocator.store import open_db, transaction, import_scenario, current_scenario
    engine = open_db()                      # var/allocator.db, or $ALLOCATOR_DATABASE_URL
    with transaction(engine) as s:          # one transaction: all or nothing
        import_scenario(s, scenario)
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool

from allocator.store.backup import backup, dump
from allocator.store.db import (
    database_url,
    is_sqlite,
    make_engine,
    open_db,
    sessions,
    transaction,
    upgrade,
)
from allocator.store.rounds import (
    Discrepancy,
    approve_round,
    cancel_round,
    confirm_delivery,
    correct_delivery,
    create_round,
    delivery_history,
    dispatch_round,
    get_round,
    lines_frame,
    plan_round_trips,
    round_tables,
    rounds_frame,
    trips,
    vehicles_by_drop,
    write_off_stock,
)
from allocator.store.scenario_io import (
    current_scenario,
    export_scenario,
    import_scenario,
    reserved_by_lot,
    stock_fingerprint,
)
from allocator.store.users import add_user, authenticate, hash_password, user_roles, verify_password


def memory_store() -> Engine:
    """A migrated in-memory SQLite database (for examples and quick experiments).

    Examples
    --------
    >>> eng = memory_store()
    >>> eng.dialect.name
    'sqlite'
    """
    engine = make_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    upgrade(engine)
    return engine


def current_tables_url(engine: Engine) -> str:
    """The engine's URL with the password hidden (for messages)."""
    return engine.url.render_as_string(hide_password=True)


__all__ = [
    "Discrepancy", "add_user", "approve_round", "authenticate", "backup", "cancel_round",
    "confirm_delivery", "correct_delivery", "create_round", "delivery_history", "current_tables_url", "current_scenario", "database_url", "dispatch_round", "dump",
    "export_scenario", "get_round", "hash_password", "import_scenario", "is_sqlite", "lines_frame", "round_tables",
    "make_engine", "memory_store", "open_db", "plan_round_trips", "reserved_by_lot", "rounds_frame", "sessions",
    "stock_fingerprint", "transaction", "trips", "upgrade", "user_roles", "vehicles_by_drop", "verify_password",
    "write_off_stock",
]
