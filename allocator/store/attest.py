"""Attested deliveries: who may confirm that a delivery arrived, and in whose name.

A user with the ``receiver`` role is linked to one site (``users.site_id``,
added by migration ``0003_ledger``) and may confirm only that site's trips:
their confirmation is recorded as ``site`` ("delivered, confirmed by the
site"). An officer, approver or admin may still confirm any trip (a site
without a receiver account, a phone call), recorded as ``dispatch``
("delivered, confirmed by dispatch"). The ledger's ``delivered`` entry carries
``confirmed_by`` and ``confirmed_as``, and the publication counts the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from allocator.errors import NotFoundError, PermissionDeniedError
from allocator.store import models as m
from allocator.store.users import get_user, user_roles

RECEIVER = "receiver"
#: Roles that confirm on behalf of dispatch.
DISPATCH_ROLES = ("officer", "approver", "admin")


def link_receiver(session: Any, user: str, site_id: str) -> m.User:
    """Link a ``receiver`` user to the site whose deliveries they confirm.

    Raises
    ------
    StoreError
        Unknown user or site, or a user without the receiver role.
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


def confirmer(session: Any, user: str, site_id: str) -> str:
    """``site`` when ``user`` is the receiver of ``site_id``, ``dispatch`` for a dispatch role.

    Raises
    ------
    StoreError
        A receiver of another site (or of none), or a user with neither role.
    """
    u = get_user(session, user)
    roles = user_roles(session, user)
    if RECEIVER in roles and u.site_id == site_id:
        return "site"
    if any(r in roles for r in DISPATCH_ROLES):
        return "dispatch"
    if RECEIVER in roles:
        raise PermissionDeniedError(f"user {user} confirms deliveries for site {u.site_id or '(none linked)'} only, "
                         f"not {site_id}")
    raise PermissionDeniedError(f"user {user} may not confirm a delivery (needs the receiver role of the site, "
                     f"or {', '.join(DISPATCH_ROLES)})")


def trips_for(session: Any, user: str, trips: Sequence[m.Trip]) -> list[m.Trip]:
    """The trips ``user`` may confirm: a receiver's own site's, everyone else's all."""
    roles = user_roles(session, user)
    if RECEIVER in roles and not any(r in roles for r in DISPATCH_ROLES):
        site = get_user(session, user).site_id
        if not site:
            raise PermissionDeniedError(f"user {user} confirms deliveries for site (none linked) only: link a site first")
        return [t for t in trips if t.site_id == site]
    return list(trips)
