"""The Overview page's figures (allocator.overview), recomputed independently from the scenario tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from allocator import examples, overview
from allocator.demand import estimate, needs_for_round
from allocator.scenario import from_tables, load
from allocator.store import import_scenario, memory_store, transaction


def _tables(sc) -> dict[str, pd.DataFrame]:
    return {t: sc.table(t) for t in ("items", "sites", "depots", "stock", "needs") if sc.has(t)}


def test_stock_by_depot_splits_every_unit_into_one_bucket(demo_path) -> None:
    sc = load(demo_path)
    got = overview.stock_by_depot(sc)
    s = sc.stock
    # independent: every unit of every lot is in exactly one bucket
    assert int(got[["available", "quarantined", "rejected", "expired"]].to_numpy().sum()) == int(s.quantity.sum())
    usable = s[(s.status == "available") & ~(s.expires.notna() & (s.expires <= sc.at))]
    want = usable.groupby(["depot_id", "item_id"]).quantity.sum()
    have = got.set_index(["depot_id", "item_id"]).available
    assert (have[have > 0].sort_index() == want[want > 0].sort_index()).all()
    assert int(got.lots.sum()) == len(s)


def test_expired_and_expiring_lots() -> None:
    base = examples.two_hospitals()
    at = base.at
    stock = pd.DataFrame([
        {"lot_id": "OLD", "depot_id": "D1", "item_id": "n95", "quantity": 10, "expires": at - pd.Timedelta(days=1)},
        {"lot_id": "SOON", "depot_id": "D1", "item_id": "n95", "quantity": 20, "expires": at + pd.Timedelta(days=2)},
        {"lot_id": "LATER", "depot_id": "D1", "item_id": "n95", "quantity": 30, "expires": at + pd.Timedelta(days=30)},
        {"lot_id": "NEVER", "depot_id": "D1", "item_id": "n95", "quantity": 40, "expires": pd.NaT},
    ])
    tables = _tables(base) | {"stock": stock}
    sc = from_tables(tables, as_of=at)
    row = overview.stock_by_depot(sc).iloc[0]
    assert (row.available, row.expired) == (90, 10)
    soon = overview.expiring_lots(sc, horizon_days=7)
    assert soon.lot_id.tolist() == ["SOON"] and soon.days.iloc[0] == pytest.approx(2.0)
    assert overview.expiring_lots(sc, horizon_days=60).lot_id.tolist() == ["SOON", "LATER"]
    a = overview.alerts(sc, horizon_days=7, travel=SimpleNamespace(minutes=pd.DataFrame(
        [[10.0, 12.0]], index=["D1"], columns=["H1", "H2"])))
    exp = a[a.kind == "expiring"]
    assert exp.lot_id.tolist() == ["SOON"] and exp.quantity.tolist() == [20]


def test_needs_by_tier_serves_tiers_in_order_and_never_more_than_the_stock() -> None:
    sc = examples.three_tiers(supply=1000)
    t = overview.needs_by_tier(sc)
    by_tier = t.groupby("tier")[["need", "projected_served", "projected_shortage"]].sum()
    assert by_tier.need.tolist() == [800, 500, 300]
    assert by_tier.projected_served.tolist() == [800, 200, 0]
    assert (t.need == t.projected_served + t.projected_shortage).all()
    # more stock than needs: nobody short
    assert overview.needs_by_tier(examples.three_tiers(supply=5000)).projected_shortage.sum() == 0


def test_needs_by_tier_matches_the_round_needs_on_the_demo(demo_path) -> None:
    sc = load(demo_path)
    t = overview.needs_by_tier(sc)
    nd = needs_for_round(sc)
    assert int(t.need.sum()) == int(nd.quantity.sum())
    from allocator.validate import usable_lots

    supply = usable_lots(sc).groupby("item_id").quantity.sum()
    served = t.groupby("item_id").projected_served.sum()
    for item, units in served.items():
        assert units <= supply.get(item, 0)
    assert sorted(t.tier.unique()) == sorted(sc.sites.tier.unique())


def test_quarantined_lots_are_alerts(demo_path) -> None:
    sc = load(demo_path)
    a = overview.alerts(sc, travel=SimpleNamespace(minutes=pd.DataFrame(
        np.ones((len(sc.depots), len(sc.sites))), index=sc.depots.depot_id, columns=sc.sites.site_id)))
    q = a[a.kind == "quarantined"]
    s = sc.stock
    want = s[(s.status == "quarantined") & (s.quantity > 0)]
    assert sorted(q.lot_id) == sorted(want.lot_id.astype(str))
    assert int(q.quantity.sum()) == int(want.quantity.sum())
    assert (a.kind == "unreachable").sum() == 0


def test_a_site_no_depot_reaches_is_an_alert() -> None:
    sc = examples.two_hospitals()
    minutes = pd.DataFrame([[15.0, np.inf]], index=["D1"], columns=["H1", "H2"])
    travel = SimpleNamespace(minutes=minutes)
    assert overview.unreachable_sites(sc, travel) == ["H2"]
    a = overview.alerts(sc, travel=travel)
    assert a[a.kind == "unreachable"].site_id.tolist() == ["H2"]


def test_a_site_cut_off_by_the_traffic_control_is_unreachable() -> None:
    sc = examples.ring_road()
    from allocator.network import travel_times

    minutes = travel_times(sc).minutes
    want = [s for s in minutes.columns if not np.isfinite(minutes[s].to_numpy(float)).any()]
    assert overview.unreachable_sites(sc) == want


def test_a_request_far_from_the_estimate_is_flagged() -> None:
    base = examples.demand_hospital()
    est = estimate(base)
    mask = int(est.set_index("item_id").loc["mask", "estimate"])
    tables = {t: base.table(t) for t in ("items", "sites", "depots", "stock", "site_stock")}
    for factor, flagged in ((10, True), (1, False)):
        needs = pd.DataFrame([{"site_id": "DH100", "item_id": "mask", "quantity": mask * factor}])
        sc = from_tables(tables | {"needs": needs}, as_of=base.at)
        a = overview.alerts(sc, travel=SimpleNamespace(minutes=pd.DataFrame([[5.0]], index=["D1"],
                                                                            columns=["DH100"])))
        review = a[(a.kind == "review") & (a.detail == "mask")]
        assert (len(review) == 1) is flagged
        if flagged:
            assert review.quantity.iloc[0] == mask * 10


def test_site_days_and_low_days_from_the_counts(monkeypatch) -> None:
    sc = examples.demand_hospital()  # 1,520 masks at 760 a day: 2 days (see the example); only masks counted
    row = overview.site_days(sc).set_index("site_id").loc["DH100"]
    assert (row.item_id, row.days_of_supply) == ("mask", 2.0)
    assert row.days_of_supply_burn == pytest.approx(1520 / 740)
    travel = SimpleNamespace(minutes=pd.DataFrame([[5.0]], index=["D1"], columns=["DH100"]))
    assert not (overview.alerts(sc, travel=travel).kind == "low_days").any()
    monkeypatch.setattr(overview, "LOW_DAYS", 3.0)
    low = overview.alerts(sc, travel=travel)
    assert low[low.kind == "low_days"][["site_id", "item_id", "days"]].values.tolist() == [["DH100", "mask", 2.0]]


def test_the_fingerprint_changes_with_the_data_and_only_then() -> None:
    eng = memory_store()
    with transaction(eng) as s:
        empty = overview.data_fingerprint(s)
        import_scenario(s, examples.three_tiers(supply=1000))
    with transaction(eng) as s:
        first = overview.data_fingerprint(s)
    with transaction(eng) as s:
        assert overview.data_fingerprint(s) == first
    with transaction(eng) as s:
        import_scenario(s, examples.three_tiers(supply=900))
    with transaction(eng) as s:
        second = overview.data_fingerprint(s)
    assert len({empty, first, second}) == 3


def test_overview_bundles_the_parts() -> None:
    sc = examples.three_tiers()
    ov = overview.overview(sc)
    assert ov.stock.equals(overview.stock_by_depot(sc))
    assert ov.tiers.equals(overview.needs_by_tier(sc))
    assert set(ov.alerts.kind) <= set(overview.ALERT_KINDS)
