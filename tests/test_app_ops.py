"""AppTest tests of the Round, Transport, Deliveries and Donations pages on the demo data.

Each test gets its own SQLite database seeded with the demo scenario; users are
logged in by writing the signed session the login page would write (the same
process runs the page, so the signature key is the same). Widgets are found by
key; the data editor and the maps are not driven here (the browser test does).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from allocator.store import add_user, current_scenario, open_db, transaction
from allocator.store import models as m
from allocator.store.bootstrap import bootstrap
from allocator.testing import check_round

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
PAGES = ("round", "transport", "deliveries", "donations")

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
pytestmark = pytest.mark.slow


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", url)
    monkeypatch.setenv("ALLOCATOR_DEMO", str(DEMO))
    monkeypatch.setenv("ALLOCATOR_ADMIN_PASSWORD", "admin-pw")
    eng = open_db(url)
    bootstrap(eng, DEMO)
    with transaction(eng) as s:
        add_user(s, "li", "pw", ["officer"])
        add_user(s, "wang", "pw", ["approver"])
        add_user(s, "zhou", "pw", ["approver"])
        add_user(s, "zhao", "pw", ["receiver"], site_id="H01")
    yield eng
    eng.dispose()


def page(name: str, user: str, lang: str = "en") -> AppTest:
    from ui import common

    at = AppTest.from_file(str(ROOT / "ui" / "pages" / f"{name}.py"), default_timeout=180)
    now = time.time()
    at.session_state["_auth"] = {"user": user, "since": now, "last_seen": now,
                                 "sig": common._signature(user, now)}
    at.session_state["lang"] = lang
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_round(at: AppTest) -> None:
    """Click run, wait for the worker thread, and re-run the page to show the results."""
    at.button(key="round_run").click().run()
    work = at.session_state["ops_round_work"]
    assert work.job is not None
    work.job.wait(120)
    ok(at.run())


def texts(at: AppTest) -> list[str]:
    out: list[str] = []
    for kind in ("title", "subheader", "header", "markdown", "caption", "info", "warning", "error", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    for kind in ("button", "selectbox", "multiselect", "number_input", "text_input", "checkbox", "radio",
                 "date_input", "metric", "tabs"):
        out += [str(e.label) for e in getattr(at, kind)]
    for df in at.dataframe:
        out += [str(c) for c in df.value.columns]
    return [x for x in out if re.search(r"[A-Za-z\u4e00-\u9fff]", x)]


def draft_ids(eng) -> list[int]:
    with transaction(eng) as s:
        return list(s.scalars(sa.select(m.Round.id).where(m.Round.state == "draft").order_by(m.Round.id)))


# --------------------------------------------------------------------------- round


def test_round_lock_and_rerun_honours_the_lock_and_shows_what_changed(db):
    at = ok(page("round", "li").run())
    run_round(at)
    assert any("Stored as draft round 1" in s.value for s in at.success)
    first = at.session_state["ops_round_work"].current
    with transaction(db) as s:
        sc = current_scenario(s)
    assert check_round(sc, first) == []
    # lock 100 n95 from D01 to a tier-2 site that got none, exclude a depot, re-run
    got = first.allocations.groupby(["depot_id", "site_id", "item_id"]).quantity.sum()
    site = next(s for s in sc.needs[sc.needs.item_id == "n95"].site_id
                if ("D01", s, "n95") not in got.index and int(sc.sites.set_index("site_id").at[s, "tier"]) >= 2)
    at.selectbox(key="round_lock_depot").set_value("D01")
    at.selectbox(key="round_lock_site").set_value(site)
    at.selectbox(key="round_lock_item").set_value("n95")
    at.number_input(key="round_lock_qty").set_value(100)
    ok(at.button(key="round_lock_add").click().run())
    at.multiselect(key="round_exclude").set_value(["D03"])
    ok(at.run())
    run_round(at)
    work = at.session_state["ops_round_work"]
    cur = work.current
    assert check_round(sc, cur) == []
    after = cur.allocations.groupby(["depot_id", "site_id", "item_id"]).quantity.sum()
    assert int(after[("D01", site, "n95")]) == 100
    assert "D03" not in set(cur.allocations.depot_id)
    assert cur.summary["locks"] == [{"depot_id": "D01", "site_id": site, "item_id": "n95", "quantity": 100}]
    # the page shows the change, and the earlier draft was superseded
    assert any("shipment(s) changed" in md.value for md in at.markdown)
    assert any("Draft 1 of your previous run was cancelled" in s.value for s in at.success)
    assert draft_ids(db) == [2]
    with transaction(db) as s:
        stored = pd.DataFrame([{"depot_id": a.depot_id, "site_id": a.site_id, "item_id": a.item_id,
                                "quantity": a.quantity} for a in s.scalars(
                                    sa.select(m.Allocation).where(m.Allocation.round_id == 2))])
    assert int(stored.query("depot_id == 'D01' and site_id == @site and item_id == 'n95'").quantity.sum()) == 100


def test_an_impossible_lock_is_named(db):
    at = ok(page("round", "li").run())
    at.selectbox(key="round_lock_depot").set_value("D01")
    at.selectbox(key="round_lock_site").set_value("H01")
    at.selectbox(key="round_lock_item").set_value("n95")
    at.number_input(key="round_lock_qty").set_value(10_000_000)
    ok(at.button(key="round_lock_add").click().run())
    run_round(at)
    assert any("impossible with these locks" in e.value and "lock[depot=D01" in e.value for e in at.error)
    assert draft_ids(db) == []


def test_an_officer_cannot_approve_and_the_approver_can(db):
    at = ok(page("round", "li").run())
    run_round(at)
    assert not [b for b in at.button if b.key == "round_approve"]
    assert any("Only an approver" in i.value for i in at.info)
    ap = ok(page("round", "wang").run())
    assert ap.selectbox(key="round_approve_pick").value == 1
    ok(ap.button(key="round_approve").click().run())
    assert any("Round 1 is approved" in s.value for s in ap.success)
    with transaction(db) as s:
        r = s.get(m.Round, 1)
        assert (r.state, r.approved_by) == ("approved", "wang")


def test_concurrent_approval_and_stale_draft_are_clear_messages(db):
    at = ok(page("round", "li").run())
    run_round(at)
    a = ok(page("round", "wang").run())
    b = ok(page("round", "zhou").run())
    ok(a.button(key="round_approve").click().run())
    assert any("approved" in s.value for s in a.success)
    ok(b.button(key="round_approve").click().run())
    assert any("Someone else approved or changed this round first" in e.value for e in b.error)
    # a draft computed before round 1 reserved its stock is stale
    run_round(at)  # draft 2 on the stock left after round 1's reservation
    with transaction(db) as s:
        sc_now = current_scenario(s)
    from allocator.store import create_round, write_off_stock
    res = at.session_state["ops_round_work"].current
    with transaction(db) as s:
        r3 = create_round(s, sc_now, res.allocations, res.fill, res.summary, "li")
        rid = r3.id
    st = sc_now.stock
    lot = str(st[(st.quantity > 0) & (st.status == "available")].lot_id.iloc[0])
    with transaction(db) as s:  # the stock changes under draft 3 (round 1 already covers most needs, so
        write_off_stock(s, lot, 1, "damaged in the warehouse", "li")  # approving draft 2 might not)
    c = ok(page("round", "zhou").run())
    c.selectbox(key="round_approve_pick").set_value(rid)
    ok(c.run())
    ok(c.button(key="round_approve").click().run())
    assert any("The stock changed since this draft was computed" in e.value for e in c.error), [e.value for e in c.error] + [s.value for s in c.success]
    with transaction(db) as s:
        assert s.get(m.Round, rid).state == "draft"


# --------------------------------------------------------------------------- transport and deliveries


def _approved_and_dispatched(db) -> int:
    at = ok(page("round", "li").run())
    run_round(at)
    ap = ok(page("round", "wang").run())
    ok(ap.button(key="round_approve").click().run())
    t = ok(page("transport", "li").run())
    ok(t.button(key="transport_plan").click().run())
    t.session_state["transport_job"].wait(180)
    ok(t.run())
    ok(t.run())
    assert any("vehicle(s)" in md.value for md in t.markdown)
    ok(t.button(key="transport_dispatch").click().run())
    assert any("is dispatched" in s.value for s in t.success)
    return 1


def test_transport_what_if_closure_changes_routes(db):
    t = ok(page("transport", "li").run())
    assert t.dataframe  # the rules in force
    # close a bridge every route from D01 to the Hankou side uses and see routes change
    t.selectbox(key="transport_rule_kind").set_value("closure")
    t.selectbox(key="transport_rule_road").set_value("Yangsigang Yangtze River Bridge")
    ok(t.button(key="transport_replan").click().run())
    ok(t.run())
    w = t.session_state["transport_whatif"]
    assert w["add"] and w["control"] is not None
    assert any("route(s) change" in md.value for md in t.markdown)
    ch = w["changes"]
    assert (ch.after_min >= ch.before_min).all()  # a closure never makes a route faster
    ok(t.button(key="transport_reset").click().run())
    assert "transport_whatif" not in t.session_state


def test_plan_dispatch_and_a_receiver_confirms_only_their_site_with_a_shortfall(db):
    rid = _approved_and_dispatched(db)
    rv = ok(page("deliveries", "zhao").run())
    trips = rv.selectbox(key="deliveries_trip")
    with transaction(db) as s:
        all_trips = list(s.scalars(sa.select(m.Trip).where(m.Trip.round_id == rid)))
    mine = {t.id for t in all_trips if t.site_id == "H01"}
    assert set(trips.options) and {int(re.search(r"Trip (\d+)", o).group(1)) for o in trips.options} == mine
    assert len(mine) < len(all_trips)
    tid = int(re.search(r"Trip (\d+)", trips.options[0]).group(1))
    with transaction(db) as s:
        line = s.scalars(sa.select(m.Allocation).where(m.Allocation.trip_id == tid).order_by(m.Allocation.id)).first()
    rv.number_input(key=f"deliveries_recv_{line.id}").set_value(line.quantity - 7)
    ok(rv.run())
    rv.selectbox(key=f"deliveries_kind_{line.id}").set_value("damaged")
    ok(rv.button(key="deliveries_confirm").click().run())
    assert any(f"Trip {tid} is confirmed (1 discrepancy" in s.value for s in rv.success)
    with transaction(db) as s:
        d = s.scalars(sa.select(m.Delivery).where(m.Delivery.allocation_id == line.id)).one()
        assert (d.received, d.discrepancy, d.returned, d.confirmed_by) == (line.quantity - 7, "damaged", 7, "zhao")
    # the officer sees every trip, and the receiver's confirmation marked as the site's
    of = ok(page("deliveries", "li").run())
    table = of.dataframe[-1].value
    assert len(table) == len(all_trips)
    col = "Confirmed by the site"
    assert (table[table["Trip id"] == tid][col] == "yes, by the receiving site").all()
    assert (table[table["Trip id"] != tid][col] == "").all()


def test_trip_sheets_are_offered_per_vehicle(db):
    from allocator import tripsheet

    if tripsheet.font_path() is None:
        pytest.skip("no CJK font")
    _approved_and_dispatched(db)
    t = ok(page("transport", "li", "zh").run())
    ok(t.button(key="transport_plan").click().run())
    t.session_state["transport_job"].wait(180)
    ok(t.run())
    ok(t.run())
    ok(t.button(key="transport_make_sheets").click().run())
    sheets = t.session_state["transport_sheets"]
    (pdfs,) = sheets.values()
    plan = next(iter(t.session_state["transport_plans"].values()))
    assert set(pdfs) == set(map(str, plan.trips.vehicle_id))
    assert all(p.startswith(b"%PDF") for p in pdfs.values())


# --------------------------------------------------------------------------- donations


def test_donations_page_lists_the_stored_donations(db):
    d = ok(page("donations", "li").run())
    with transaction(db) as s:
        n = s.scalar(sa.select(sa.func.count()).select_from(m.Donation))
    assert len(d.dataframe[0].value) == n
    d.text_input(key="donations_donor").input("A citizen")
    d.number_input(key="donations_lot_0_qty").set_value(300)
    ok(d.button(key="donations_register").click().run())
    assert any("is registered with reference code" in s.value for s in d.success)


def test_only_allowed_roles_open_the_pages(db):
    for name in PAGES:
        # a receiver may open only Deliveries; an approver not Donations or Deliveries
        for user in ("zhao", "wang"):
            at = page(name, user).run()
            from ui.common import PAGE_ROLES
            roles = {"zhao": {"receiver"}, "wang": {"approver"}}[user]
            allowed = bool(roles & set(PAGE_ROLES[name]))
            refused = any("may not open this page" in e.value for e in at.error)
            assert refused != allowed, (name, user)


# --------------------------------------------------------------------------- languages


def test_the_language_switch_changes_every_visible_string(db):
    _approved_and_dispatched(db)
    for name, user in (("round", "li"), ("transport", "li"), ("deliveries", "li"), ("donations", "li")):
        seen = {}
        for lang in ("en", "zh"):
            at = ok(page(name, user, lang).run())
            if name == "round":
                run_round(at)
            seen[lang] = texts(at)
        en, zh = seen["en"], seen["zh"]
        assert len(en) > 8 and len(en) == len(zh), (name, len(en), len(zh))
        same = [x for x in en if x in zh]
        assert not same, (name, same)
        assert all(re.search(r"[\u4e00-\u9fff]", x) for x in zh), (name, [x for x in zh if not re.search(
            r"[\u4e00-\u9fff]", x)])
