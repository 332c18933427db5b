"""The library side of the officers' Round, Transport and Deliveries pages (no Streamlit here)."""

from __future__ import annotations

import io
import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from allocator import allocate, examples
from allocator.compare import changes, fill_changes, shipment_changes
from allocator.errors import InfeasibleError, StoreError
from allocator.jobs import Job, JobError
from allocator.roundwork import RoundWork, run_round, store_error_code
from allocator.store import (
    Discrepancy,
    add_user,
    approve_round,
    confirm_delivery,
    current_scenario,
    dispatch_round,
    import_scenario,
    memory_store,
    transaction,
    trips,
)
from allocator.store import models as m
from allocator.store.receivers import receiver_sites, site_bound, trips_for, trips_frame
from allocator.testing import check_round

# --------------------------------------------------------------------------- jobs


def test_job_reports_progress_in_order_and_its_result():
    gate = threading.Event()

    def work(progress, n):
        for i in range(n):
            progress(f"p{i}", (i + 1) / n)
        gate.wait(5)
        return "ok"

    job = Job.start(work, 4)
    deadline = time.time() + 5
    while len(job.poll().events) < 4 and time.time() < deadline:
        time.sleep(0.01)
    snap = job.poll()
    assert snap.state == "running" and not snap.finished
    assert [e[0] for e in snap.events] == ["p0", "p1", "p2", "p3"]
    assert snap.phase == "p3" and snap.fraction == 1.0
    gate.set()
    done = job.wait(5)
    assert done.state == "done" and done.result == "ok" and job.result() == "ok"


def test_job_failure_is_kept_and_reraised():
    def boom(progress):
        progress("start", 0.1)
        raise InfeasibleError("lock X breaks the stock rule")

    job = Job.start(boom)
    snap = job.wait(5)
    assert snap.state == "failed" and isinstance(snap.error, InfeasibleError)
    with pytest.raises(InfeasibleError, match="stock rule"):
        job.result()


def test_poll_never_blocks_while_the_work_runs():
    gate = threading.Event()
    job = Job.start(lambda progress: gate.wait(10))
    t0 = time.perf_counter()
    for _ in range(50):
        job.poll()
    assert job.poll().state == "running"
    assert time.perf_counter() - t0 < 2.0  # generous: polling only drains a queue
    gate.set()
    assert job.wait(5).state == "done"


# --------------------------------------------------------------------------- compare


def test_changes_against_an_independent_count():
    sc = examples.three_tiers()
    a = allocate(sc)
    b = allocate(sc, locks=[("EXPO", "CM", "n95", 120)])
    ship = shipment_changes(a.allocations, b.allocations)
    # independent: dict arithmetic over the raw lines
    def units(df):
        out = {}
        for r in df.itertuples():
            k = (r.depot_id, r.site_id, r.item_id)
            out[k] = out.get(k, 0) + int(r.quantity)
        return out
    ua, ub = units(a.allocations), units(b.allocations)
    want = {k: ub.get(k, 0) - ua.get(k, 0) for k in set(ua) | set(ub) if ub.get(k, 0) != ua.get(k, 0)}
    got = {(r.depot_id, r.site_id, r.item_id): r.change for r in ship.itertuples()}
    assert got == want and got[("EXPO", "CM", "n95")] == 120
    fill = fill_changes(a.fill, b.fill)
    assert set(fill.site_id) == {s for (_, s, _) in want}
    assert int(fill.change.sum()) == 0  # the lock moves units from the lower tier's neighbours, it creates none
    c = changes(a.allocations, a.fill, b.allocations, b.fill)
    assert not c.empty and c.counts()["shipments"] == len(want)
    assert changes(a.allocations, a.fill, a.allocations, a.fill).empty


# --------------------------------------------------------------------------- round work


def test_round_work_lock_rerun_honours_the_lock_and_shows_the_change():
    sc = examples.three_tiers()
    w = RoundWork()
    w.start(sc).wait(60)
    assert w.poll().state == "done" and w.changes() is None
    first = w.current
    assert check_round(sc, first) == []
    w.lock("EXPO", "CM", "n95", 100)
    w.exclude("BH")
    w.start(sc).wait(60)
    assert w.poll().state == "done"
    cur = w.current
    assert check_round(sc, cur) == []
    got = cur.allocations.groupby(["depot_id", "site_id", "item_id"]).quantity.sum()
    assert int(got[("EXPO", "CM", "n95")]) == 100
    assert "BH" not in set(cur.allocations.site_id)
    assert w.previous is first
    diff = w.changes()
    assert ("EXPO", "BH", "n95") in {(r.depot_id, r.site_id, r.item_id) for r in diff.shipments.itertuples()}
    assert w.locks_frame().to_dict("records") == [
        {"depot_id": "EXPO", "site_id": "CM", "item_id": "n95", "quantity": 100}]


def test_round_work_refuses_a_second_run_and_bad_locks():
    w = RoundWork()
    with pytest.raises(InfeasibleError):
        w.lock("EXPO", "CM", "n95", -1)
    gate = threading.Event()
    w.job = Job.start(lambda progress: gate.wait(10))
    with pytest.raises(JobError, match="already running") as e:
        w.start(examples.three_tiers())
    assert store_error_code(e.value)[0] == "app.round.error.busy"
    gate.set()
    w.job.wait(5)


def test_an_impossible_lock_fails_the_run_with_its_rule():
    w = RoundWork()
    w.lock("EXPO", "CM", "n95", 5000)
    snap = w.start(examples.three_tiers()).wait(60)
    assert snap.state == "failed" and isinstance(snap.error, InfeasibleError)
    assert store_error_code(snap.error)[0] == "app.round.error.infeasible"
    assert w.current is None


def _db_with_users():
    eng = memory_store()
    with transaction(eng) as s:
        import_scenario(s, examples.two_hospitals())
        add_user(s, "li", "pw", ["officer"])
        add_user(s, "wang", "pw", ["approver"])
        add_user(s, "zhao", "pw", ["receiver"], site_id="H1")
        add_user(s, "qian", "pw", ["receiver"], site_id="H2")
    return eng


def test_stored_drafts_supersede_and_approval_conflicts_get_codes():
    eng = _db_with_users()
    with transaction(eng) as s:
        sc = current_scenario(s)
    first = run_round(lambda p, f: None, sc, engine=eng, user="li")
    second = run_round(lambda p, f: None, sc, engine=eng, user="li", supersedes=first.round_id)
    assert second.superseded == first.round_id
    with transaction(eng) as s:
        assert s.get(m.Round, first.round_id).state == "cancelled"
        assert s.get(m.Round, second.round_id).state == "draft"
    # an officer cannot approve
    with pytest.raises(StoreError) as e, transaction(eng) as s:
        approve_round(s, second.round_id, "li", expected_version=second.version)
    assert store_error_code(e.value)[0] == "app.round.error.role"
    with transaction(eng) as s:
        approve_round(s, second.round_id, "wang", expected_version=second.version)
    with pytest.raises(StoreError) as e, transaction(eng) as s:
        approve_round(s, second.round_id, "wang", expected_version=second.version)
    assert store_error_code(e.value)[0] == "app.round.error.conflict"
    # the stock changed (the approval reserved it): an old draft is stale
    third = run_round(lambda p, f: None, sc, engine=eng, user="li")
    with pytest.raises(StoreError) as e, transaction(eng) as s:
        approve_round(s, third.round_id, "wang", expected_version=third.version)
    assert store_error_code(e.value)[0] == "app.round.error.stale"


# --------------------------------------------------------------------------- receivers


def test_a_receiver_sees_and_confirms_only_their_own_sites_trips():
    eng = _db_with_users()
    with transaction(eng) as s:
        sc = current_scenario(s)
    out = run_round(lambda p, f: None, sc, engine=eng, user="li")
    with transaction(eng) as s:
        approve_round(s, out.round_id, "wang")
        dispatch_round(s, out.round_id, "li")
        all_trips = {t.site_id: t.id for t in trips(s, out.round_id)}
    assert set(all_trips) == {"H1", "H2"}
    with transaction(eng) as s:
        assert site_bound(s, "zhao") and not site_bound(s, "li")
        assert receiver_sites(s, "zhao") == ["H1"]
        assert set(trips_frame(s, "zhao").site_id) == {"H1"}
        assert set(trips_frame(s, "li").site_id) == {"H1", "H2"}
    # zhao may not confirm H2's trip; without a trip, zhao's confirmation covers H1's trips only
    with pytest.raises(StoreError, match="only its own site"), transaction(eng) as s:
        confirm_delivery(s, out.round_id, "zhao", trip_id=all_trips["H2"])
    with transaction(eng) as s:
        assert {t.site_id for t in trips_for(s, "zhao", trips(s, out.round_id))} == {"H1"}
    with transaction(eng) as s:
        line = next(r for r in s.scalars(
            sa.select(m.Allocation).where(m.Allocation.trip_id == all_trips["H1"])))
        confirm_delivery(s, out.round_id, "zhao", trip_id=all_trips["H1"],
                         discrepancies={line.id: Discrepancy(received=line.quantity - 10, kind="short")})
    with transaction(eng) as s:
        confirm_delivery(s, out.round_id, "li", trip_id=all_trips["H2"])
        tf = trips_frame(s, "li").set_index("site_id")
        assert bool(tf.at["H1", "by_site"]) and tf.at["H1", "confirmed_by"] == "zhao"
        assert not bool(tf.at["H2", "by_site"])
        d = s.scalars(sa.select(m.Delivery).where(m.Delivery.allocation_id == line.id)).one()
        assert (d.shipped - d.received, d.discrepancy, d.returned) == (10, "short", 10)
        assert s.get(m.Round, out.round_id).state == "delivered"


# --------------------------------------------------------------------------- views


def test_views_of_the_demo_round():
    from allocator import opsview as v
    from allocator.scenario import load
    from tests.conftest import DEMO  # noqa: F401  (skips cleanly when absent)

    sc = load(DEMO)
    r = allocate(sc)
    pts = v.site_points(sc, r.fill, "zh")
    assert len(pts) == len(sc.sites)
    h01 = pts.set_index("site_id").loc["H01"]
    f = r.fill[r.fill.site_id == "H01"]
    assert h01.fill_ratio == pytest.approx(f.filled.sum() / f.need.sum(), abs=1e-4)
    assert h01["name"] == sc.sites.set_index("site_id").at["H01", "name_zh"]
    assert v.fill_colour(0.0) != v.fill_colour(1.0)
    arcs = v.shipment_arcs(sc, r.allocations, "en")
    assert int(arcs.units.sum()) == int(r.allocations.quantity.sum())
    roads = v.road_paths(sc)
    assert {"closed", "checkpoint"} <= set(roads.state)
    tc = sc.traffic_control
    closures = set(tc[tc.kind == "closure"].rule_id)
    assert all(set(r.split(";")) & closures for r in roads[roads.state == "closed"].rules)
    assert not any(set(r.split(";")) & closures for r in roads[roads.state != "closed"].rules)
    tiers = v.fill_by_tier(r.fill)
    assert int(tiers.need.sum()) == int(r.fill.need.sum())
    short = v.shortages(r.fill, sc, "en")
    assert (short.shortage > 0).all() and len(short) == int((r.fill.shortage > 0).sum())
    man = v.manifest_frame(r.allocations, sc, "zh")
    assert int(man.quantity.sum()) == int(r.allocations.quantity.sum())


def test_exports_never_write_a_formula():
    from openpyxl import load_workbook

    from allocator import opsview as v

    df = pd.DataFrame({"donor": ["=HYPERLINK(\"http://x\")", "Red Cross"], "quantity": [-5, 3]})
    csv = v.csv_bytes(df).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv
    back = pd.read_csv(io.StringIO(csv))
    assert back.donor[0].startswith("'=") and back.quantity.tolist() == [-5, 3]
    wb = load_workbook(io.BytesIO(v.xlsx_bytes({"a": df})))
    cell = wb["a"]["A2"]
    assert cell.data_type == "s" and cell.value.startswith("'=")
    assert wb["a"]["B2"].value == -5


# --------------------------------------------------------------------------- trip sheets


def test_trip_sheet_pdf_per_vehicle_with_chinese_text():
    from allocator import tripsheet
    from allocator.network import travel_times
    from allocator.network.trips import plan_trips

    if tripsheet.font_path() is None:
        pytest.skip("no CJK font (install fonts-noto-cjk)")
    sc = examples.ring_road()
    ship = pd.DataFrame({"lot_id": ["L1"], "depot_id": ["D1"], "site_id": ["H1"], "item_id": ["n95"],
                         "quantity": [8000]})
    plan = plan_trips(sc, ship, travel_times(sc), time_limit_s=0.5)
    sheets = tripsheet.trip_sheets(sc, plan, "zh", round_id=7)
    assert set(sheets) == set(map(str, plan.trips.vehicle_id))
    pdf = next(iter(sheets.values()))
    assert pdf.startswith(b"%PDF") and b"/FontFile" in pdf and b"NotoSansCJK" in pdf  # the font is embedded
    en = tripsheet.trip_sheet(sc, plan, next(iter(sheets)), "en")
    assert en.startswith(b"%PDF") and en != pdf
    with pytest.raises(tripsheet.TripSheetError):
        tripsheet.trip_sheet(sc, plan, "NO-SUCH", "en")
