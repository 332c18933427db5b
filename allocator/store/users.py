"""Users, roles and passwords (scrypt from the standard library; never stored plain)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from allocator.store import models as m
from allocator.store.time import utcnow

#: scrypt cost parameters (RFC 7914; n=2**14, r=8, p=1 takes ~50 ms and 16 MiB)
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_LEN = 2**14, 8, 1, 32


def hash_password(password: str) -> str:
    """A salted scrypt hash: ``scrypt$n$r$p$salt$key`` (base64).

    Examples
    --------
    >>> h = hash_password("s3cret")
    >>> h.startswith("scrypt$"), verify_password("s3cret", h), verify_password("nope", h)
    (True, True, False)
    """
    if not password:
        raise InvalidRequestError("a password may not be empty")
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                         dklen=KEY_LEN)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(key)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def add_user(session: Session, name: str, password: str, roles: Iterable[str] = ("officer",)) -> m.User:
    """Create a user with roles (officer, approver, admin).

    Examples
    --------
    >>> from allocator.store import memory_store, transaction
    >>> with transaction(memory_store()) as s:
    ...     u = add_user(s, "li", "pw", ["approver"])
    ...     user_roles(s, "li")
    ['approver']
    """
    name = name.strip()
    if not name:
        raise InvalidRequestError("a user needs a name")
    roles = sorted(set(roles))
    bad = [r for r in roles if r not in m.ROLES]
    if bad:
        raise InvalidRequestError(f"unknown role(s) {', '.join(bad)}: choose from {', '.join(m.ROLES)}")
    if session.scalar(select(m.User).where(m.User.name == name)) is not None:
        raise ConflictError(f"user {name!r} already exists")
    user = m.User(name=name, password_hash=hash_password(password), active=True, created_at=utcnow())
    session.add(user)
    session.flush()
    for r in roles:
        session.add(m.UserRole(user_id=user.id, role=r))
    session.flush()
    return user


def get_user(session: Session, name: str) -> m.User:
    """The active user ``name``; :class:`StoreError` when there is none."""
    user = session.scalar(select(m.User).where(m.User.name == name))
    if user is None or not user.active:
        raise NotFoundError(f"no active user named {name!r}", code="error.store.no_user", user=name)
    return user


def user_roles(session: Session, name: str) -> list[str]:
    """Sorted roles of user ``name``."""
    user = get_user(session, name)
    return sorted(session.scalars(select(m.UserRole.role).where(m.UserRole.user_id == user.id)))


def authenticate(session: Session, name: str, password: str) -> m.User:
    """The user when the password matches, else :class:`StoreError` (same message either way)."""
    user = session.scalar(select(m.User).where(m.User.name == name))
    if user is None or not user.active or not verify_password(password, user.password_hash):
        raise PermissionDeniedError(f"wrong user name or password for {name!r}", code="error.store.login", user=name)
    return user


def require_role(session: Session, name: str, roles: Iterable[str], action: str) -> m.User:
    """The user ``name`` when they hold one of ``roles``; else a :class:`StoreError` naming the action."""
    roles = tuple(roles)
    have = user_roles(session, name)
    if not set(have) & set(roles):
        raise PermissionDeniedError(
            f"user {name!r} ({', '.join(have) or 'no role'}) may not {action}: "
            f"it takes the {' or '.join(roles)} role"
        )
    return get_user(session, name)
