"""Logging in against the store, slowed down for whoever keeps guessing.

:func:`login` is the one door of the officers' app (and of any other UI):

- every failed attempt raises a counter per **user name** and per **client**
  (an IP address, or whatever the UI can tell about the browser); past a few
  free failures the key is locked for an exponentially growing window
  (``BASE_LOCK_S * 2**k``, capped at ``MAX_LOCK_S``). The counters are rows of
  ``login_throttle``, so restarting the app does not reset them; a counter
  left alone for ``RESET_AFTER_S`` starts again from zero, and a successful
  login clears the user's counter;
- while a key is locked the password is not even checked, and the answer is
  ``throttled`` with the seconds to wait;
- a user name that does not exist costs one password check all the same
  (:func:`allocator.store.users.dummy_verify`) and is counted like a known
  one, so neither the time nor the answer tells whether a name exists;
- every attempt, logout and expiry is a row of ``login_events``;
- an old scrypt hash is replaced by an argon2id one on the first successful
  login (``rehashed`` event).

The caller commits the session whatever the outcome (a failure must be
recorded): :func:`login` never raises for wrong credentials, it returns a
:class:`LoginResult` whose ``code`` the UI renders from the catalogue
(``app.login.<code>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.store import models as m
from allocator.store.time import utcnow
from allocator.store.users import dummy_verify, hash_password, needs_rehash, verify_password

#: failures a user name may make before it is locked
USER_FREE_FAILURES = 3
#: failures one client may make before it is locked (higher: a command centre shares one address)
CLIENT_FREE_FAILURES = 10
#: first lock window, seconds; doubled by every further failure
BASE_LOCK_S = 2.0
#: longest lock window, seconds
MAX_LOCK_S = 15 * 60.0
#: a counter with no failure for this long starts again from zero
RESET_AFTER_S = 60 * 60.0

__all__ = [
    "LoginResult", "login", "record_event", "lock_window", "retry_after", "login_events",
    "USER_FREE_FAILURES", "CLIENT_FREE_FAILURES", "BASE_LOCK_S", "MAX_LOCK_S", "RESET_AFTER_S",
]


@dataclass(frozen=True)
class LoginResult:
    """How a login attempt ended.

    Attributes
    ----------
    code : {"ok", "bad_credentials", "throttled"}
        Render it as ``app.login.<code>``.
    user : str or None
        The user name when ``code == "ok"``.
    roles : tuple of str
        The user's roles when ``code == "ok"``.
    retry_after : float
        Seconds until the next attempt is accepted (0 when none is locked).
    """

    code: str
    user: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    retry_after: float = 0.0

    @property
    def ok(self) -> bool:
        return self.code == "ok"


def lock_window(failures: int, free: int) -> float:
    """Seconds a key stays locked after its ``failures``-th failure.

    Examples
    --------
    >>> [lock_window(n, 3) for n in range(1, 7)]
    [0.0, 0.0, 0.0, 2.0, 4.0, 8.0]
    >>> lock_window(100, 3) == MAX_LOCK_S
    True
    """
    if failures <= free:
        return 0.0
    return min(BASE_LOCK_S * 2.0 ** min(failures - free - 1, 40), MAX_LOCK_S)


def _keys(name: str, client: str) -> list[tuple[str, str, int]]:
    return [("user", name[:200], USER_FREE_FAILURES), ("client", (client or "unknown")[:200], CLIENT_FREE_FAILURES)]


def _row(session: Session, kind: str, key: str) -> m.LoginThrottle | None:
    return session.scalar(
        select(m.LoginThrottle).where(m.LoginThrottle.kind == kind, m.LoginThrottle.key == key).with_for_update()
    )


def retry_after(session: Session, name: str, client: str, *, now: datetime | None = None) -> float:
    """Seconds until user ``name`` from ``client`` may try again (0 when neither is locked)."""
    now = now or utcnow()
    wait = 0.0
    for kind, key, _free in _keys(name, client):
        row = session.get(m.LoginThrottle, (kind, key))
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(wait, (row.locked_until - now).total_seconds())
    return wait


def _fail(session: Session, name: str, client: str, now: datetime) -> None:
    for kind, key, free in _keys(name, client):
        row = _row(session, kind, key)
        if row is None:
            row = m.LoginThrottle(kind=kind, key=key, failures=0)
            session.add(row)
        elif row.last_failure_at is not None and (now - row.last_failure_at).total_seconds() > RESET_AFTER_S:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        window = lock_window(row.failures, free)
        row.locked_until = now + timedelta(seconds=window) if window else None
    session.flush()


def record_event(session: Session, user_name: str, outcome: str, *, client: str = "",
                 now: datetime | None = None) -> None:
    """Append one row to the login log (``logout`` and ``expired`` come from the UI)."""
    session.add(m.LoginEvent(at=now or utcnow(), user_name=user_name[:200], client=(client or "")[:200],
                             outcome=outcome))
    session.flush()


def login(session: Session, name: str, password: str, *, client: str = "unknown",
          now: datetime | None = None) -> LoginResult:
    """Check ``name`` and ``password``, throttled per user and per client, and log the attempt.

    Parameters
    ----------
    session : Session
        Commit it whatever the result: failures must be recorded.
    name, password : str
    client : str
        What identifies the caller (an IP address); failures are counted per client too.
    now : datetime, optional
        The time of the attempt (tests); default :func:`allocator.store.time.utcnow`.

    Returns
    -------
    LoginResult

    Examples
    --------
    >>> from allocator.store import memory_store, transaction, add_user
    >>> eng = memory_store()
    >>> with transaction(eng) as s:
    ...     _ = add_user(s, "li", "pw", ["officer"])
    ...     login(s, "li", "pw").code, login(s, "li", "bad").code, login(s, "nobody", "pw").code
    ('ok', 'bad_credentials', 'bad_credentials')
    """
    now = now or utcnow()
    name = (name or "").strip()
    wait = retry_after(session, name, client, now=now)
    if wait > 0:
        record_event(session, name, "throttled", client=client, now=now)
        return LoginResult("throttled", retry_after=wait)
    user = session.scalar(select(m.User).where(m.User.name == name)) if name else None
    if user is None:
        dummy_verify(password or "")
        good = False
    else:
        good = bool(password) and verify_password(password, user.password_hash) and user.active
    if not good:
        _fail(session, name, client, now)
        record_event(session, name, "bad_credentials", client=client, now=now)
        return LoginResult("bad_credentials", retry_after=retry_after(session, name, client, now=now))
    assert user is not None
    row = _row(session, "user", name[:200])
    if row is not None:
        session.delete(row)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        record_event(session, name, "rehashed", client=client, now=now)
    record_event(session, name, "ok", client=client, now=now)
    roles = tuple(sorted(session.scalars(select(m.UserRole.role).where(m.UserRole.user_id == user.id))))
    return LoginResult("ok", user=user.name, roles=roles)


def login_events(session: Session, *, limit: int = 500) -> list[dict[str, object]]:
    """The newest ``limit`` login events, newest first."""
    q = select(m.LoginEvent).order_by(m.LoginEvent.id.desc()).limit(limit)
    return [{"at": e.at, "user": e.user_name, "client": e.client, "outcome": e.outcome}
            for e in session.scalars(q)]
