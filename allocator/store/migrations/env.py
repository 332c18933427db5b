"""Alembic environment for the migrations shipped with the package.

Run through :func:`allocator.store.db.upgrade`, which builds the ``Config`` in
code and passes the engine in ``config.attributes["engine"]``.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from allocator.store.models import Base

config: Any  # alembic.config.Config during a run, None when imported outside one
try:
    config = context.config
except AttributeError:  # imported outside an Alembic run (doctest collection, linters)
    config = None
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if config is None:
    pass
elif context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
