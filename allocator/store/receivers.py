"""Receivers: a hospital's or site's storekeeper, who confirms what arrived at their own site.

The one home of the receiver's scope. A user with the ``receiver`` role is
tied to a site (``users.site_id``, set by :func:`allocator.store.users.add_user`,
``set_roles`` or :func:`link_receiver`). A receiver who holds no officer,
approver or admin role (:data:`STAFF_ROLES`) is *site-bound* (:func:`site_bound`):
they see and confirm only the trips to their own sites (:func:`trips_for`,
:func:`check_trip_scope`, both called by :func:`allocator.store.confirm_delivery`).
A confirmation is recorded as ``site`` ("delivered, confirmed by the site") when
the user is a receiver of the trip's site and as ``dispatch`` otherwise
(:func:`confirmer`); the ledger's ``delivered`` entry carries ``confirmed_by``
and ``confirmed_as``, and the publication counts the two apart. A trip
confirmed by a receiver of its site is marked so in :func:`trips_frame`.

Examples
--------
>>> from allocator import examples
>>> from allocator.store import memory_store, transaction, import_scenario, add_user
>>> with transaction(memory_store()) as s:
...     _ = import_scenario(s, examples.two_hospitals())
...     _ = add_user(s, "zhao", "pw", ["receiver"], site_id="H1")
...     receiver_sites(s, "zhao"), site_bound(s, "zhao")
(['H1'], True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.errors import NotFoundError, PermissionDeniedError
from allocator.store import models as m
from allocator.store.users import get_user, user_roles

__all__ = ["receiver_sites", "site_bound", "check_trip_scope", "trips_for", "trips_frame", "confirmer",
           "link_receiver", "RECEIVER", "STAFF_ROLES"]

RECEIVER = "receiver"
#: Roles that see every site's trips and confirm on behalf of dispatch.
STAFF_ROLES = ("officer", "approver", "admin")


def link_receiver(session: Session, user: str, site_id: str) -> m.User:
    """Link a ``receiver`` user to the site whose deliveries they confirm.

    Raises
    ------
    PermissionDeniedError
        A user without the receiver role.
    NotFoundError
        An unknown user, or an unknown or retired site.
    """
    u = get_user(session, user)
    if RECEIVER not in user_roles(session, user):
        raise PermissionDeniedError(f"user {user} does not have the receiver role")
    site = session.get(m.Site, site_id)
    if site is None or site.retired:
        raise NotFoundError(f"no site {site_id}")
    u.site_id = site_id
    session.flush()
    return u


def receiver_sites(session: Session, user: str) -> list[str]:
    """The sites receiver ``user`` confirms deliveries for (``users.site_id``; empty for other users)."""
    u = get_user(session, user)
    if RECEIVER not in user_roles(session, user) or not u.site_id:
        return []
    return [u.site_id]


def site_bound(session: Session, user: str) -> bool:
    """Whether ``user`` sees only their own sites' trips (a receiver with no staff role)."""
    roles = set(user_roles(session, user))
    return RECEIVER in roles and not roles & set(STAFF_ROLES)


def trips_for(session: Session, user: str, trips: Sequence[m.Trip]) -> list[m.Trip]:
    """The trips ``user`` may confirm: a site-bound receiver's own sites', everyone else's all.

    Raises
    ------
    PermissionDeniedError
        A site-bound receiver linked to no site.
    """
    if not site_bound(session, user):
        return list(trips)
    mine = set(receiver_sites(session, user))
    if not mine:
        raise PermissionDeniedError(f"user {user} confirms deliveries for site (none linked) only: link a site first")
    return [t for t in trips if t.site_id in mine]


def confirmer(session: Session, user: str, site_id: str) -> str:
    """``site`` when ``user`` is a receiver of ``site_id``, ``dispatch`` for a staff role.

    Raises
    ------
    PermissionDeniedError
        A receiver of another site (or of none), or a user with neither role.
    """
    if site_id in receiver_sites(session, user):
        return "site"
    roles = set(user_roles(session, user))
    if roles & set(STAFF_ROLES):
        return "dispatch"
    if RECEIVER in roles:
        linked = get_user(session, user).site_id
        raise PermissionDeniedError(f"user {user} confirms deliveries for site {linked or '(none linked)'} only, "
                                    f"not {site_id}")
    raise PermissionDeniedError(f"user {user} may not confirm a delivery (needs the receiver role of the site, "
                                f"or {', '.join(STAFF_ROLES)})")


def check_trip_scope(session: Session, user: str, trips: Iterable[m.Trip]) -> None:
    """Refuse a site-bound receiver any trip to a site that is not theirs.

    Raises
    ------
    StoreError
        Naming the first trip outside the receiver's sites.
    """
    if not site_bound(session, user):
        return
    mine = set(receiver_sites(session, user))
    for t in trips:
        if t.site_id not in mine:
            raise PermissionDeniedError(f"user {user!r} receives for {', '.join(sorted(mine)) or 'no site'}: "
                             f"trip {t.id} goes to {t.site_id}; only its own site may confirm it")


def trips_frame(session: Session, user: str, round_id: int | None = None) -> pd.DataFrame:
    """The trips ``user`` may see (all for staff, their sites' for a receiver), newest round first.

    Returns
    -------
    DataFrame
        ``trip_id, round_id, depot_id, site_id, vehicle_id, state, dispatched_at,
        confirmed_by, confirmed_at, by_site`` where ``by_site`` says the
        delivery was confirmed by a receiver of the receiving site.
    """
    cols = ["trip_id", "round_id", "depot_id", "site_id", "vehicle_id", "state", "dispatched_at",
            "confirmed_by", "confirmed_at", "by_site"]
    q = select(m.Trip).order_by(m.Trip.round_id.desc(), m.Trip.id)
    if round_id is not None:
        q = q.where(m.Trip.round_id == int(round_id))
    if site_bound(session, user):
        q = q.where(m.Trip.site_id.in_(receiver_sites(session, user)))
    trips = list(session.scalars(q))
    names = {t.confirmed_by for t in trips if t.confirmed_by}
    ties: dict[str, set[str]] = {}
    if names:
        rows = session.execute(
            select(m.User.name, m.User.site_id).join(m.UserRole, m.UserRole.user_id == m.User.id)
            .where(m.User.name.in_(names), m.UserRole.role == RECEIVER, m.User.site_id.is_not(None)))
        for name, site in rows:
            ties.setdefault(name, set()).add(str(site))
    out = [{
        "trip_id": t.id, "round_id": t.round_id, "depot_id": t.depot_id, "site_id": t.site_id,
        "vehicle_id": t.vehicle_id, "state": t.state, "dispatched_at": t.dispatched_at,
        "confirmed_by": t.confirmed_by or "", "confirmed_at": t.confirmed_at,
        "by_site": bool(t.confirmed_by) and t.site_id in ties.get(t.confirmed_by or "", set()),
    } for t in trips]
    return pd.DataFrame(out, columns=cols)
