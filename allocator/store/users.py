"""Users, roles and passwords (argon2id, never stored plain).

New hashes are argon2id (``argon2-cffi``, OWASP's first choice); hashes made by
earlier versions with the standard library's scrypt still verify, and
:func:`needs_rehash` tells the login to replace them (see
:mod:`allocator.store.auth`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
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


#: argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, 64 MiB, p=4)
_ARGON2 = PasswordHasher()


def hash_password(password: str) -> str:
    """A salted argon2id hash (``$argon2id$v=19$m=...``).

    Examples
    --------
    >>> h = hash_password("s3cret")
    >>> h.startswith("$argon2id$"), verify_password("s3cret", h), verify_password("nope", h)
    (True, True, False)
    """
    if not password:
        raise InvalidRequestError("a password may not be empty")
    return _ARGON2.hash(password)


def scrypt_hash(password: str) -> str:
    """A salted scrypt hash ``scrypt$n$r$p$salt$key`` (the format of earlier versions; tests use it).

    Examples
    --------
    >>> h = scrypt_hash("s3cret")
    >>> h.startswith("scrypt$"), verify_password("s3cret", h), needs_rehash(h)
    (True, True, True)
    """
    if not password:
        raise InvalidRequestError("a password may not be empty")
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                         dklen=KEY_LEN)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def _verify_scrypt(password: str, stored: str) -> bool:
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


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (an argon2 hash, or a scrypt hash of earlier versions)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _ARGON2.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` should be replaced by a fresh argon2id hash (scrypt, or weaker argon2 parameters)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return True


#: A hash of a random password, verified against for unknown users so they take as long as known ones.
_DUMMY_HASH = _ARGON2.hash(base64.b64encode(os.urandom(18)).decode())


def dummy_verify(password: str) -> None:
    """Spend the time of one password check (for a user name that does not exist)."""
    verify_password(password, _DUMMY_HASH)


def _check_roles(roles: Iterable[str]) -> list[str]:
    out = sorted(set(roles))
    bad = [r for r in out if r not in m.ROLES]
    if bad:
        raise InvalidRequestError(f"unknown role(s) {', '.join(bad)}: choose from {', '.join(m.ROLES)}")
    return out


def add_user(session: Session, name: str, password: str, roles: Iterable[str] = ("officer",), *,
             site_id: str | None = None) -> m.User:
    """Create a user with roles (officer, approver, admin, receiver).

    ``site_id`` is the site a receiver confirms deliveries for.

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
    roles = _check_roles(roles)
    if session.scalar(select(m.User).where(m.User.name == name)) is not None:
        raise ConflictError(f"user {name!r} already exists")
    user = m.User(name=name, password_hash=hash_password(password), active=True, created_at=utcnow(),
                  site_id=site_id or None)
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


def _any_user(session: Session, name: str) -> m.User:
    user = session.scalar(select(m.User).where(m.User.name == name))
    if user is None:
        raise NotFoundError(f"no user named {name!r}")
    return user


def set_password(session: Session, name: str, password: str) -> m.User:
    """Replace the password of user ``name`` (an admin's reset, or the user's own change)."""
    user = _any_user(session, name)
    user.password_hash = hash_password(password)
    session.flush()
    return user


def set_roles(session: Session, name: str, roles: Iterable[str], *, site_id: str | None = None) -> m.User:
    """Give user ``name`` exactly ``roles`` (and the site of a receiver).

    Examples
    --------
    >>> from allocator.store import memory_store, transaction
    >>> with transaction(memory_store()) as s:
    ...     _ = add_user(s, "wang", "pw")
    ...     _ = set_roles(s, "wang", ["officer", "approver"])
    ...     user_roles(s, "wang")
    ['approver', 'officer']
    """
    roles = _check_roles(roles)
    user = _any_user(session, name)
    session.execute(delete(m.UserRole).where(m.UserRole.user_id == user.id))
    for r in roles:
        session.add(m.UserRole(user_id=user.id, role=r))
    user.site_id = site_id or None
    session.flush()
    return user


def set_active(session: Session, name: str, active: bool) -> m.User:
    """Disable (or re-enable) user ``name``; a disabled user cannot log in."""
    user = _any_user(session, name)
    user.active = bool(active)
    session.flush()
    return user


def users_frame(session: Session) -> list[dict[str, object]]:
    """Every user with roles, site, active flag and creation time (never the hash)."""
    roles: dict[int, list[str]] = {}
    for ur in session.scalars(select(m.UserRole)):
        roles.setdefault(ur.user_id, []).append(ur.role)
    return [
        {"name": u.name, "roles": sorted(roles.get(u.id, [])), "site_id": u.site_id or "",
         "active": u.active, "created_at": u.created_at}
        for u in session.scalars(select(m.User).order_by(m.User.name))
    ]
