"""The system of record tells the truth: needs served once, stock takes, donor changes, corrections.

Every database test runs on SQLite, and on PostgreSQL too when
``ALLOCATOR_TEST_POSTGRES_URL`` is set (``eval "$(.ci/postgres.sh)"`` starts one).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from allocator import cli, examples, ledger
from allocator.errors import StoreError
from allocator.scenario import load
from allocator.store import (
    Discrepancy,
    add_user,
    approve_round,
    cancel_round,
    confirm_delivery,
    create_round,
    current_scenario,
    dispatch_round,
    export_scenario,
    import_scenario,
    lines_frame,
    make_engine,
    transaction,
)
from allocator.store import models as m
from allocator.store.needs import coverage

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"


def _users(s) -> None:
    add_user(s, "wang", "pw", ["officer"])
    add_user(s, "li", "pw", ["approver"])


def _alloc(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(
        [{"lot_id": lot, "depot_id": d, "site_id": site, "item_id": item, "need_item_id": need,
          "quantity": q, "travel_min": 20.0} for lot, d, site, item, need, q in rows]
    )


def _create(engine, *rows: tuple) -> int:
    with transaction(engine) as s:
        return create_round(s, current_scenario(s), _alloc(*rows), None, {}, "wang").id


def _outstanding(engine) -> dict[tuple[str, str], int]:
    with transaction(engine) as s:
        return current_scenario(s).needs.set_index(["site_id", "item_id"]).quantity.to_dict()


# --------------------------------------------------------------------------- needs served once


@pytest.mark.slow
def test_rounds_count_against_needs_cancel_gives_back_and_new_requests_replace(engine) -> None:
    sc = examples.donated_city()
    with transaction(engine) as s:
        import_scenario(s, sc)
        _users(s)
    asked = sc.needs.set_index(["site_id", "item_id"]).quantity.to_dict()
    assert _outstanding(engine) == asked
    r1 = _create(engine, ("LA1", "EXPO", "JYT", "mask", "mask", 600), ("LA1", "EXPO", "UNION", "mask", "mask", 100))
    assert _outstanding(engine) == asked  # a draft covers nothing
    with transaction(engine) as s:
        approve_round(s, r1, "li")
    left = _outstanding(engine)
    assert left[("JYT", "mask")] == 0 and left[("UNION", "mask")] == 200
    assert {k: v for k, v in left.items() if k not in {("JYT", "mask"), ("UNION", "mask")}} == {
        k: v for k, v in asked.items() if k not in {("JYT", "mask"), ("UNION", "mask")}}
    # a second approved round on the rest, then cancelled: its units go back to the need
    r2 = _create(engine, ("LA1", "EXPO", "UNION", "mask", "mask", 200))
    with transaction(engine) as s:
        approve_round(s, r2, "li")
    assert _outstanding(engine)[("UNION", "mask")] == 0
    with transaction(engine) as s:
        cancel_round(s, r2, "li", reason="wrong truck")
    assert _outstanding(engine)[("UNION", "mask")] == 200
    # dispatched, then delivered 50 short to UNION: the 50 return to the need
    with transaction(engine) as s:
        dispatch_round(s, r1, "wang")
        line = int(lines_frame(s, r1).set_index("site_id").loc["UNION", "line_id"])
        confirm_delivery(s, r1, "wang", discrepancies={line: Discrepancy(received=50, kind="short")})
    left = _outstanding(engine)
    assert (left[("JYT", "mask")], left[("UNION", "mask")]) == (0, 250)
    # re-importing the same needs changes nothing; a new UNION request replaces its outstanding need
    with transaction(engine) as s:
        summary = import_scenario(s, export_scenario(s))
        assert summary.needs.replaced == [] and len(summary.needs.kept) == len(asked)
    assert _outstanding(engine) == left
    needs = sc.needs.copy()
    needs.loc[(needs.site_id == "UNION") & (needs.item_id == "mask"), "quantity"] = 400
    with transaction(engine) as s:
        summary = import_scenario(s, export_scenario(s).replace(needs=needs))
        assert summary.needs.replaced == [("UNION", "mask")]
    left = _outstanding(engine)
    assert (left[("JYT", "mask")], left[("UNION", "mask")]) == (0, 400)
    with transaction(engine) as s:
        hist = s.scalars(select(m.Need).where(m.Need.site_id == "UNION", m.Need.item_id == "mask")
                         .order_by(m.Need.id)).all()
        assert [(n.quantity, n.retired) for n in hist] == [(300, True), (400, False)]
        assert hist[0].superseded_at is not None
        # the export shows the request in force, not the history
        assert export_scenario(s).needs.set_index(["site_id", "item_id"]).quantity[("UNION", "mask")] == 400


def test_substitutes_count_through_their_ratio(engine) -> None:
    sc = examples.donated_city()
    subs = pd.DataFrame([{"item_id": "mask", "substitute_id": "n95", "ratio": 0.5}])
    with transaction(engine) as s:
        import_scenario(s, sc.replace(substitutes=subs))
        _users(s)
    r = _create(engine, ("LR1", "AIRPORT", "HOTEL7", "n95", "mask", 50))
    with transaction(engine) as s:
        approve_round(s, r, "li")
        cov = coverage(s).set_index(["site_id", "item_id"])
    # 50 N95 at ratio 0.5 cover 100 masks of HOTEL7's 200
    assert cov.loc[("HOTEL7", "mask"), ["requested", "covered", "outstanding"]].tolist() == [200, 100, 100]


def _need_units(sc, alloc: pd.DataFrame) -> pd.Series:
    """Units of need a round covers per (site, need item), from its lines and the substitute ratios."""
    ratio = {(str(r.item_id), str(r.substitute_id)): float(r.ratio) for r in sc.substitutes.itertuples()} \
        if sc.has("substitutes") else {}
    r = [1.0 if i == n else ratio[(n, i)] for n, i in zip(alloc.need_item_id, alloc.item_id)]
    return (alloc.quantity / pd.Series(r, index=alloc.index)).groupby([alloc.site_id, alloc.need_item_id]).sum()


@pytest.mark.slow
@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_after_a_delivered_round_the_next_reships_nothing_to_filled_needs(engine) -> None:
    from allocator import allocate
    from allocator.testing import check_round

    demo = load(DEMO)
    with transaction(engine) as s:
        import_scenario(s, demo)
        add_user(s, "li", "pw", ["officer", "approver"])
        state = current_scenario(s)
        r1 = allocate(state)
        rid = create_round(s, state, r1.allocations, r1.fill, r1.summary, "li").id
    with transaction(engine) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "li")
        confirm_delivery(s, rid, "li")
    # new stock arrives (a purchase: a new reserve lot of every item at the first depot)
    with transaction(engine) as s:
        now = export_scenario(s)
        depot = str(now.depots.depot_id.iloc[0])
        extra = pd.DataFrame([{"lot_id": f"NEW-{i}", "depot_id": depot, "item_id": i, "quantity": 200_000,
                               "source": "purchase"} for i in now.items.item_id])
        stock = pd.concat([now.stock, extra], ignore_index=True)
        import_scenario(s, load_like(now, stock))
        state = current_scenario(s)
        cov = coverage(s).set_index(["site_id", "item_id"])
    covered1 = _need_units(demo, r1.allocations)
    asked = demo.needs.set_index(["site_id", "item_id"]).quantity
    filled = [k for k in asked.index if asked[k] > 0 and covered1.get(k, 0) >= asked[k]]
    assert len(filled) > 100
    assert all(cov.loc[k, "outstanding"] == 0 for k in filled)
    r2 = allocate(state)
    assert check_round(state, r2) == []
    assert r2.allocations.quantity.sum() > 0  # there is new stock to ship
    covered2 = _need_units(demo, r2.allocations)
    assert [k for k in filled if covered2.get(k, 0) > 0] == []
    # no need is served beyond its request across both rounds (whole packs aside)
    pack = demo.items.set_index("item_id").pack_size
    for k, got in (covered1.add(covered2, fill_value=0)).items():
        assert got <= asked.get(k, 0) + pack[k[1]], k
    # the same new stock without the record would re-ship filled needs: the test can fail
    naive = allocate(state.replace(needs=demo.needs))
    assert any(_need_units(demo, naive.allocations).get(k, 0) > 0 for k in filled)


def load_like(sc, stock: pd.DataFrame):
    """``sc`` with ``stock`` replaced, re-parsed like a file (typed, defaults filled)."""
    import tempfile

    from allocator.scenario import save

    with tempfile.TemporaryDirectory() as d:
        return load(save(sc.replace(stock=stock), Path(d) / "sc"))


# --------------------------------------------------------------------------- imports that tell the truth


def _received(s) -> tuple[dict, dict]:
    """Received per (donation, item): from the database's lots and from the ledger, independently."""
    dons, _usage = ledger.usage_tables(s)
    db = {(r.donation_id, r.item_id): int(r.received) for r in dons.itertuples()}
    seen: set[str] = set()
    led: dict[tuple[str, str], int] = {}
    for e in ledger.entries(s):  # a lot's first receipt is its donation's; later ones are stock counts
        if e["event"] == "received" and e["lot_id"] not in seen:
            seen.add(e["lot_id"])
            key = (e["donation_id"], e["item_id"])
            led[key] = led.get(key, 0) + e["quantity"]
    return db, led


@pytest.mark.slow
@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_reimporting_the_demo_after_a_dispatch_is_a_stock_take(engine, tmp_path: Path) -> None:
    from allocator import allocate

    demo = load(DEMO)
    with transaction(engine) as s:
        import_scenario(s, demo)
        add_user(s, "li", "pw", ["officer", "approver"])
        before_db, before_ledger = _received(s)
        state = current_scenario(s)
        r1 = allocate(state)
        rid = create_round(s, state, r1.allocations, r1.fill, r1.summary, "li").id
    with transaction(engine) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "li")
        book = {lot.lot_id: lot.quantity for lot in s.scalars(select(m.Lot))}
    assert before_db == before_ledger and sum(before_db.values()) > 0
    with transaction(engine) as s:
        summary = import_scenario(s, demo)
        after_db, after_ledger = _received(s)
        adj = {a.lot_id: (a.book, a.counted, a.delta, a.reason) for a in s.scalars(select(m.StockAdjustment))}
    assert not summary.first
    assert after_db == before_db and after_ledger == before_ledger
    counted = demo.stock.set_index("lot_id").quantity
    moved = {k: (book[k], int(counted[k]), int(counted[k]) - book[k], "stock count")
             for k in counted.index if int(counted[k]) != book[k]}
    assert adj == moved and len(moved) > 10
    assert dict(summary.adjustments) == {k: v[2] for k, v in moved.items()}
    # the published snapshot still adds up and verifies
    with transaction(engine) as s:
        ledger.publish(s, tmp_path / "public")
    res = ledger.verify(tmp_path / "public")
    assert res.ok, res.message
    dons = pd.read_csv(tmp_path / "public" / "donations.csv")
    assert {(r.donation_id, r.item_id): r.received for r in dons.itertuples()} == before_db


def test_a_count_below_the_reserved_units_fails_naming_every_lot_and_stores_nothing(engine) -> None:
    from allocator.store import dump

    sc = examples.donated_city()
    with transaction(engine) as s:
        import_scenario(s, sc)
        _users(s)
    rid = _create(engine, ("LA1", "EXPO", "JYT", "mask", "mask", 600), ("LB1", "EXPO", "JYT", "suit", "suit", 150))
    with transaction(engine) as s:
        approve_round(s, rid, "li")
    before = dump(engine)
    st = sc.stock.copy()
    st.loc[st.lot_id == "LA1", "quantity"] = 500   # 600 reserved
    st.loc[st.lot_id == "LB1", "quantity"] = 100   # 150 reserved
    st.loc[st.lot_id == "LR1", "quantity"] = 10    # a plain count, fine on its own
    with pytest.raises(StoreError) as exc, transaction(engine) as s:
        import_scenario(s, sc.replace(stock=st))
    msg = str(exc.value)
    assert "2 problem(s)" in msg
    assert "stock.csv:2: quantity: lot LA1: count 500 is below the 600 unit(s) reserved by approved round(s) 1" in msg
    assert "stock.csv:3: quantity: lot LB1: count 100 is below the 150 unit(s) reserved" in msg and "(got '100')" in msg
    assert dump(engine) == before


def test_donated_goods_are_received_only_by_the_first_import(engine) -> None:
    sc = examples.donated_city()
    with transaction(engine) as s:
        assert import_scenario(s, sc).first
    extra = pd.DataFrame([{"lot_id": "LA9", "depot_id": "EXPO", "item_id": "mask", "quantity": 5000,
                           "donation_id": "DON_A", "source": "donation"},
                          {"lot_id": "P1", "depot_id": "EXPO", "item_id": "mask", "quantity": 70,
                           "source": "purchase"}])
    more = load_like(sc, pd.concat([sc.stock, extra], ignore_index=True))
    with pytest.raises(StoreError, match=r"stock.csv:6: quantity: lot LA9 of donation DON_A is not in the database: "
                                         "donated goods are received by registering the donation"):
        with transaction(engine) as s:
            import_scenario(s, more)
    # a purchase is not a donation: it may arrive by import
    only_purchase = load_like(sc, pd.concat([sc.stock, extra.iloc[1:]], ignore_index=True))
    with transaction(engine) as s:
        import_scenario(s, only_purchase)
        assert s.get(m.Lot, "P1").received_quantity == 70
        assert s.get(m.Lot, "LA9") is None


def test_a_donors_change_of_name_or_consent_is_an_event(engine, tmp_path: Path) -> None:
    sc = examples.donated_city()
    with transaction(engine) as s:
        import_scenario(s, sc)
        old = s.get(m.Donation, "DON_A").donor
    dons = sc.donations.copy()
    dons.loc[dons.donation_id == "DON_A", "donor"] = "Renamed Foundation"
    assert dons.publish_name.tolist() == ["true", "false"]
    dons["publish_name"] = ["false", "true"]  # DON_A withdraws consent, DON_B gives it
    with transaction(engine) as s:
        import_scenario(s, sc.replace(donations=dons))
        changes = {(c.donation_id, c.field, c.old, c.new) for c in s.scalars(select(m.DonorChange))}
        amended = [e for e in ledger.entries(s) if e["event"] == "donor_changed"]
    assert changes == {("DON_A", "donor", old, "Renamed Foundation"), ("DON_A", "publish_name", "True", "False"),
                       ("DON_B", "publish_name", "False", "True")}
    assert {(e["donation_id"], tuple(e["amended"]), e["donor"]) for e in amended} == {
        ("DON_A", ("donor", "publish_name"), "anonymous"), ("DON_B", ("publish_name",), "Example Textiles Co.")}
    with transaction(engine) as s:
        ledger.publish(s, tmp_path / "public")
    assert ledger.verify(tmp_path / "public").ok
    pub = pd.read_csv(tmp_path / "public" / "donations.csv").set_index("donation_id").provider_org
    assert set(pd.Series(pub["DON_A"]).tolist()) == {"anonymous"}
    assert set(pd.Series(pub["DON_B"]).tolist()) == {"Example Textiles Co."}
    # nothing changed: no further event
    with transaction(engine) as s:
        n = ledger.head(s)[0]
        import_scenario(s, sc.replace(donations=dons))
        assert ledger.head(s)[0] == n


# --------------------------------------------------------------------------- traffic control that cannot be mistyped


def _demo_with_rules(tc: pd.DataFrame):
    return load(DEMO).replace(traffic_control=tc)


@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_a_rule_naming_no_road_or_no_edge_fails_validation_naming_the_rule(tmp_path: Path, capsys) -> None:
    from allocator.scenario import save
    from allocator.validate import validate

    sc = load(DEMO)
    tc = sc.traffic_control.copy()
    tc.loc[tc.rule_id == "TC01", "road"] = "Wuhan Yangtze Rivr Tunnel"     # a typo
    extra = pd.DataFrame([{"rule_id": "TC99", "kind": "closure", "u": "n0001", "v": "n0003"}])
    tc = pd.concat([tc, extra], ignore_index=True)
    folder = save(sc.replace(traffic_control=tc), tmp_path / "typo")
    errors = [str(p) for p in validate(folder).errors]
    assert errors == [
        "traffic_control.csv:2: road: rule TC01: no road is named 'Wuhan Yangtze Rivr Tunnel' (by name or "
        "name_zh): the rule would change nothing (got Wuhan Yangtze Rivr Tunnel)",
        f"traffic_control.csv:{len(tc) + 1}: u: rule TC99: there is no road between n0001 and n0003: the rule "
        "would change nothing (got n0001, n0003)",
    ]
    # the round refuses to run on it and says why, without a traceback
    assert cli.main(["round", str(folder), "--out", str(tmp_path / "r")]) != 0
    err = capsys.readouterr().err
    assert "rule TC01: no road is named 'Wuhan Yangtze Rivr Tunnel'" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_rules_match_a_road_by_its_chinese_name() -> None:
    import numpy as np

    from allocator.network import travel_times
    from allocator.validate import validate

    sc = load(DEMO)
    roads = sc.roads
    zh = dict(zip(roads.name, roads.name_zh))
    assert zh["Wuhan Yangtze River Bridge"] == "武汉长江大桥" and zh["Wuhan Yangtze River Second Bridge"] == "武汉长江二桥"
    assert (roads.loc[roads.name != "", "name_zh"] != "").all()
    tc = sc.traffic_control
    # every checkpointed crossing becomes a closure, named in English or in Chinese
    english = tc.assign(kind=tc.kind.replace("checkpoint", "closure"))
    chinese = english.assign(road=[zh.get(r, r) for r in english.road])
    assert set(chinese.road) >= {"武汉长江大桥", "武汉长江二桥", "武汉长江隧道"}
    assert validate(sc.replace(traffic_control=chinese)).errors == []
    a = travel_times(sc.replace(traffic_control=english)).minutes
    b = travel_times(sc.replace(traffic_control=chinese)).minutes
    base = travel_times(sc).minutes
    pd.testing.assert_frame_equal(a, b)
    # the closures named in Chinese close the bridges: Leishenshan (H09) is cut off
    assert np.isfinite(base.to_numpy()).all() and np.isinf(b["H09"]).all()


# --------------------------------------------------------------------------- review flags an officer can act on


@pytest.mark.skipif(not DEMO.is_dir(), reason="the demo scenario has not landed")
def test_review_flags_are_per_item_ranked_and_explained() -> None:
    import numpy as np

    from allocator import demand, i18n

    sc = load(DEMO)
    e = demand.estimate(sc)
    flags = demand.review_flags(sc)
    assert 0 < len(flags) <= 30  # the old category screen printed 165 lines to review
    by_key = e.set_index(["site_id", "item_id"])
    # the 330-goggle request against a 3,625 estimate is flagged
    h01 = by_key.loc[("H01", "goggles")]
    assert (int(h01.requested), int(h01.estimate)) == (330, 3625)
    assert h01.review and h01.flag > 0
    f = flags.set_index("flag").loc[int(h01.flag)]
    assert f.item_id == "goggles" and "H01" in f.site_ids and f.code == "group_below"
    msg = demand.flag_message(f)
    assert "goggles" in msg and "designated hospital" in msg and "of the estimate" in msg
    assert "goggles" in demand.flag_message(f, "zh") and demand.flag_message(f, "zh") != msg
    # ranked: farthest from the estimate first
    far = np.abs(np.log(flags.ratio.to_numpy()))
    assert (np.diff(far) <= 1e-12).all()
    # every flag recomputes from the estimate table: its sites are off the same way, by a day of use or more
    for r in flags.itertuples():
        rows = by_key.loc[[(s, r.item_id) for s in r.site_ids]]
        assert (int(rows.requested.sum()), int(rows.estimate.sum())) == (r.requested, r.estimate)
        ratio = rows.requested.astype(float) / rows.estimate.astype(float)
        assert ((ratio < 0.5) | (ratio > 2)).all()
        assert ((rows.requested - rows.estimate).abs() >= rows.daily_use).all()
        assert (rows.flag == r.flag).all()
        assert i18n.has(f"records.flag.{r.code}", "en") and i18n.has(f"records.flag.{r.code}", "zh")
    assert int(e.review.sum()) == int(flags.n_sites.sum())


# --------------------------------------------------------------------------- correcting a confirmed delivery


def _books_agree(s) -> dict:
    """The database's donation totals equal the ledger's; returns them per (donation, item)."""
    dons, usage = ledger.usage_tables(s)
    tot = ledger.totals_from_ledger(ledger.entries(s))
    out = {}
    for r in dons.itertuples():
        t = tot.donations[(r.donation_id, r.item_id)]
        got = (r.received, r.allocated, r.in_stock, r.written_off)
        assert got == (t["received"], t["allocated"], t["in_stock"], t["written_off"]), r
        assert r.received == r.allocated + r.in_stock + r.written_off
        out[(r.donation_id, r.item_id)] = got
    for r in usage.itertuples():
        t = tot.usage[(r.donation_id, r.item_id, r.receiver_org_ref)]
        assert (r.allocated, r.delivered, r.returned, r.written_off) == (
            t["allocated"], t["delivered"], t["returned"], t["written_off"]), r
    return out


def test_a_confirmed_delivery_can_be_corrected_and_both_confirmations_are_kept(engine, tmp_path: Path) -> None:
    from allocator.store import correct_delivery, delivery_history

    sc = examples.donated_city()
    with transaction(engine) as s:
        import_scenario(s, sc)
        _users(s)
    rid = _create(engine, ("LA1", "EXPO", "UNION", "mask", "mask", 300), ("LA1", "EXPO", "JYT", "mask", "mask", 600))
    with transaction(engine) as s:
        approve_round(s, rid, "li")
        dispatch_round(s, rid, "wang")
        line = int(lines_frame(s, rid).set_index("site_id").loc["UNION", "line_id"])
        confirm_delivery(s, rid, "wang", discrepancies={line: Discrepancy(received=250, kind="short")})
        assert s.get(m.Lot, "LA1").quantity == 100 + 50
    assert _outstanding(engine)[("UNION", "mask")] == 50
    # the site recounts: 280 arrived, 20 were crushed and thrown away
    with transaction(engine) as s:
        with pytest.raises(StoreError, match="needs a reason"):
            correct_delivery(s, rid, line, "wang", Discrepancy(280, "damaged", "written_off", "crushed"), reason=" ")
        correct_delivery(s, rid, line, "wang", Discrepancy(280, "damaged", "written_off", "crushed"),
                         reason="recount at the ward")
        assert s.get(m.Lot, "LA1").quantity == 100  # the 50 counted back were not in the depot after all
        hist = delivery_history(s, line)
        assert hist[["received", "returned", "written_off"]].values.tolist() == [[250, 50, 0], [280, 0, 20]]
        assert hist.superseded_by.tolist() == ["wang", ""] and hist.correction_reason.iloc[0] == "recount at the ward"
        books = _books_agree(s)
        assert books[("DON_A", "mask")] == (1000, 880, 100, 20)
        corr = [e for e in ledger.entries(s) if e.get("corrects")]
        assert sorted((e["event"], e["quantity"]) for e in corr) == [
            ("delivered", 30), ("returned", -50), ("written_off", 20)]
    assert _outstanding(engine)[("UNION", "mask")] == 20
    # and once more: it all arrived after all
    with transaction(engine) as s:
        correct_delivery(s, rid, line, "wang", None, reason="the 20 boxes were found intact")
        assert len(delivery_history(s, line)) == 3
        assert _books_agree(s)[("DON_A", "mask")] == (1000, 900, 100, 0)
        ledger.publish(s, tmp_path / "public")
    assert ledger.verify(tmp_path / "public").ok
    assert _outstanding(engine)[("UNION", "mask")] == 0
    # a line without a confirmed delivery cannot be corrected
    r2 = _create(engine, ("LB1", "EXPO", "JYT", "suit", "suit", 10))
    with transaction(engine) as s, pytest.raises(StoreError, match="no confirmed delivery"):
        approve_round(s, r2, "li")
        dispatch_round(s, r2, "wang")
        correct_delivery(s, r2, int(lines_frame(s, r2).line_id.iloc[0]), "wang", None, reason="x")


# --------------------------------------------------------------------------- output folders readable by the group


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_output_folders_and_files_respect_the_umask(tmp_path: Path, mask: int) -> None:
    import stat

    from allocator.scenario import save

    src = save(examples.two_hospitals(), tmp_path / "sc")
    old = os.umask(mask)
    try:
        assert cli.main(["round", str(src), "--out", str(tmp_path / "r")]) == 0
        assert cli.main(["round", str(src), "--out", str(tmp_path / "r.xlsx")]) == 0
        assert cli.main(["needs", str(src), "--out", str(tmp_path / "n" / "needs.csv")]) == 0
        out = save(examples.two_hospitals(), tmp_path / "again")
    finally:
        os.umask(old)
    want_dir, want_file = 0o777 & ~mask, 0o666 & ~mask
    for d in (tmp_path / "r", out):
        assert stat.S_IMODE(d.stat().st_mode) == want_dir, (d, oct(d.stat().st_mode))
        for f in d.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == want_file, f
    for f in (tmp_path / "r.xlsx", tmp_path / "n" / "needs.csv"):
        assert stat.S_IMODE(f.stat().st_mode) == want_file, f


# --------------------------------------------------------------------------- on the command line


@pytest.mark.slow
def test_coverage_and_corrections_on_the_command_line(db_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from allocator.scenario import save

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOCATOR_DATABASE_URL", db_url)
    monkeypatch.setenv("PW", "pw")
    me = ("--user", "li", "--password-env", "PW")
    save(examples.donated_city(), tmp_path / "scenario")
    (tmp_path / "r1").mkdir()
    _alloc(("LA1", "EXPO", "UNION", "mask", "mask", 300), ("LA1", "EXPO", "JYT", "mask", "mask", 600)).to_csv(
        tmp_path / "r1" / "allocations.csv", index=False)
    assert cli.main(["import", "scenario"]) == 0
    assert cli.main(["users", "add", "li", "--role", "officer", "--role", "approver", "--password-env", "PW"]) == 0
    assert cli.main(["rounds", "create", "--allocations", "r1", *me]) == 0
    assert "no earlier round covers any of the 6 need(s)" in capsys.readouterr().out
    assert cli.main(["rounds", "approve", "1", *me]) == 0
    assert cli.main(["rounds", "dispatch", "1", "--trips", "none", *me]) == 0
    with transaction(make_engine(db_url)) as s:
        line = int(lines_frame(s, 1).set_index("site_id").loc["UNION", "line_id"])
    assert cli.main(["rounds", "deliver", "1", "--discrepancy", f"{line}:250:short:returned", *me]) == 0
    capsys.readouterr()
    assert cli.main(["rounds", "correct", "1", str(line), "--received", "300", "--reason", "found the boxes",
                     *me]) == 0
    assert f"round 1: line {line} corrected: received 250 -> 300" in capsys.readouterr().out
    assert cli.main(["rounds", "correct", "1", str(line), "--received", "280", "--reason", " ", *me]) == 1
    assert "a correction needs a reason" in capsys.readouterr().err
    # the next round is told what round 1 already covers
    (tmp_path / "r2").mkdir()
    _alloc(("LA1", "EXPO", "HOTEL7", "mask", "mask", 100)).to_csv(tmp_path / "r2" / "allocations.csv", index=False)
    assert cli.main(["rounds", "create", "--allocations", "r2", "--out", "r2out", *me]) == 0
    out = capsys.readouterr().out
    assert "earlier rounds already cover 2 of 6 need(s) in full and 0 in part (900 of 1,650 unit(s))" in out
    assert "  UNION UNION / mask Surgical mask: requested 300, covered 300 by round(s) 1, outstanding 0" in out
    cov = pd.read_csv(tmp_path / "r2out" / "coverage.csv")
    assert cov.set_index(["site_id", "item_id"]).loc[("UNION", "mask"), ["requested", "covered", "outstanding"]
                                                     ].tolist() == [300, 300, 0]
    assert cli.main(["rounds", "coverage"]) == 0
    assert "outstanding" in capsys.readouterr().out
