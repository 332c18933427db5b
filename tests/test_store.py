"""The database, the round workflow, deliveries, the donation ledger and their failure modes.

Every test runs on SQLite, and on PostgreSQL too when ``ALLOCATOR_TEST_POSTGRES_URL``
is set (``eval "$(.ci/postgres.sh)"`` starts one).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from db_backends import reset_pg
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from allocator import cli, examples, ledger
from allocator.errors import StoreError
from allocator.scenario import load, save
from allocator.store import (
    Discrepancy,
    add_user,
    approve_round,
    authenticate,
    backup,
    cancel_round,
    confirm_delivery,
    create_round,
    current_scenario,
    dispatch_round,
    dump,
    export_scenario,
    get_round,
    import_scenario,
    lines_frame,
    make_engine,
    reserved_by_lot,
    transaction,
    trips,
    upgrade,
    write_off_stock,
)
from allocator.store import models as m

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"


def _day(engine, scenario=None) -> None:
    """Import ``donated_city`` and add an officer (wang) and two approvers (li, zhao)."""
    with transaction(engine) as s:
        import_scenario(s, scenario or examples.donated_city())
        add_user(s, "wang", "officer-pw", ["officer"])
        add_user(s, "li", "approver-pw", ["approver"])
        add_user(s, "zhao", "approver-pw2", ["approver"])


def _alloc(*rows: tuple) -> pd.DataFrame:
    """Allocation lines as the contract's allocations.csv: (lot, depot, site, item, quantity)."""
    return pd.DataFrame(
        [{"lot_id": lot, "depot_id": d, "site_id": site, "item_id": item, "need_item_id": item,
          "quantity": q, "travel_min": 20.0} for lot, d, site, item, q in rows]
    )


#: A round on donated_city: every donated lot and the reserve lot used.
ROUND1 = (
    ("LA1", "EXPO", "JYT", "mask", 600),
    ("LA1", "EXPO", "UNION", "mask", 300),
    ("LA1", "EXPO", "HOTEL7", "mask", 100),
    ("LB1", "EXPO", "JYT", "suit", 150),
    ("LB2", "AIRPORT", "UNION", "suit", 100),
    ("LR1", "AIRPORT", "JYT", "n95", 300),
)


def _create(engine, rows=ROUND1, user="wang") -> int:
    with transaction(engine) as s:
        return create_round(s, current_scenario(s), _alloc(*rows), None, {"status": "optimal"}, user).id


def _assert_same_scenario(a, b) -> None:
    assert set(a.tables) == set(b.tables)
    for t in a.tables:
        pd.testing.assert_frame_equal(a.tables[t].reset_index(drop=True), b.tables[t].reset_index(drop=True),
                                      check_exact=True, obj=t)
    assert (a.name, a.description, a.as_of, a.meta) == (b.name, b.description, b.as_of, b.meta)


# --------------------------------------------------------------------------- schema


def test_migrations_match_the_models_and_downgrade(engine) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from allocator.store.db import current_tables, migrations_config

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), m.Base.metadata) == []
    command.downgrade(migrations_config(engine), "base")
    assert current_tables(engine) == ["alembic_version"]
    upgrade(engine)
    assert {"ledger", "rounds", "lots", "users"} <= set(current_tables(engine))


# --------------------------------------------------------------------------- import / export


def test_import_export_is_lossless_for_every_example(db_url: str, tmp_path: Path) -> None:
    scenarios = [f() for f in examples.ALL.values()]
    if DEMO.is_dir():
        scenarios.append(load(DEMO))
    for k, sc in enumerate(scenarios):
        # each into an empty database: only a first import receives donated goods
        if db_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'store{k}.db'}"
        else:
            reset_pg(db_url)
            url = db_url
        engine = make_engine(url)
        upgrade(engine)
        with transaction(engine) as s:
            import_scenario(s, sc)
        with transaction(engine) as s:
            out = export_scenario(s)
        engine.dispose()
        _assert_same_scenario(out, sc)


def test_export_survives_files_and_extra_columns(engine, tmp_path: Path) -> None:
    sc = examples.donated_city()
    with transaction(engine) as s:
        import_scenario(s, sc)
        out = export_scenario(s)
    assert list(out.stock.columns)[-1] == "pallet" and out.stock.pallet.tolist() == ["P-01", "P-02", "", "R-9"]
    assert out.has("vehicles") and out.vehicles.permits.tolist() == [("supply",), ()]
    _assert_same_scenario(load(save(out, tmp_path / "again")), sc)


def test_reimport_records_counts_status_and_retired_rows(engine) -> None:
    _day(engine)
    st = examples.donated_city().stock.copy()
    st.loc[st.lot_id == "LA1", "quantity"] = 1200   # 200 more masks arrived
    st.loc[st.lot_id == "LB2", "quantity"] = 80     # a recount found 20 fewer suits
    st.loc[st.lot_id == "LB1", "status"] = "quarantined"
    st = st[st.lot_id != "LR1"]                     # the reserve lot left the books
    with transaction(engine) as s:
        summary = import_scenario(s, examples.donated_city().replace(stock=st))
        assert summary.retired["stock"] == 1
        lots = {lot.lot_id: lot for lot in s.scalars(select(m.Lot))}
        # a re-import is a stock take: counted differences are adjustments, never receipts
        assert (lots["LA1"].quantity, lots["LA1"].received_quantity) == (1200, 1000)
        assert (lots["LB2"].quantity, lots["LB2"].received_quantity) == (80, 100)
        assert lots["LR1"].retired
        events = [(e["event"], e.get("lot_id"), e.get("quantity"), e.get("result")) for e in ledger.entries(s)]
        # the ledger's form of a count: units found enter the lot again (published as adjusted, the
        # lot's first receipt stays its received), units missing are written off with the reason
        assert [q for ev, lot, q, _ in events if ev == "received" and lot == "LA1"] == [1000, 200]
        assert ("written_off", "LB2", 20, None) in events
        adj = {(a.lot_id, a.book, a.counted, a.delta, a.reason) for a in s.scalars(select(m.StockAdjustment))}
        assert adj == {("LA1", 1000, 1200, 200, "stock count"), ("LB2", 100, 80, -20, "stock count")}
        assert ("inspected", "LB1", None, "quarantined") in events
        assert sorted(export_scenario(s).stock.lot_id) == ["LA1", "LB1", "LB2"]
    with tempfile.TemporaryDirectory() as d:
        with transaction(engine) as s:
            ledger.publish(s, Path(d) / "pub")
        with open(Path(d) / "pub" / "donations.csv", encoding="utf-8", newline="") as f:
            row = next(r for r in csv.DictReader(f) if r["donation_id"] == "DON_A")
        assert (row["received"], row["adjusted"]) == ("1000", "200")


# --------------------------------------------------------------------------- users


def test_passwords_are_hashed_and_roles_checked(engine) -> None:
    _day(engine)
    with transaction(engine) as s:
        stored = [u.password_hash for u in s.scalars(select(m.User))]
        assert all(h.startswith("$argon2id$") and "approver-pw" not in h and "officer-pw" not in h for h in stored)
        assert authenticate(s, "li", "approver-pw").name == "li"
        with pytest.raises(StoreError, match="wrong user name or password"):
            authenticate(s, "li", "officer-pw")
        with pytest.raises(StoreError, match="unknown role"):
            add_user(s, "x", "pw", ["boss"])


# --------------------------------------------------------------------------- rounds


def test_approval_reserves_stock_and_makes_other_drafts_stale(engine) -> None:
    _day(engine)
    a = _create(engine)
    b = _create(engine, rows=(("LA1", "EXPO", "HOTEL7", "mask", 50),))
    with transaction(engine) as s, pytest.raises(StoreError, match="approver role"):
        approve_round(s, a, "wang")
    with transaction(engine) as s:
        approve_round(s, a, "li")
        r = get_round(s, a)
        assert (r.state, r.approved_by, r.version) == ("approved", "li", 2) and r.approved_at is not None
        # available = on hand - reserved, recomputed from the round's lines
        want = defaultdict(int)
        for lot, *_rest, q in ROUND1:
            want[lot] += q
        assert reserved_by_lot(s) == dict(want)
        avail = current_scenario(s).stock.set_index("lot_id").quantity
        on_hand = export_scenario(s).stock.set_index("lot_id").quantity
        for lot in on_hand.index:
            assert avail[lot] == on_hand[lot] - want.get(lot, 0)
    with transaction(engine) as s, pytest.raises(StoreError, match="stale"):
        approve_round(s, b, "zhao")
    # a second round cannot take the reserved units
    with transaction(engine) as s, pytest.raises(StoreError, match="1000 units allocated, 0 available"):
        create_round(s, current_scenario(s), _alloc(("LA1", "EXPO", "JYT", "mask", 1000)), None, {}, "wang")
    # re-run on the current stock: the new draft can be approved
    c = _create(engine, rows=(("LB1", "EXPO", "UNION", "suit", 50),))
    with transaction(engine) as s:
        approve_round(s, c, "zhao")
    # cancelling the approved round releases its reservation and says so in the ledger
    with transaction(engine) as s:
        cancel_round(s, a, "li", reason="needs changed")
        assert reserved_by_lot(s) == {"LB1": 50}
        released = [e for e in ledger.entries(s) if e["event"] == "released"]
        assert sum(e["quantity"] for e in released) == 1000 + 150 + 100  # donated lines only
    with transaction(engine) as s, pytest.raises(StoreError, match="already cancelled"):
        approve_round(s, a, "li")


def test_optimistic_version_conflict(engine) -> None:
    _day(engine)
    rid = _create(engine)
    with transaction(engine) as s, pytest.raises(StoreError, match="conflict: .* changed since you loaded it"):
        approve_round(s, rid, "li", expected_version=0)
    with transaction(engine) as s:
        assert get_round(s, rid).state == "draft"


def test_concurrent_approvals_one_wins(db_url: str, engine) -> None:
    _day(engine)
    for _ in range(3):
        rid = _create(engine, rows=(("LA1", "EXPO", "JYT", "mask", 10),))
        barrier = threading.Barrier(2)
        results: dict[str, object] = {}

        def approve(user: str, rid: int = rid, barrier: threading.Barrier = barrier,
                    results: dict = results) -> None:
            eng = make_engine(db_url)  # its own connection pool
            try:
                barrier.wait()
                with transaction(eng) as s:
                    approve_round(s, rid, user)
                results[user] = "ok"
            except StoreError as exc:
                results[user] = exc
            finally:
                eng.dispose()

        threads = [threading.Thread(target=approve, args=(u,)) for u in ("li", "zhao")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(type(v).__name__ for v in results.values()) == ["ConflictError", "str"], results
        loser = next(v for v in results.values() if isinstance(v, StoreError))
        winner = next(u for u, v in results.items() if v == "ok")
        assert str(loser).startswith(f"conflict: round {rid} is already approved by {winner}")
        with transaction(engine) as s:
            allocated = [e for e in ledger.entries(s) if e["event"] == "allocated" and e["round_id"] == rid]
            assert len(allocated) == 1  # reserved once
            cancel_round(s, rid, "li")


# --------------------------------------------------------------------------- deliveries and usage


def _usage_adds_up(dons: pd.DataFrame, usage: pd.DataFrame) -> None:
    for r in dons.itertuples():
        assert r.received == r.allocated + r.in_stock + r.written_off, r
        u = usage[(usage.donation_id == r.donation_id) & (usage.item_id == r.item_id)]
        assert u.allocated.sum() == r.allocated
        assert u.in_stock.sum() == r.in_stock
        assert u.written_off.sum() == r.written_off


def test_dispatch_delivery_discrepancies_and_usage(engine) -> None:
    _day(engine)
    rid = _create(engine)
    with transaction(engine) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "wang")
        ts = trips(s, rid)
        assert sorted((t.depot_id, t.site_id) for t in ts) == sorted({(d, site) for _, d, site, _, _ in ROUND1})
        on_hand = {lot.lot_id: lot.quantity for lot in s.scalars(select(m.Lot))}
        assert on_hand == {"LA1": 0, "LB1": 50, "LB2": 0, "LR1": 200}
    with transaction(engine) as s:
        lines = lines_frame(s, rid).set_index(["lot_id", "site_id"])
        short = int(lines.loc[("LA1", "UNION"), "line_id"])
        damaged = int(lines.loc[("LB1", "JYT"), "line_id"])
        trip_jyt = int(lines.loc[("LB1", "JYT"), "trip_id"])
        # confirm the JYT trip first: the round stays dispatched
        confirm_delivery(s, rid, "wang", trip_id=trip_jyt, discrepancies={
            damaged: Discrepancy(received=140, kind="damaged", disposition="written_off", reason="wet cartons")})
        assert get_round(s, rid).state == "dispatched"
        with pytest.raises(StoreError, match="needs a reason"):
            confirm_delivery(s, rid, "wang", discrepancies={short: Discrepancy(250, "short", "written_off")})
    with transaction(engine) as s:
        confirm_delivery(s, rid, "wang", discrepancies={short: Discrepancy(received=250, kind="short")})
        r = get_round(s, rid)
        assert r.state == "delivered" and r.delivered_at is not None
        on_hand = {lot.lot_id: lot.quantity for lot in s.scalars(select(m.Lot))}
        assert on_hand == {"LA1": 50, "LB1": 50, "LB2": 0, "LR1": 200}  # 50 short masks came back
        write_off_stock(s, "LB1", 5, "moth damage in the depot", "wang")
        with pytest.raises(StoreError, match="only 45 are in stock"):
            write_off_stock(s, "LB1", 46, "x", "wang")
        dons, usage = ledger.usage_tables(s)
        # database totals, recomputed here from the lines and deliveries
        d = dons.set_index(["donation_id", "item_id"])
        cols = ["received", "allocated", "in_stock", "written_off"]
        assert d.loc[("DON_A", "mask"), cols].tolist() == [1000, 950, 50, 0]
        assert d.loc[("DON_B", "suit"), cols].tolist() == [300, 240, 45, 15]
        _usage_adds_up(dons, usage)
        # the ledger implies the same totals as the database
        tot = ledger.totals_from_ledger(ledger.entries(s))
        for r in dons.itertuples():
            t = tot.donations[(r.donation_id, r.item_id)]
            assert (t["received"], t["allocated"], t["in_stock"], t["written_off"]) == (
                r.received, r.allocated, r.in_stock, r.written_off)
        u = usage.set_index(["donation_id", "item_id", "receiver_org_ref"])
        assert u.loc[("DON_A", "mask", "UNION"), ["allocated", "dispatched", "delivered", "returned"]].tolist() == [
            250, 300, 250, 50]


# --------------------------------------------------------------------------- publication


def _published_day(engine, out: Path) -> Path:
    _day(engine)
    rid = _create(engine)
    with transaction(engine) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "wang")
        line = int(lines_frame(s, rid).line_id.iloc[0])
        confirm_delivery(s, rid, "wang", discrepancies={line: Discrepancy(590, "short", "written_off", "lost")})
        ledger.publish(s, out)
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_publish_verify_and_tampering(engine, tmp_path: Path) -> None:
    pub = _published_day(engine, tmp_path / "pub")
    res = ledger.verify(pub)
    assert res.ok, res.message
    text_all = "".join(p.read_text(encoding="utf-8") for p in pub.iterdir())
    assert "Example Textiles Co." not in text_all and "anonymous" in text_all and "Wuhan Red Cross" in text_all
    manifest = json.loads((pub / "manifest.json").read_text())
    lines = (pub / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    assert manifest["head_seq"] == len(lines) and manifest["head_hash"] == json.loads(lines[-1])["hash"]
    dons = pd.read_csv(pub / "donations.csv")
    _usage_adds_up(dons, pd.read_csv(pub / "donation_usage.csv", keep_default_na=False))

    # one byte changed inside entry 7: a digit of its timestamp (still valid JSON)
    d = _copy(pub, tmp_path / "t1")
    bad = bytearray(lines[6])
    i = bad.index(b'"at":"') + 8
    bad[i] = ord("9") if bad[i] != ord("9") else ord("8")
    (d / "ledger.jsonl").write_bytes(b"".join([*lines[:6], bytes(bad), *lines[7:]]))
    res = ledger.verify(d)
    assert not res.ok and res.seq == 7 and "entry 7" in res.message
    # one byte changed that breaks the JSON of entry 3
    d = _copy(pub, tmp_path / "t2")
    (d / "ledger.jsonl").write_bytes(b"".join([*lines[:2], b"[" + lines[2][1:], *lines[3:]]))
    res = ledger.verify(d)
    assert not res.ok and res.seq == 3
    # a space added to entry 2: same JSON meaning, but not the published bytes
    d = _copy(pub, tmp_path / "t2b")
    (d / "ledger.jsonl").write_bytes(b"".join([lines[0], lines[1].replace(b'":', b'": ', 1), *lines[2:]]))
    res = ledger.verify(d)
    assert not res.ok and res.seq == 2
    # one line deleted
    d = _copy(pub, tmp_path / "t3")
    (d / "ledger.jsonl").write_bytes(b"".join([*lines[:4], *lines[5:]]))
    res = ledger.verify(d)
    assert not res.ok and res.seq == 5 and "entry 5" in res.message
    # the last line deleted
    d = _copy(pub, tmp_path / "t4")
    (d / "ledger.jsonl").write_bytes(b"".join(lines[:-1]))
    res = ledger.verify(d)
    assert not res.ok and res.seq == len(lines)
    # a published total changed
    d = _copy(pub, tmp_path / "t5")
    dons.loc[0, "in_stock"] += 1
    dons.to_csv(d / "donations.csv", index=False)
    res = ledger.verify(d)
    assert not res.ok and "in_stock" in res.message and res.seq is not None


def test_ledger_is_append_only_in_the_database(engine) -> None:
    _day(engine)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as c:
            c.execute(text("UPDATE ledger SET quantity = quantity + 1 WHERE seq = 2"))
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as c:
            c.execute(text("DELETE FROM ledger WHERE seq = 1"))


# --------------------------------------------------------------------------- crash safety

CHILD = """
import sys
from allocator import examples, ledger
from allocator.store import make_engine, transaction, import_scenario, approve_round
url, op, arg = sys.argv[1:4]
eng = make_engine(url)
with transaction(eng) as s:
    if op == "import":
        import_scenario(s, examples.donated_city())
    elif op == "approve":
        approve_round(s, int(arg), "li")
    elif op == "publish":
        ledger.publish(s, arg)
"""


def _kill_midway(db_url: str, op: str, arg: str, tmp_path: Path) -> None:
    marker = tmp_path / f"paused-{op}"
    env = {**os.environ, "ALLOCATOR_TEST_PAUSE": op, "ALLOCATOR_TEST_PAUSE_FILE": str(marker),
           "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, op, arg], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"child ended before the checkpoint: {child.stderr.read().decode()}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError("child never reached the checkpoint")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL


@pytest.mark.parametrize("op", ["import", "approve", "publish"])
def test_sigkill_midway_leaves_database_unchanged(db_url: str, engine, op: str, tmp_path: Path) -> None:
    if op == "import":
        # the killed import is a stock take that changes a count
        sc = examples.donated_city()
        st = sc.stock.copy()
        st.loc[st.lot_id == "LA1", "quantity"] = 900
        with transaction(engine) as s:
            import_scenario(s, sc.replace(stock=st))
    else:
        _day(engine)
    rid = _create(engine) if op == "approve" else 0
    arg = str(tmp_path / "pub") if op == "publish" else str(rid)
    before = dump(engine)
    engine.dispose()
    _kill_midway(db_url, op, arg, tmp_path)
    eng = make_engine(db_url)
    try:
        assert dump(eng) == before
        if eng.dialect.name == "sqlite":
            with eng.connect() as c:
                assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert not (tmp_path / "pub").exists()
        # the operation then succeeds: no lock or half-written state is left behind
        with transaction(eng) as s:
            if op == "import":
                import_scenario(s, examples.donated_city())
            elif op == "approve":
                assert approve_round(s, rid, "li").state == "approved"
            else:
                ledger.publish(s, arg)
        assert dump(eng) != before
    finally:
        eng.dispose()


def test_backup_while_writing(db_url: str, engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _day(engine)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        eng = make_engine(db_url)
        try:
            while not stop.is_set():
                rid = _create(eng, rows=(("LA1", "EXPO", "JYT", "mask", 5),))
                with transaction(eng) as s:
                    approve_round(s, rid, "li")
                with transaction(eng) as s:
                    cancel_round(s, rid, "li")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            eng.dispose()

    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.5)
        copies = []
        for i in range(2):
            if engine.dialect.name == "postgresql" and i == 1:
                monkeypatch.setattr(shutil, "which", lambda _name: None)  # the JSON fallback
            copies.append(backup(engine, tmp_path / f"copy{i}"))
            time.sleep(0.3)
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors
    for c in copies:
        if engine.dialect.name == "sqlite":
            con = sqlite3.connect(c)
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = con.execute("SELECT seq, prev_hash, hash, body FROM ledger ORDER BY seq").fetchall()
            head = con.execute("SELECT seq, hash FROM ledger_head").fetchone()
            con.close()
        elif c.read_bytes()[:1] == b"{":
            data = json.loads(c.read_text())["tables"]
            rows = [(r["seq"], r["prev_hash"], r["hash"], r["body"]) for r in sorted(data["ledger"], key=lambda r: r["seq"])]
            head = (data["ledger_head"][0]["seq"], data["ledger_head"][0]["hash"])
        else:
            assert b"CREATE TABLE public.ledger" in c.read_bytes()
            continue
        chain = [{"seq": s, "prev_hash": p, "hash": h, **json.loads(b)} for s, p, h, b in rows]
        assert ledger.check_chain(chain) is None
        assert head == (chain[-1]["seq"], chain[-1]["hash"])  # a consistent snapshot


# --------------------------------------------------------------------------- command line


def _cli(*args: str) -> int:
    return cli.main(list(args))


def test_full_day_on_the_command_line(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", db_url)
    monkeypatch.setenv("OFFICER_PW", "o-pw")
    monkeypatch.setenv("APPROVER_PW", "a-pw")
    save(examples.donated_city(), tmp_path / "scenario")
    (tmp_path / "r1").mkdir()
    _alloc(*ROUND1).to_csv(tmp_path / "r1" / "allocations.csv", index=False)
    officer = ("--user", "wang", "--password-env", "OFFICER_PW")
    approver = ("--user", "li", "--password-env", "APPROVER_PW")
    assert _cli("db", "init") == 0
    assert _cli("import", "scenario") == 0
    assert _cli("users", "add", "wang", "--role", "officer", "--password-env", "OFFICER_PW") == 0
    assert _cli("users", "add", "li", "--role", "approver", "--password-env", "APPROVER_PW") == 0
    assert _cli("rounds", "create", "--allocations", "r1", *officer) == 0
    capsys.readouterr()
    assert _cli("rounds", "approve", "1", *officer) == 1
    assert "may not approve" in capsys.readouterr().err
    assert _cli("rounds", "approve", "1", "--user", "li", "--password-env", "OFFICER_PW") == 1
    assert _cli("rounds", "approve", "1", *approver) == 0
    assert _cli("rounds", "dispatch", "1", *officer) == 0
    capsys.readouterr()
    assert _cli("rounds", "show", "1") == 0
    shown = capsys.readouterr().out
    assert "LA1" in shown and "dispatched" in shown
    assert _cli("rounds", "deliver", "1", "--discrepancy", "2:280:damaged:written_off:crushed boxes", *officer) == 0
    assert _cli("rounds", "list") == 0
    assert "delivered" in capsys.readouterr().out
    assert _cli("publish", "--out", "public") == 0
    capsys.readouterr()
    assert _cli("verify", "public") == 0
    assert capsys.readouterr().out.startswith("OK")
    assert _cli("backup", "copy.db") == 0 and (tmp_path / "copy.db").stat().st_size > 0
    assert _cli("export", "exported") == 0
    assert load(tmp_path / "exported").stock.set_index("lot_id").quantity.to_dict() == {
        "LA1": 0, "LB1": 50, "LB2": 0, "LR1": 200}
    dons = pd.read_csv(tmp_path / "public" / "donations.csv")
    _usage_adds_up(dons, pd.read_csv(tmp_path / "public" / "donation_usage.csv", keep_default_na=False))
    assert dons.set_index("donation_id").loc["DON_A", "written_off"] == 20
    # tamper with one byte of the first dispatch entry -> verify fails and names it
    f = tmp_path / "public" / "ledger.jsonl"
    lines = f.read_bytes().splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if b'"event":"dispatched"' in line)
    lines[k] = lines[k].replace(b'"quantity":', b'"quantitz":')
    f.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert _cli("verify", "public") == 1
    assert f"entry {k + 1}:" in capsys.readouterr().err


@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_full_day_on_the_demo_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("allocator.allocate")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'day.db'}")
    monkeypatch.setenv("PW", "pw")
    me = ("--user", "li", "--password-env", "PW")
    assert _cli("import", str(DEMO)) == 0
    assert _cli("users", "add", "li", "--role", "officer", "--role", "approver", "--password-env", "PW") == 0
    assert _cli("rounds", "create", *me) == 0
    assert _cli("rounds", "approve", "1", *me) == 0
    assert _cli("rounds", "dispatch", "1", "--trips", "greedy", "--trips-out", "trips", *me) == 0
    eng = make_engine(f"sqlite:///{tmp_path / 'day.db'}")
    with transaction(eng) as s:
        donated = [a for a in lines_frame(s, 1).itertuples() if s.get(m.Lot, a.lot_id).donation_id]
        # every drop went on a planned truck of its depot, and the plan carries exactly the round
        vehicles = pd.read_csv(DEMO / "vehicles.csv", dtype=str).set_index("vehicle_id").depot_id
        for t in s.scalars(select(m.Trip).where(m.Trip.round_id == 1)):
            assert t.vehicle_id and all(vehicles[v] == t.depot_id for v in t.vehicle_id.split(";"))
        shipped = lines_frame(s, 1).groupby(["lot_id", "site_id"]).quantity.sum()
    eng.dispose()
    manifest = pd.read_csv(tmp_path / "trips" / "trip_manifest.csv", dtype={"lot_id": str, "site_id": str})
    pd.testing.assert_series_equal(manifest.groupby(["lot_id", "site_id"]).quantity.sum(), shipped,
                                   check_names=False, check_dtype=False)
    line = donated[0] if donated else None
    extra = ["--discrepancy", f"{line.line_id}:{line.quantity - 1}:short:returned"] if line is not None else []
    assert _cli("rounds", "deliver", "1", *extra, *me) == 0
    assert _cli("publish", "--out", "public") == 0
    assert _cli("verify", "public") == 0
    dons = pd.read_csv(tmp_path / "public" / "donations.csv")
    _usage_adds_up(dons, pd.read_csv(tmp_path / "public" / "donation_usage.csv", keep_default_na=False))
