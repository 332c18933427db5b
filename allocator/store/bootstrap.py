"""First start of the product: a migrated database, the demo scenario and an ``admin``.

``make run`` (the officers' app) calls :func:`bootstrap` once per process. It
is idempotent: a database that already holds a scenario is not re-seeded, and
an ``admin`` is created only when the database has no user at all.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from allocator.errors import StoreError
from allocator.store import models as m
from allocator.store.db import transaction
from allocator.store.users import add_user

#: Environment variable holding the first admin's password.
ADMIN_PASSWORD_ENV = "ALLOCATOR_ADMIN_PASSWORD"
#: Name of the first user.
ADMIN_NAME = "admin"

__all__ = ["Bootstrap", "bootstrap", "ADMIN_PASSWORD_ENV", "ADMIN_NAME"]


@dataclass(frozen=True)
class Bootstrap:
    """What :func:`bootstrap` did.

    Attributes
    ----------
    seeded : bool
        The demo scenario was imported (the database held none).
    admin_created : bool
        The ``admin`` user was created (the database had no user).
    generated_password : str or None
        The admin's password when it was generated (print it once); None when
        it came from ``$ALLOCATOR_ADMIN_PASSWORD`` or no admin was created.
    """

    seeded: bool
    admin_created: bool
    generated_password: str | None = None


def bootstrap(engine: Engine, demo: str | Path | None = None, *, admin_password: str | None = None) -> Bootstrap:
    """Seed an empty database: import ``demo`` when no scenario is stored, create ``admin`` when no user exists.

    Parameters
    ----------
    engine : Engine
        A migrated database (:func:`allocator.store.open_db`).
    demo : path, optional
        A scenario folder or workbook to import on first start; None seeds no scenario.
    admin_password : str, optional
        The admin's password; default ``$ALLOCATOR_ADMIN_PASSWORD``, else a generated one.

    Returns
    -------
    Bootstrap

    Examples
    --------
    >>> from allocator.store import memory_store
    >>> eng = memory_store()
    >>> first = bootstrap(eng, admin_password="pw")
    >>> first.admin_created, first.generated_password, bootstrap(eng).admin_created
    (True, None, False)
    """
    from allocator.scenario import load
    from allocator.store.scenario_io import import_scenario

    seeded = admin_created = False
    generated: str | None = None
    with transaction(engine) as s:
        has_scenario = s.get(m.ScenarioInfo, 1) is not None
        if demo is not None and not has_scenario:
            path = Path(demo)
            if not path.exists():
                raise StoreError(f"the demo scenario {path} does not exist")
            import_scenario(s, load(path), user="bootstrap")
            seeded = True
        if not s.scalar(select(func.count()).select_from(m.User)):
            password = admin_password or os.environ.get(ADMIN_PASSWORD_ENV, "").strip()
            if not password:
                password = generated = secrets.token_urlsafe(12)
            add_user(s, ADMIN_NAME, password, ["admin"])
            admin_created = True
    return Bootstrap(seeded=seeded, admin_created=admin_created, generated_password=generated)


def main(argv: list[str] | None = None) -> int:
    """``python -m allocator.store.bootstrap [DEMO]``: migrate and seed the default database, print what was done.

    ``make run`` calls it before ``streamlit run app.py`` so the generated admin password is
    printed on the console at start (once: later starts find the admin and print nothing new).
    """
    import sys

    from allocator.errors import AllocatorError
    from allocator.store.db import database_url, open_db

    args = sys.argv[1:] if argv is None else argv
    demo = args[0] if args else None
    try:
        engine = open_db()
        done = bootstrap(engine, demo)
    except AllocatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = engine.url.render_as_string(hide_password=True)
    engine.dispose()
    if done.seeded:
        print(f"supply-allocator: imported the demo scenario {demo} into {url}")
    if done.admin_created:
        if done.generated_password:
            print(f"supply-allocator: created user {ADMIN_NAME!r} with password {done.generated_password}"
                  " (shown once; change it on the Users page)")
        else:
            print(f"supply-allocator: created user {ADMIN_NAME!r} with the password in ${ADMIN_PASSWORD_ENV}")
    if not (done.seeded or done.admin_created):
        print(f"supply-allocator: {database_url()} is ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
