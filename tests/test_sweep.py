"""What-if sweeps (allocator.sweep): changes as data, variant expansion, the same table however it runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocator import allocate, examples
from allocator.network import travel_times
from allocator.sweep import (
    REASONS,
    WALL_CLOCK,
    Base,
    CancelDonation,
    CloseRoad,
    DelayDonation,
    ExpireEarlier,
    LiftRule,
    ScaleDemand,
    ScaleSupply,
    SetTier,
    SweepError,
    Variant,
    apply,
    comparable,
    grid,
    round_metrics,
    run_sweep,
    run_variant,
    sample,
)
from allocator.testing import check_round

pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def city():
    return examples.small_city()


def city_axes():
    """Every kind of change on the small synthetic city, and one option that cannot work."""
    return {
        "supply": [ScaleSupply(0.5), ScaleSupply(1.0), ScaleSupply(1.5)],
        "roads": [None, CloseRoad("Second Yangtze River Bridge"), LiftRule("R01")],
        "demand": [None, ScaleDemand(2.0, district="Wuchang")],
        "donation": [None, CancelDonation("G0001"), DelayDonation("G0002", 30)],
        "expiry": [None, ExpireEarlier(60)],
        "tier": [None, SetTier(1, kind="backup_hospital")],
        "typo": [None, None, None, CloseRoad("Nowhere Bridge")],
    }


# --------------------------------------------------------------------------- expansion


def test_grid_is_every_combination_in_order():
    axes = {"supply": [ScaleSupply(0.5), ScaleSupply(1.0), ScaleSupply(2.0)],
            "tunnel": [None, LiftRule("TC01")],
            "both": [(ScaleDemand(2.0), ScaleSupply(2.0))]}
    vs = grid(axes, start=10)
    assert [v.variant_id for v in vs] == list(range(10, 16))
    cols = [v.columns() for v in vs]
    assert [c["supply"] for c in cols] == ["supply x0.5"] * 2 + ["supply x1"] * 2 + ["supply x2"] * 2
    assert [c["tunnel"] for c in cols] == ["baseline", "lift TC01"] * 3
    assert [c["supply_value"] for c in cols] == [0.5, 0.5, 1.0, 1.0, 2.0, 2.0]
    assert np.isnan(cols[0]["tunnel_value"]) and np.isnan(cols[0]["both_value"])
    assert cols[0]["both"] == "demand x2 + supply x2"
    assert vs[1].changes == (ScaleSupply(0.5), LiftRule("TC01"), ScaleDemand(2.0), ScaleSupply(2.0))
    assert vs[0].changes == (ScaleSupply(0.5), ScaleDemand(2.0), ScaleSupply(2.0))


def test_sample_is_seeded_and_draws_every_option():
    axes = city_axes()
    a, b, c = sample(axes, 200, seed=7), sample(axes, 200, seed=7), sample(axes, 200, seed=8)
    assert a == b and a != c
    assert [v.variant_id for v in a] == list(range(200))
    for name, options in axes.items():
        seen = {dict((p[0], p[1]) for p in v.params)[name] for v in a}
        labels = {"baseline" if o is None else o.label for o in options}
        assert seen == labels, name
    for v in a:  # the changes are exactly those of the chosen options, axis by axis
        chosen = [o for name, options in axes.items() for o in options
                  if o is not None and dict((p[0], p[1]) for p in v.params)[name] == o.label]
        assert v.changes == tuple(chosen)


def test_bad_axes_are_errors():
    with pytest.raises(SweepError):
        grid({"x": []})
    with pytest.raises(SweepError):
        grid({"x": [("not a change",)]})
    with pytest.raises(SweepError):
        sample({"x": [None]}, -1)
    with pytest.raises(SweepError, match="unique"):
        run_sweep(examples.two_hospitals(), [Variant(1), Variant(1)], client=None, progress=False)


# --------------------------------------------------------------------------- each change


def test_scale_demand_by_district_kind_site_and_item(city):
    base = city.needs.merge(city.sites[["site_id", "district", "kind"]], on="site_id")
    out = ScaleDemand(2.0, district="Wuchang").apply(city).needs.merge(base, on=["site_id", "item_id"],
                                                                      suffixes=("", "_old"))
    w = out.district == "Wuchang"
    assert w.any() and (~w).any()
    assert (out.quantity[w] == 2 * out.quantity_old[w]).all()
    assert (out.quantity[~w] == out.quantity_old[~w]).all()
    out = ScaleDemand(0.5, kind="community", item_id=city.needs.item_id.iloc[0]).apply(city).needs
    m = base.kind.eq("community").to_numpy() & base.item_id.eq(city.needs.item_id.iloc[0]).to_numpy()
    assert m.any()
    assert (out.quantity[m].to_numpy() == np.floor(base.quantity[m].to_numpy() * 0.5 + 0.5)).all()
    assert (out.quantity[~m].to_numpy() == base.quantity[~m].to_numpy()).all()
    assert city.needs.quantity.equals(base.quantity)  # the base scenario is untouched
    with pytest.raises(SweepError, match="Atlantis"):
        ScaleDemand(2.0, district="Atlantis").apply(city)
    with pytest.raises(SweepError, match="no site_id"):
        ScaleDemand(2.0, site_id="NOPE").apply(city)


def test_scale_supply_by_item_and_depot():
    sc = examples.donated_city()
    out = ScaleSupply(0.5, item_id="suit").apply(sc).stock.set_index("lot_id").quantity.to_dict()
    assert out == {"LA1": 1000, "LB1": 100, "LB2": 50, "LR1": 500}
    out = ScaleSupply(3, depot_id="AIRPORT").apply(sc).stock.set_index("lot_id").quantity.to_dict()
    assert out == {"LA1": 1000, "LB1": 200, "LB2": 300, "LR1": 1500}
    out = ScaleSupply(0).apply(sc).stock.quantity
    assert (out == 0).all()
    with pytest.raises(SweepError, match="depot_id"):
        ScaleSupply(2, depot_id="MOON").apply(sc)


def test_donations_delayed_and_cancelled():
    sc = examples.donated_city()  # DON_B received 2020-02-07, as_of 2020-02-10 08:00
    late = DelayDonation("DON_B", 2).apply(sc)  # 2020-02-09: still in stock for this round
    assert late.donations.set_index("donation_id").received["DON_B"] == pd.Timestamp("2020-02-09")
    assert set(late.stock.lot_id) == {"LA1", "LB1", "LB2", "LR1"}
    later = DelayDonation("DON_B", 4).apply(sc)  # 2020-02-11: not here yet
    assert set(later.stock.lot_id) == {"LA1", "LR1"}
    gone = CancelDonation("DON_A").apply(sc)
    assert set(gone.stock.lot_id) == {"LB1", "LB2", "LR1"} and "DON_A" in set(gone.donations.donation_id)
    with pytest.raises(SweepError, match="DON_Z"):
        CancelDonation("DON_Z").apply(sc)
    # the round sees it: without DON_A's masks the mask needs are covered only by N95 substitutes
    r = allocate(gone)
    assert "LA1" not in set(r.allocations.lot_id)
    assert r.fill[r.fill.item_id == "mask"].filled.sum() < allocate(sc).fill[lambda f: f.item_id == "mask"].filled.sum()
    assert check_round(gone, r) == []


def test_lots_expire_earlier():
    sc = examples.donated_city()  # LB1 (suits at EXPO) expires 2022-12-31; the others never
    out = ExpireEarlier(7, item_id="suit").apply(sc).stock.set_index("lot_id").expires
    assert out["LB1"] == pd.Timestamp("2022-12-24") and out[["LA1", "LB2", "LR1"]].isna().all()
    expired = ExpireEarlier(365 * 3).apply(sc)  # LB1 has expired at as_of: it ships nothing
    r = allocate(expired)
    assert "LB1" not in set(r.allocations.lot_id) and "LB1" in set(allocate(sc).allocations.lot_id)
    assert check_round(expired, r) == []


def test_tier_changes():
    sc = examples.donated_city()
    out = SetTier(1, kind="quarantine_site").apply(sc).sites.set_index("site_id").tier.to_dict()
    assert out == {"JYT": 1, "UNION": 1, "HOTEL7": 1}
    out = SetTier(4, site_id="UNION").apply(sc).sites.set_index("site_id").tier.to_dict()
    assert out == {"JYT": 1, "UNION": 4, "HOTEL7": 3}
    with pytest.raises(SweepError, match="whole number"):
        SetTier(0, site_id="UNION").apply(sc)
    r = allocate(SetTier(4, site_id="UNION").apply(sc))
    assert r.fill.set_index("site_id").tier.to_dict()["UNION"] == 4


def test_closures_and_lifted_rules_change_the_traffic_control():
    sc = examples.donated_city()
    closed = CloseRoad("Second Bridge").apply(sc)
    tc = closed.traffic_control.set_index("rule_id")
    assert tc.loc["sweep-close-Second Bridge", "kind"] == "closure"
    assert np.isinf(travel_times(closed).minutes.loc["EXPO", "HOTEL7"])  # the only way to the hotel
    lifted = LiftRule("TC2").apply(sc)
    assert list(lifted.traffic_control.rule_id) == ["TC1"]
    with pytest.raises(SweepError, match="Third Bridge"):
        CloseRoad("Third Bridge").apply(sc)
    with pytest.raises(SweepError, match="TC9"):
        LiftRule("TC9").apply(sc)
    with pytest.raises(SweepError, match="no road node"):
        CloseRoad(u="n1", v="n99").apply(sc)


def test_a_road_closure_re_plans_like_a_full_recompute(city):
    """The sweep re-plans from the scattered travel times; a fresh travel_times of the changed scenario agrees."""
    base = Base(city, travel_times(city))
    for change in (CloseRoad("Second Yangtze River Bridge"), LiftRule("R01")):
        row = run_variant(base, Variant(0, (change,)))
        assert row["error"] == ""
        changed = apply(city, [change])
        travel = travel_times(changed)
        result = allocate(changed, travel=travel)
        assert check_round(changed, result) == []
        direct = round_metrics(result, travel)
        for k, v in direct.items():
            if k not in WALL_CLOCK:
                assert row[k] == (v if isinstance(v, str) else pytest.approx(v, rel=1e-9)), (change, k)
    no_change = run_variant(base, Variant(0, ()))
    closed = run_variant(base, Variant(1, (CloseRoad("Second Yangtze River Bridge"),)))
    assert closed["transport_cost"] > no_change["transport_cost"]


# --------------------------------------------------------------------------- the table


def test_a_failing_variant_is_a_row_with_its_error():
    sc = examples.donated_city()
    vs = [Variant(0), Variant(1, (CloseRoad("Nowhere Bridge"),)), Variant(2, (ScaleSupply(0.5),)),
          Variant(3, (ScaleDemand(2.0, district="Atlantis"),)), Variant(4, (LiftRule("TC9"),))]
    calls: list[tuple[int, int]] = []
    t = run_sweep(sc, vs, client=None, progress=lambda done, total: calls.append((done, total)))
    assert list(t.variant_id) == [0, 1, 2, 3, 4]
    assert calls[-1] == (5, 5)
    err = t.set_index("variant_id").error
    assert err[0] == "" and err[2] == ""
    assert err[1].startswith("SweepError") and "Nowhere Bridge" in err[1]
    assert "Atlantis" in err[3] and "TC9" in err[4]
    assert t.loc[t.error != "", "fill"].isna().all()
    # the rows that ran are the rounds themselves
    for vid, changes in ((0, ()), (2, (ScaleSupply(0.5),))):
        changed = apply(sc, changes)
        travel = travel_times(changed)
        result = allocate(changed, travel=travel)
        assert check_round(changed, result) == []
        want = round_metrics(result, travel)
        row = t.set_index("variant_id").loc[vid]
        assert row.fill == want["fill"] and row.transport_cost == want["transport_cost"]
        assert row.fill_tier_1 == want["fill_tier_1"] and row.shortage_supply == want["shortage_supply"]
    short = t.set_index("variant_id").loc[2]
    assert short.fill < 1 and sum(short[f"shortage_{r}"] for r in REASONS) == short.need - short.filled


@pytest.fixture(scope="module")
def serial_table(city):
    return run_sweep(city, sample(city_axes(), 40, seed=15), client=None, progress=False)


@pytest.mark.slow
def test_the_serial_table(serial_table, city):
    t = serial_table
    assert len(t) == 40 and list(t.variant_id) == list(range(40))
    assert (t.error != "").sum() == (t.typo != "baseline").sum() > 0
    ok = t[t.error == ""]
    assert ok.fill.between(0, 1).all() and ok.need.gt(0).all()
    # more supply never lowers the tier-1 fill of the same other choices
    others = [c for c in ["roads", "demand", "donation", "expiry", "tier"]]
    for _, g in ok.groupby(others):
        g = g.sort_values("supply_value")
        assert g.fill_tier_1.is_monotonic_increasing
    assert set(t.columns[:15]) >= {"variant_id", "supply", "supply_value", "roads", "typo"}
    assert list(t.columns[-1 - len(WALL_CLOCK):]) == ["error", *WALL_CLOCK]


@pytest.mark.slow
def test_same_table_serially_and_on_a_threaded_local_client(serial_table, city):
    from dask.distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as c:
        threaded = run_sweep(city, sample(city_axes(), 40, seed=15), client=c, progress=False)
    pd.testing.assert_frame_equal(comparable(serial_table), comparable(threaded), check_exact=True)


@pytest.mark.slow
def test_same_table_on_a_local_cluster_of_processes(serial_table, city):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as c:
        spread = run_sweep(city, sample(city_axes(), 40, seed=15), client=c, progress=False)
        assert len(c.scheduler_info()["workers"]) == 2
    pd.testing.assert_frame_equal(comparable(serial_table), comparable(spread), check_exact=True)


@pytest.mark.slow
def test_client_local_and_an_address(city, capsys):
    """``client="local"`` starts and stops a cluster; a scheduler address reaches an existing one."""
    from dask.distributed import LocalCluster

    vs = grid({"supply": [ScaleSupply(0.5), ScaleSupply(1.0)]})
    sc = examples.donated_city()
    a = run_sweep(sc, vs, client="local", progress=True)
    assert "2/2 variants" in capsys.readouterr().err  # the console bar
    with LocalCluster(processes=False, n_workers=1, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        b = run_sweep(sc, vs, client=cluster.scheduler_address, progress=False)
    pd.testing.assert_frame_equal(comparable(a), comparable(b), check_exact=True)
    assert list(a.error) == ["", ""] and a.fill.iloc[0] < a.fill.iloc[1]


def test_errors_are_codes_with_parameters_in_both_languages():
    from allocator import i18n

    with pytest.raises(SweepError) as exc:
        CloseRoad("Third Bridge").apply(examples.donated_city())
    e = exc.value
    assert e.code == "no_road" and e.params["road"] == "Third Bridge" and "Second Bridge" in e.params["known"]
    assert str(e) == i18n.t("sweep.error.no_road", "en", **e.params)
    zh = e.render("zh")
    assert "Third Bridge" in zh and zh != str(e) and zh == i18n.t("sweep.error.no_road", "zh", **e.params)
    keys = [k for k in i18n.catalogue("en") if k.startswith("sweep.")]
    assert all(i18n.has(k, "zh") for k in keys) and len(keys) >= 15


def test_progress_bar_in_chinese_on_the_console(capsys):
    run_sweep(examples.two_hospitals(), [Variant(0)], client=None, progress=True, lang="zh")
    err = capsys.readouterr().err
    assert "1/1 个方案" in err and "在本进程中" in err
