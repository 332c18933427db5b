"""Logging in: throttling per user and per client kept in the database, equal work for unknown users,
the login log, argon2 with re-hashing of old scrypt hashes, user administration and the first start.

Every test runs on SQLite, and on PostgreSQL too when ``ALLOCATOR_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from allocator.errors import StoreError
from allocator.store import add_user, auth, make_engine, transaction, upgrade, users
from allocator.store import models as m
from allocator.store.bootstrap import ADMIN_PASSWORD_ENV, bootstrap

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
T0 = datetime(2020, 2, 10, 8, 0, 0)


@pytest.fixture
def engine(engine):
    """The shared migrated database (``tests/conftest.py``) with an officer and an approver."""
    with transaction(engine) as s:
        add_user(s, "li", "right-pw", ["officer"])
        add_user(s, "wang", "wang-pw", ["approver"])
    return engine


def _try(engine, name: str, pw: str, *, client: str = "10.0.0.1", at: datetime = T0) -> auth.LoginResult:
    # one attempt = one transaction, committed whatever the outcome (as the app does)
    with transaction(engine) as s:
        return auth.login(s, name, pw, client=client, now=at)


def _events(engine) -> list[tuple[str, str, str]]:
    with transaction(engine) as s:
        return [(e.user_name, e.client, e.outcome) for e in s.scalars(select(m.LoginEvent).order_by(m.LoginEvent.id))]


def test_right_and_wrong_passwords_and_unknown_users_answer_alike(engine) -> None:
    ok = _try(engine, "li", "right-pw")
    assert ok.ok and ok.user == "li" and ok.roles == ("officer",)
    bad = _try(engine, "li", "wrong")
    nobody = _try(engine, "nobody", "wrong")
    assert (bad.code, bad.user, bad.roles) == (nobody.code, nobody.user, nobody.roles) == ("bad_credentials", None, ())
    assert _try(engine, "li", "").code == "bad_credentials"
    assert _events(engine) == [("li", "10.0.0.1", "ok"), ("li", "10.0.0.1", "bad_credentials"),
                               ("nobody", "10.0.0.1", "bad_credentials"), ("li", "10.0.0.1", "bad_credentials")]


def test_an_unknown_user_costs_one_password_check_like_a_known_one(engine, monkeypatch) -> None:
    calls: list[str] = []
    real = users._ARGON2

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name: str):
            return getattr(real, name)

    monkeypatch.setattr(users, "_ARGON2", Counting())
    _try(engine, "li", "wrong")
    known = list(calls)
    calls.clear()
    _try(engine, "no-such-user", "wrong")
    unknown = list(calls)
    assert len(known) == len(unknown) == 1
    assert unknown[0] == users._DUMMY_HASH != known[0]


def test_failures_lock_the_user_with_a_growing_window_even_for_the_right_password(engine) -> None:
    free = auth.USER_FREE_FAILURES
    for i in range(free):
        assert _try(engine, "li", f"guess{i}", at=T0 + timedelta(seconds=i)).retry_after == 0
    last = T0 + timedelta(seconds=free)
    locked = _try(engine, "li", "guess-x", at=last)
    assert locked.code == "bad_credentials" and locked.retry_after == pytest.approx(auth.BASE_LOCK_S)
    # while locked, even the right password is refused without being checked
    during = _try(engine, "li", "right-pw", at=last + timedelta(seconds=auth.BASE_LOCK_S / 2))
    assert during.code == "throttled" and 0 < during.retry_after <= auth.BASE_LOCK_S
    # the next failure after the window doubles it
    after = last + timedelta(seconds=auth.BASE_LOCK_S + 0.1)
    again = _try(engine, "li", "guess-y", at=after)
    assert again.retry_after == pytest.approx(2 * auth.BASE_LOCK_S)
    with transaction(engine) as s:
        row = s.get(m.LoginThrottle, ("user", "li"))
        assert row.failures == free + 2
    # other users are not affected
    assert _try(engine, "wang", "wang-pw", client="10.0.0.2", at=after).ok
    # once the window is over the right password works and clears the user's counter
    ok = _try(engine, "li", "right-pw", at=after + timedelta(seconds=2 * auth.BASE_LOCK_S + 0.1))
    assert ok.ok
    with transaction(engine) as s:
        assert s.get(m.LoginThrottle, ("user", "li")) is None
    assert "throttled" in [o for _, _, o in _events(engine)]


def test_unknown_user_names_are_throttled_like_known_ones(engine) -> None:
    results = [_try(engine, "ghost", "x", at=T0 + timedelta(seconds=i)) for i in range(auth.USER_FREE_FAILURES + 2)]
    known = [_try(engine, "li", "x", client="10.9.9.9", at=T0 + timedelta(seconds=i))
             for i in range(auth.USER_FREE_FAILURES + 2)]
    assert [r.code for r in results] == [r.code for r in known]
    assert [r.retry_after for r in results] == [r.retry_after for r in known]


def test_one_client_guessing_many_names_is_locked_for_every_name(engine) -> None:
    free = auth.CLIENT_FREE_FAILURES
    for i in range(free + 1):  # a different name each time: no user counter passes its free failures
        r = _try(engine, f"name{i}", "x", client="203.0.113.7", at=T0 + timedelta(seconds=i))
    assert r.retry_after == pytest.approx(auth.BASE_LOCK_S)
    at = T0 + timedelta(seconds=free + 0.5)
    assert _try(engine, "li", "right-pw", client="203.0.113.7", at=at).code == "throttled"
    assert _try(engine, "li", "right-pw", client="198.51.100.1", at=at).ok


def test_the_counters_survive_a_restart(engine, db_url: str) -> None:
    for i in range(auth.USER_FREE_FAILURES + 1):
        _try(engine, "li", "x", at=T0 + timedelta(seconds=i))
    engine.dispose()
    fresh = make_engine(db_url)  # a new process would open the database like this
    try:
        r = _try(fresh, "li", "right-pw", at=T0 + timedelta(seconds=auth.USER_FREE_FAILURES + 0.5))
        assert r.code == "throttled"
    finally:
        fresh.dispose()


def test_a_counter_left_alone_starts_again(engine) -> None:
    for i in range(auth.USER_FREE_FAILURES):
        _try(engine, "li", "x", at=T0 + timedelta(seconds=i))
    later = T0 + timedelta(seconds=auth.RESET_AFTER_S + 10)
    assert _try(engine, "li", "x", at=later).retry_after == 0
    with transaction(engine) as s:
        assert s.get(m.LoginThrottle, ("user", "li")).failures == 1


def test_lock_window_doubles_up_to_the_cap() -> None:
    free = 3
    windows = [auth.lock_window(n, free) for n in range(free + 1, free + 30)]
    assert windows[0] == auth.BASE_LOCK_S
    assert all(b == min(2 * a, auth.MAX_LOCK_S) for a, b in zip(windows, windows[1:]))
    assert windows[-1] == auth.MAX_LOCK_S


def test_a_disabled_user_cannot_log_in(engine) -> None:
    with transaction(engine) as s:
        users.set_active(s, "li", False)
    assert _try(engine, "li", "right-pw").code == "bad_credentials"
    with transaction(engine) as s:
        users.set_active(s, "li", True)
    assert _try(engine, "li", "right-pw", client="10.0.0.3").ok


def test_an_old_scrypt_hash_is_replaced_by_argon2_on_login(engine) -> None:
    with transaction(engine) as s:
        user = s.scalar(select(m.User).where(m.User.name == "wang"))
        user.password_hash = users.scrypt_hash("old-pw")
    assert _try(engine, "wang", "old-pw").ok
    with transaction(engine) as s:
        stored = s.scalar(select(m.User.password_hash).where(m.User.name == "wang"))
    assert stored.startswith("$argon2id$") and users.verify_password("old-pw", stored)
    assert not users.needs_rehash(stored)
    assert ("wang", "10.0.0.1", "rehashed") in _events(engine)
    assert _try(engine, "wang", "old-pw").ok


def test_admin_functions_set_roles_passwords_and_receiver_sites(engine) -> None:
    with transaction(engine) as s:
        users.set_roles(s, "li", ["officer", "receiver"], site_id="H01")
        users.set_password(s, "li", "new-pw")
        with pytest.raises(StoreError, match="unknown role"):
            users.set_roles(s, "li", ["king"])
        with pytest.raises(StoreError, match="no user"):
            users.set_password(s, "nobody", "x")
        with pytest.raises(StoreError, match="empty"):
            users.set_password(s, "li", "")
    with transaction(engine) as s:
        rows = {r["name"]: r for r in users.users_frame(s)}
    assert rows["li"]["roles"] == ["officer", "receiver"] and rows["li"]["site_id"] == "H01"
    assert "password_hash" not in rows["li"]
    assert _try(engine, "li", "right-pw").code == "bad_credentials"
    r = _try(engine, "li", "new-pw", client="10.0.0.4")
    assert r.ok and r.roles == ("officer", "receiver")


def test_record_event_and_login_events_newest_first(engine) -> None:
    _try(engine, "li", "right-pw")
    with transaction(engine) as s:
        auth.record_event(s, "li", "logout", client="10.0.0.1", now=T0 + timedelta(minutes=5))
    with transaction(engine) as s:
        ev = auth.login_events(s)
    assert [e["outcome"] for e in ev] == ["logout", "ok"]


@pytest.mark.slow
def test_bootstrap_seeds_the_demo_and_one_admin_once(db_url: str, monkeypatch) -> None:
    if not DEMO.is_dir():
        pytest.skip("demo scenario not present")
    from allocator.store import current_scenario

    eng = make_engine(db_url)
    upgrade(eng)
    monkeypatch.delenv(ADMIN_PASSWORD_ENV, raising=False)
    first = bootstrap(eng, DEMO)
    assert first.seeded and first.admin_created and first.generated_password
    with transaction(eng) as s:
        assert auth.login(s, "admin", first.generated_password, now=T0).roles == ("admin",)
        n_sites = len(current_scenario(s).sites)
    assert n_sites > 0
    again = bootstrap(eng, DEMO)
    assert (again.seeded, again.admin_created, again.generated_password) == (False, False, None)
    with transaction(eng) as s:
        assert s.scalar(select(m.User.name)) == "admin" and len(users.users_frame(s)) == 1
    eng.dispose()


def test_bootstrap_takes_the_admin_password_from_the_environment(db_url: str, monkeypatch) -> None:
    eng = make_engine(db_url)
    upgrade(eng)
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, "from-env")
    done = bootstrap(eng, None)
    assert (done.seeded, done.admin_created, done.generated_password) == (False, True, None)
    with transaction(eng) as s:
        assert auth.login(s, "admin", "from-env", now=T0).ok
    with pytest.raises(StoreError, match="does not exist"):
        bootstrap(eng, ROOT / "no-such-scenario")
    eng.dispose()


def test_the_migration_goes_down_and_up(db_url: str) -> None:
    eng = make_engine(db_url)
    upgrade(eng)
    from alembic import command

    from allocator.store.db import current_tables, migrations_config

    command.downgrade(migrations_config(eng), "0001")
    assert "login_throttle" not in current_tables(eng)
    upgrade(eng)
    assert {"login_throttle", "login_events"} <= set(current_tables(eng))
    with transaction(eng) as s:
        assert "receiver" in s.scalars(select(m.Role.name)).all()
    eng.dispose()


def test_the_bootstrap_command_prints_the_generated_password_once(tmp_path: Path, monkeypatch, capsys) -> None:
    from allocator.store.bootstrap import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALLOCATOR_DATABASE_URL", raising=False)
    monkeypatch.delenv(ADMIN_PASSWORD_ENV, raising=False)
    assert main([]) == 0
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if "created user 'admin'" in x]
    password = line.split("with password ")[1].split(" ")[0]
    eng = make_engine(f"sqlite:///{tmp_path / 'var' / 'allocator.db'}")
    with transaction(eng) as s:
        assert auth.login(s, "admin", password, now=T0).ok
    eng.dispose()
    assert main([]) == 0
    assert "password" not in capsys.readouterr().out
    assert main([str(tmp_path / "missing")]) == 2
