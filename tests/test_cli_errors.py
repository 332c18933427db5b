"""The command line never shows a traceback without --debug; read-only work takes no write lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from db_backends import BACKENDS, PG_ENV, reset_pg
from sqlalchemy import func, select

from allocator import cli, examples
from allocator.errors import (
    ConflictError,
    InfeasibleError,
    InvalidArgumentError,
    InvalidRequestError,
    ScenarioFormatError,
)
from allocator.scenario import save
from allocator.store import add_user, make_engine, transaction, upgrade
from allocator.store import models as m

ROOT = Path(__file__).resolve().parents[1]


def _run_with(monkeypatch, capsys, exc: BaseException, *argv: str) -> tuple[int, str]:
    """Run ``allocator [argv] validate X`` with the validate command raising ``exc``."""
    import allocator.commands.validate as v

    def boom(args):
        raise exc

    monkeypatch.setattr(v, "run", boom)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _patched(parser(), boom))
    rc = cli.main([*argv, "validate", "x"])
    return rc, capsys.readouterr().err


def _patched(parser, func):
    parser.set_defaults(func=func)
    for action in parser._subparsers._group_actions:  # the sub-commands keep their own defaults
        for sub in action.choices.values():
            sub.set_defaults(func=func)
    return parser


@pytest.mark.parametrize("exc, rc", [
    (InvalidRequestError("bad request"), 2),
    (InvalidArgumentError("--days must be >= 0"), 2),
    (ConflictError("conflict: round 1 is already approved"), 1),
    (InfeasibleError("lock cannot hold"), 1),
    (ScenarioFormatError("x: no such folder or file"), 1),
    (PermissionError(13, "Permission denied", "out/fill.csv"), 1),
])
def test_library_errors_are_one_line_with_the_right_exit_code(monkeypatch, capsys, exc, rc):
    got, err = _run_with(monkeypatch, capsys, exc)
    assert got == rc
    assert err.count("\n") == 1 and err.startswith("allocator: error: ") and "Traceback" not in err


def test_unexpected_exception_is_an_internal_error_pointing_to_debug(monkeypatch, capsys):
    rc, err = _run_with(monkeypatch, capsys, ZeroDivisionError("division by zero\nsecond line"))
    assert rc == 1
    assert err == ("allocator: internal error: ZeroDivisionError: division by zero; "
                   "run with --debug for the traceback and report it\n")


def test_debug_shows_the_traceback(monkeypatch, capsys):
    with pytest.raises(ZeroDivisionError):
        _run_with(monkeypatch, capsys, ZeroDivisionError("x"), "--debug")
    with pytest.raises(ConflictError):
        _run_with(monkeypatch, capsys, ConflictError("x"), "--debug")


@pytest.mark.slow
def test_real_processes_never_print_a_traceback(tmp_path: Path):
    sc = save(examples.two_hospitals(), tmp_path / "sc")
    (sc / "stock.csv").write_bytes(b"lot_id,depot_id\nL1,\"D1\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ALLOCATOR_DATABASE_URL": "nosuch://x"}
    cases = [
        (["validate", str(sc)], 2, "stock.csv:2: a quoted field opened on this line is never closed"),
        (["round", str(sc), "--out", str(tmp_path / "out")], 2, "never closed"),
        (["validate", str(tmp_path / "nowhere")], 1, "no such folder or file"),
        (["db", "init"], 2, "unknown database kind 'nosuch'"),
    ]
    for argv, rc, needle in cases:
        p = subprocess.run([sys.executable, "-m", "allocator", *argv], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120)
        assert p.returncode == rc, (argv, p.stderr)
        assert needle in p.stderr and "Traceback" not in p.stderr + p.stdout, (argv, p.stderr)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- read-only transactions


def test_readers_do_not_wait_for_a_writer_and_see_the_committed_state(engine):
    with transaction(engine) as s:
        add_user(s, "li", "pw", ["officer"])
    seen: dict[str, int] = {}
    reader_done = threading.Event()
    writer_done = threading.Event()

    def read():
        with transaction(engine, write=False) as r:
            seen["users"] = r.scalar(select(func.count()).select_from(m.User))
        reader_done.set()

    def write():
        with transaction(engine) as w:
            add_user(w, "wang", "pw", ["officer"])
        writer_done.set()

    with transaction(engine) as s:  # a writer holds the write lock (BEGIN IMMEDIATE on SQLite)
        add_user(s, "zhao", "pw", ["approver"])
        s.flush()
        t = threading.Thread(target=read)
        t.start()
        # the reader finishes while the writer still holds its lock, and sees the committed state
        assert reader_done.wait(20), "a read-only transaction waited for the writer"
        assert seen["users"] == 1
        t2 = threading.Thread(target=write)
        t2.start()
        if engine.dialect.name == "sqlite":  # a second writer queues behind the first
            assert not writer_done.wait(0.5)
    t.join()
    t2.join(30)
    assert writer_done.is_set()
    with transaction(engine, write=False) as r:
        assert r.scalar(select(func.count()).select_from(m.User)) == 3


def test_read_only_transactions_start_with_a_plain_begin(engine):
    from sqlalchemy import event

    statements: list[str] = []

    def log(conn, cursor, statement, *a):
        statements.append(statement.strip().upper())

    event.listen(engine, "before_cursor_execute", log)
    try:
        with transaction(engine, write=False) as r:
            r.scalar(select(func.count()).select_from(m.User))
        with transaction(engine) as w:
            w.scalar(select(func.count()).select_from(m.User))
    finally:
        event.remove(engine, "before_cursor_execute", log)
    if engine.dialect.name == "sqlite":
        begins = [s for s in statements if s.startswith("BEGIN")]
        assert begins == ["BEGIN", "BEGIN IMMEDIATE"]
    else:
        assert "SET TRANSACTION READ ONLY" in statements


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs ALLOCATOR_TEST_POSTGRES_URL")
def test_postgres_read_only_transaction_refuses_writes(tmp_path: Path):
    from sqlalchemy.exc import DBAPIError


    url = os.environ[PG_ENV]
    reset_pg(url)
    eng = make_engine(url)
    upgrade(eng)
    with pytest.raises(DBAPIError, match="read-only"):
        with transaction(eng, write=False) as s:
            add_user(s, "li", "pw")
    eng.dispose()


@pytest.mark.slow
def test_read_only_cli_commands_work_while_a_writer_holds_the_lock(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    eng = make_engine(url)
    upgrade(eng)
    with transaction(eng) as s:
        add_user(s, "li", "pw", ["officer"])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with transaction(eng) as s:  # hold the write lock while the commands run
        add_user(s, "zhao", "pw", ["approver"])
        s.flush()
        for argv in (["users", "list"], ["rounds", "list"]):
            p = subprocess.run([sys.executable, "-m", "allocator", *argv, "--db", url], capture_output=True,
                               text=True, env=env, timeout=25)
            assert p.returncode == 0, p.stderr
            assert ("li\tofficer" in p.stdout) if argv[0] == "users" else ("no rounds" in p.stdout)
    eng.dispose()
