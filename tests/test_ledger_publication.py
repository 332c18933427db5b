"""Publication: atomic swaps under SIGKILL, chained publications, attested deliveries, what donors read, IATI.

Database tests run on SQLite, and on PostgreSQL too when ``ALLOCATOR_TEST_POSTGRES_URL`` is set.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_ledger_support)
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_ledger_support import ROOT, day, publish, run_round, signing_key  # noqa: F401

from allocator import cli, examples, ledger
from allocator.errors import StoreError
from allocator.ledger.iati import NS
from allocator.store import confirm_delivery, import_scenario, lines_frame, make_engine, transaction
from allocator.store import models as m


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- atomic publication

CHILD = """
import sys
from allocator import ledger
from allocator.store import make_engine, transaction
url, out = sys.argv[1:3]
eng = make_engine(url)
with transaction(eng) as s:
    ledger.publish(s, out)
"""


def _kill_at(db_url: str, checkpoint: str, out: Path, tmp_path: Path) -> None:
    marker = tmp_path / f"paused-{checkpoint.replace(':', '-')}"
    env = {**os.environ, "ALLOCATOR_TEST_PAUSE": checkpoint, "ALLOCATOR_TEST_PAUSE_FILE": str(marker),
           "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, str(out)], env=env,
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


def _pubs(engine) -> list[tuple[int, str]]:
    with transaction(engine) as s:
        return [(p.head_seq, p.version) for p in s.scalars(select(m.Publication).order_by(m.Publication.id))]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["publish", "publish:committed"])
def test_sigkill_during_publication_never_splits_folder_and_record(db_url: str, engine, tmp_path: Path,
                                                                   where: str) -> None:
    day(engine)
    out = tmp_path / "public"
    first = publish(engine, out)
    run_round(engine)  # new entries: the next publication differs
    before = _pubs(engine)
    engine.dispose()
    _kill_at(db_url, where, out, tmp_path)
    eng = make_engine(db_url)
    try:
        # a reader of the link still sees the first publication, whole and valid
        assert os.readlink(out).endswith(first.version_dir.name)
        assert ledger.verify(out).ok
        after = _pubs(eng)
        versions = sorted(p.name for p in (tmp_path / "public.versions").iterdir())
        if where == "publish":
            assert after == before  # the row was rolled back with the kill ...
            assert len(versions) == 2  # ... and the folder it would have named is an orphan
        else:
            assert len(after) == len(before) + 1 and after[-1][1] in versions  # committed, not yet swapped
        with transaction(eng) as s:
            done = ledger.repair(s, out)
        if where == "publish":
            assert done and "removed" in done[0]
            assert sorted(p.name for p in (tmp_path / "public.versions").iterdir()) == [first.version_dir.name]
            assert os.readlink(out).endswith(first.version_dir.name)
        else:
            assert any("pointed" in x for x in done)
            assert os.readlink(out).endswith(after[-1][1])
        res = ledger.verify(out, since=first.version_dir)
        assert res.ok, res.message
        # and publication then works as usual
        pub = publish(eng, out)
        assert os.readlink(out).endswith(pub.version_dir.name) and ledger.verify(out, since=first.version_dir).ok
    finally:
        eng.dispose()


def test_a_failed_transaction_leaves_no_folder(engine, tmp_path: Path) -> None:
    day(engine)
    out = tmp_path / "public"
    with pytest.raises(RuntimeError):
        with transaction(engine) as s:
            ledger.publish(s, out)
            raise RuntimeError("something after publish failed")
    assert not out.exists() and not any((tmp_path / "public.versions").iterdir())
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(m.Publication)) == 0


def test_legacy_folder_is_replaced_by_the_link(engine, tmp_path: Path) -> None:
    day(engine)
    out = tmp_path / "public"
    out.mkdir()
    (out / "donations.csv").write_text("old\n")
    pub = publish(engine, out)
    assert out.is_symlink() and ledger.verify(out).ok
    legacy = [p for p in (tmp_path / "public.versions").iterdir() if p.name.startswith("legacy-")]
    assert len(legacy) == 1 and (legacy[0] / "donations.csv").read_text() == "old\n"
    assert pub.version_dir.is_dir()


# --------------------------------------------------------------------------- chained publications


def test_successive_publications_chain_and_publish_reads_receipts_only_once(engine, tmp_path: Path) -> None:
    day(engine)
    out = tmp_path / "public"
    p1 = publish(engine, out)
    assert p1.manifest["previous"] == {"seq": 0, "hash": "0" * 64}
    received = {(r["donation_id"], r["item_id"]): r["received"] for r in _rows(out / "donations.csv")}
    # re-import the same scenario, then a stock take that finds 40 more masks in LA1
    with transaction(engine) as s:
        import_scenario(s, examples.donated_city())
    p2 = publish(engine, out)
    assert p2.manifest["previous"] == {"seq": p1.head_seq, "hash": p1.head_hash}
    assert {(r["donation_id"], r["item_id"]): r["received"] for r in _rows(out / "donations.csv")} == received
    sc = examples.donated_city()
    stock = sc.tables["stock"]
    stock.loc[stock.lot_id == "LA1", "quantity"] = 1040
    with transaction(engine) as s:
        import_scenario(s, sc)
    p3 = publish(engine, out)
    rows = {(r["donation_id"], r["item_id"]): r for r in _rows(out / "donations.csv")}
    assert {k: r["received"] for k, r in rows.items()} == received  # the donor's gift did not grow
    assert rows[("DON_A", "mask")]["adjusted"] == "40" and rows[("DON_A", "mask")]["in_stock"] == "1040"
    assert ledger.verify(out, since=p1.version_dir).ok and ledger.verify(out, since=p2.version_dir).ok
    assert p3.manifest["previous"]["seq"] == p2.head_seq
    with transaction(engine) as s:
        pubs = list(s.scalars(select(m.Publication).order_by(m.Publication.id)))
        assert [(p.prev_seq, p.prev_hash) for p in pubs[1:]] == [(p1.head_seq, p1.head_hash),
                                                                 (p2.head_seq, p2.head_hash)]
        assert all(len(p.public_key) == 64 and len(p.manifest_sha256) == 64 for p in pubs)


# --------------------------------------------------------------------------- attested deliveries


def test_deliveries_confirmed_by_the_site_or_by_dispatch(engine, tmp_path: Path) -> None:
    day(engine)
    run_round(engine)
    with transaction(engine) as s:
        dls = {(d.trip_id, d.confirmed_as, d.confirmed_by) for d in s.scalars(select(m.Delivery))}
        jyt_trips = {t.id for t in s.scalars(select(m.Trip).where(m.Trip.site_id == "JYT"))}
        assert {(a, b) for t, a, b in dls if t in jyt_trips} == {("site", "jyt")}
        assert {(a, b) for t, a, b in dls if t not in jyt_trips} == {("dispatch", "wang")}
        dl = [e for e in ledger.entries(s) if e["event"] == "delivered"]
        assert {(e["site_id"] == "JYT", e["confirmed_as"], e["confirmed_by"]) for e in dl} == {
            (True, "site", "jyt"), (False, "dispatch", "wang")}
    pub = publish(engine, tmp_path / "pub")
    usage = _rows(pub.out_dir / "donation_usage.csv")
    for r in usage:
        assert int(r["delivered"]) == int(r["delivered_site_confirmed"]) + int(r["delivered_dispatch_confirmed"])
        if r["receiver_org_ref"] == "JYT":
            assert r["delivered_site_confirmed"] == r["delivered"] != "0" and r["delivered_dispatch_confirmed"] == "0"
        elif r["receiver_org_ref"]:
            assert r["delivered_site_confirmed"] == "0"


def test_a_receiver_confirms_only_their_own_site(engine) -> None:
    from test_ledger_support import ROUND1, alloc

    from allocator.store import (
        add_user,
        approve_round,
        create_round,
        current_scenario,
        dispatch_round,
    )
    from allocator.store.receivers import link_receiver

    day(engine)
    with transaction(engine) as s:
        add_user(s, "nobody", "pw", ["receiver"])
        with pytest.raises(StoreError, match="receiver role"):
            link_receiver(s, "wang", "JYT")
        with pytest.raises(StoreError, match="no site"):
            link_receiver(s, "jyt", "NOPE")
        rid = create_round(s, current_scenario(s), alloc(*ROUND1), None, {}, "wang").id
    with transaction(engine) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "wang")
    with transaction(engine) as s:
        other = int(lines_frame(s, rid).query("site_id == 'UNION'").trip_id.iloc[0])
        with pytest.raises(StoreError, match="only its own site"):
            confirm_delivery(s, rid, "jyt", trip_id=other)
        with pytest.raises(StoreError, match="none linked"):
            confirm_delivery(s, rid, "nobody")
        out = confirm_delivery(s, rid, "jyt")  # every open trip *of JYT*
        assert out and {s.get(m.Allocation, d.allocation_id).site_id for d in out} == {"JYT"}


# --------------------------------------------------------------------------- what donors read


def test_what_donors_read(engine, tmp_path: Path) -> None:
    day(engine)
    run_round(engine)
    pub = publish(engine, tmp_path / "pub")
    d = pub.out_dir
    dons, usage = _rows(d / "donations.csv"), _rows(d / "donation_usage.csv")
    lines = ledger.read_entries(d)
    for r in dons:
        ints = [int(r[c]) for c in ("received", "adjusted", "allocated", "in_stock", "written_off")]
        assert ints[0] + ints[1] == ints[2] + ints[3] + ints[4]
        assert int(r["in_stock"]) == int(r["available"]) + int(r["quarantined"]) + int(r["rejected"])
        assert r["unit"] and r["reference_code"].startswith("SA-")
    for r in usage:  # no all-zero rows
        assert any(int(r[c]) for c in ("allocated", "dispatched", "delivered", "returned", "written_off", "in_stock"))
    jyt = next(r for r in usage if r["receiver_org_ref"] == "JYT")
    assert (jyt["receiver_org_zh"], jyt["receiver_kind"]) == ("金银潭医院", "designated_hospital")
    hotel = next(r for r in usage if r["receiver_org_ref"] == "HOTEL7")
    assert (hotel["receiver_kind"], hotel["receiver_district"]) == ("quarantine_site", "Wuchang")
    # dates are the ledger's own entry times
    mine = [e for e in lines if e.get("site_id") == "JYT" and (e.get("donation_id"), e.get("item_id")) == (
        jyt["donation_id"], jyt["item_id"])]
    delivered_at = {e["at"] for e in mine if e["event"] == "delivered"}
    assert jyt["last_delivered"] == max(delivered_at)
    dispatched_at = {e["at"] for e in mine if e["event"] == "dispatched"}
    assert jyt["first_dispatched"] == min(dispatched_at)
    mask = next(r for r in dons if r["donation_id"] == "DON_A")
    assert mask["transaction_date"] == "2020-02-05" and mask["write_off_reasons"] in ("", "crushed")


def test_formula_cells_are_escaped_in_every_csv(engine, tmp_path: Path) -> None:
    from allocator.cells import unescape_formula
    from allocator.store.donations import LotSpec, register_donation

    day(engine)
    with transaction(engine) as s:
        register_donation(s, donor="=HYPERLINK(\"http://x\")", user="wang", lots=[LotSpec("mask", "EXPO", 5)])
    pub = publish(engine, tmp_path / "pub")
    for name in ("donations.csv", "donation_usage.csv"):
        for r in _rows(pub.out_dir / name):
            for v in r.values():
                assert not v.startswith(("=", "+", "@")) or v.lstrip("-").isdigit(), (name, v)
        assert any(unescape_formula(r["provider_org"]) == '=HYPERLINK("http://x")'
                   for r in _rows(pub.out_dir / name))


# IATI 2.03 activity structure, rebuilt from the standard's documented elements (the XSD is not shipped):
# each element's required children in schema order, the attributes each needs, and the codelists used.
IATI_ACTIVITY_ORDER = ["iati-identifier", "reporting-org", "title", "description", "participating-org",
                       "activity-status", "activity-date", "recipient-country", "transaction"]
IATI_TRANSACTION_ORDER = ["transaction-type", "transaction-date", "value", "description", "provider-org",
                          "receiver-org"]
IATI_REQUIRED_ATTRS = {"reporting-org": {"ref", "type"}, "participating-org": {"role"},
                       "activity-status": {"code"}, "activity-date": {"type", "iso-date"},
                       "transaction-type": {"code"}, "transaction-date": {"iso-date"}, "value": {"value-date"},
                       "recipient-country": {"code"}}
IATI_CODES = {"transaction-type": {"1", "2", "3", "11", "13"}, "activity-status": {"1", "2", "3", "4", "5", "6"},
              "activity-date": {"1", "2", "3", "4"}, "participating-org": {"1", "2", "3", "4"}}


def _order_ok(children: list[str], order: list[str]) -> bool:
    pos = [order.index(c) for c in children if c in order]
    return pos == sorted(pos)


def test_iati_activities_file_has_the_standard_structure(engine, tmp_path: Path) -> None:
    import re

    day(engine)
    run_round(engine)
    pub = publish(engine, tmp_path / "pub")
    tree = ET.parse(pub.out_dir / "iati-activities.xml")
    root = tree.getroot()
    assert root.tag == "iati-activities" and root.get("version") == "2.03"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", root.get("generated-datetime"))
    dons = {r["donation_id"] for r in _rows(pub.out_dir / "donations.csv")}
    acts = root.findall("iati-activity")
    assert {a.findtext("iati-identifier").rsplit("-", 1)[-1] for a in acts} == {d.rsplit("-", 1)[-1] for d in dons}
    ids = [a.findtext("iati-identifier") for a in acts]
    assert len(ids) == len(set(ids))
    usage = _rows(pub.out_dir / "donation_usage.csv")
    for a in acts:
        kids = [c.tag for c in a]
        for req in ("iati-identifier", "reporting-org", "title", "participating-org", "activity-status",
                    "activity-date"):
            assert req in kids, req
        assert _order_ok(kids, IATI_ACTIVITY_ORDER), kids
        for el in a.iter():
            for attr in IATI_REQUIRED_ATTRS.get(el.tag, ()):
                assert el.get(attr), (el.tag, attr)
            if el.tag in IATI_CODES:
                code = el.get("role") if el.tag == "participating-org" else (
                    el.get("type") if el.tag == "activity-date" else el.get("code"))
                assert code in IATI_CODES[el.tag], (el.tag, code)
            if el.tag in ("title", "description", "reporting-org", "participating-org", "provider-org",
                          "receiver-org"):
                assert el.find("narrative") is not None and el.findtext("narrative"), el.tag
            for k in ("iso-date", "value-date"):
                if el.get(k):
                    assert re.fullmatch(r"\d{4}-\d\d-\d\d", el.get(k)), (el.tag, el.get(k))
        for tr in a.findall("transaction"):
            tk = [c.tag for c in tr]
            assert tk[:3] == ["transaction-type", "transaction-date", "value"] and _order_ok(tk, IATI_TRANSACTION_ORDER)
            ext = tr.find(f"{{{NS}}}quantity")
            assert ext is not None and int(ext.text) > 0 and tk[-1] == f"{{{NS}}}quantity"  # extensions last
        # the units dispatched per site match donation_usage.csv
        did = a.findtext("iati-identifier").split("-", 3)[-1]
        disp = sum(int(tr.find(f"{{{NS}}}quantity").text) for tr in a.findall("transaction")
                   if tr.find("transaction-type").get("code") == "3")
        assert disp == sum(int(r["dispatched"]) for r in usage if r["donation_id"] == did)


# --------------------------------------------------------------------------- the command line


def _cli(*args: str) -> int:
    return cli.main(list(args))


def test_command_line_publish_verify_since_key_receipt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    from allocator.store.donations import receipt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    eng = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    from allocator.store import upgrade

    upgrade(eng)
    day(eng)
    assert _cli("publish", "--out", "public") == 0
    old = os.readlink("public")
    capsys.readouterr()
    assert _cli("ledger-key") == 0
    key = capsys.readouterr().out.strip()
    assert len(key) == 64
    run_round(eng)
    with transaction(eng) as s:
        (tmp_path / "r.json").write_text(receipt(s, "DON_A").to_json())
    eng.dispose()
    assert _cli("publish", "--out", "public") == 0
    assert _cli("verify", "public", "--since", old, "--key", key) == 0
    assert _cli("receipt", "check", "r.json", "public") == 0
    capsys.readouterr()
    assert _cli("verify", "public", "--key", "ab" * 32) == 1
    assert "not the pinned key" in capsys.readouterr().err
    # a head_seq that is a string: one clear line, no traceback, both languages
    man = json.loads(Path("public/manifest.json").read_text())
    man["head_seq"] = str(man["head_seq"])
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(Path("public").resolve(), bad)
    (bad / "manifest.json").write_text(json.dumps(man))
    assert _cli("verify", str(bad)) == 1
    err = capsys.readouterr().err
    assert "head_seq" in err and "Traceback" not in err and err.count("\n") == 1
    assert _cli("verify", str(bad), "--lang", "zh") == 1
    assert "manifest.json" in capsys.readouterr().err
    assert _cli("verify", "public", "--since", "not-a-head") == 1
    assert "--since" in capsys.readouterr().err
