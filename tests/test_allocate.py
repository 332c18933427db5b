"""Allocation rounds: every rule on small hand-checkable scenarios; the checker after every solve."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from allocator import Lock, allocate, examples
from allocator.allocate.prepare import travel_for
from allocator.errors import AllocatorError, InfeasibleError, ScenarioError, SolverError
from allocator.scenario import from_tables
from allocator.testing import check_round


def run(sc, **kw):
    """Allocate and assert that the independent checker finds nothing wrong."""
    r = allocate(sc, **kw)
    problems = check_round(sc, r, kw.get("travel"))
    assert problems == [], problems
    return r


def filled(r) -> dict:
    return {(s, i): f for s, i, f in zip(r.fill.site_id, r.fill.item_id, r.fill.filled)}


def test_three_tiers_treatment_first():
    r = run(examples.three_tiers())
    f = r.fill.set_index("site_id")
    assert f.filled.to_dict() == {"DH": 800, "BH": 200, "CM": 0}
    assert f.loc["CM", "reason"] == "supply" and f.loc["DH", "reason"] == ""
    assert r.allocations.quantity.sum() == 1000


def test_two_equal_hospitals_share_equally():
    r = run(examples.two_hospitals())
    f = r.fill.set_index("site_id").filled
    assert f["H1"] == f["H2"] == 500


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_both_solvers_agree(solver):
    r = run(examples.grades_and_earmarks(), solver=solver)
    ref = allocate(examples.grades_and_earmarks())
    assert filled(r) == filled(ref)
    assert r.summary["solver"] == solver


def test_unknown_solver():
    with pytest.raises(SolverError, match="unknown solver"):
        allocate(examples.two_hospitals(), solver="gurobi")


def test_odd_supply_rounds_to_whole_units_fairly():
    r = run(examples.two_hospitals(supply=1001))
    f = r.fill.set_index("site_id").filled
    assert sorted(f.tolist()) == [500, 501]
    assert r.allocations.quantity.dtype == np.int64


def test_civil_suit_goes_to_quarantine_never_to_hospital():
    sc = examples.grades_and_earmarks()
    r = run(sc)
    civil = r.allocations[r.allocations.item_id == "suit_civil"]
    assert set(civil.site_id) == {"Q1"}
    clinical = set(sc.sites[sc.sites.clinical].site_id)
    assert not (set(civil.site_id) & clinical)
    f = r.fill.set_index(["site_id", "item_id"])
    assert f.loc[("H1", "suit"), "reason"] == "grade"


def test_earmarked_lot_stays_with_its_site_while_higher_tier_short():
    r = run(examples.earmark_vs_tier())
    a = r.allocations
    assert set(a[a.lot_id == "L_DON"].site_id) == {"Q1"}
    f = r.fill.set_index("site_id")
    assert f.loc["H1", "filled"] == 300 and f.loc["H1", "reason"] == "earmarked"
    assert f.loc["Q1", "filled"] == 200
    assert r.donation_usage.to_dict("records") == [
        {"donation_id": "DON_Q", "donor": "Residents' committee", "lot_id": "L_DON", "item_id": "suit",
         "site_id": "Q1", "quantity": 200}]


def test_earmark_by_site_in_grades_example():
    r = run(examples.grades_and_earmarks())
    a = r.allocations
    assert set(a[a.lot_id == "L_MASK"].site_id) == {"H2"}
    f = r.fill.set_index(["site_id", "item_id"])
    assert f.loc[("H1", "mask"), "reason"] == "earmarked"
    # substitution is one-way: n95 covers masks, masks never cover an n95 need
    assert set(a[a.item_id == "n95"].need_item_id) == {"mask"}


def test_expired_lot_ships_nothing():
    r = run(examples.grades_and_earmarks())
    assert "L_EXP" not in set(r.allocations.lot_id)
    f = r.fill.set_index(["site_id", "item_id"])
    assert f.loc[("H1", "kit"), "filled"] == 0
    assert f.loc[("H1", "kit"), "reason"] == "supply"
    assert any("L_EXP" in w for w in r.summary["warnings"])


def test_unreachable_site():
    sc = examples.two_hospitals()
    travel = travel_for(sc, None).minutes
    travel.loc["D1", "H2"] = math.inf
    r = run(sc, travel=travel)
    f = r.fill.set_index("site_id")
    assert f.loc["H2", "filled"] == 0 and f.loc["H2", "reason"] == "unreachable"
    assert f.loc["H1", "filled"] == 800
    assert "H2" not in set(r.routes.site_id)
    # a given travel matrix means no fallback warning
    assert not any("great-circle" in w for w in r.summary["warnings"])


def test_fallback_travel_warns_and_routes_have_fallback_minutes():
    sc = examples.three_tiers()
    r = run(sc)
    assert any("great-circle" in w for w in r.summary["warnings"])
    m = travel_for(sc, None).minutes
    for row in r.routes.itertuples():
        assert row.travel_min == pytest.approx(m.at[row.depot_id, row.site_id])
        assert row.checkpoints == () and row.path == ()


def test_capacity_reason():
    r = run(examples.capacity_limited())
    f = r.fill.set_index("site_id")
    assert f.loc["H1", "filled"] == 300 and f.loc["H1", "reason"] == "capacity"


def test_whole_packs():
    r = run(examples.packs(500))
    q = r.allocations.set_index("site_id").quantity
    assert q.to_dict() == {"H1": 300, "Q1": 200}
    r = run(examples.packs(400))  # 20 left: not enough to round anyone up
    q = r.allocations.set_index("site_id").quantity
    assert q.to_dict() == {"H1": 250, "Q1": 130}


def test_pack_rounding_never_takes_from_higher_tier():
    # 260 boxes-worth: H1 (tier 1) 250 then Q1 (tier 3) 10; Q1 may not round up to 100
    r = run(examples.packs(260))
    q = r.allocations.set_index("site_id").quantity.to_dict()
    assert q == {"H1": 250, "Q1": 10}


def test_fefo_and_lot_assignment():
    r = run(examples.fefo())
    a = r.allocations.set_index("lot_id").quantity.to_dict()
    assert a == {"L_SOON": 200, "L_LATE": 100}


def test_locks_kept():
    r = run(examples.two_hospitals(), locks=[("D1", "H1", "n95", 700)])
    f = r.fill.set_index("site_id").filled
    assert f["H1"] == 700 and f["H2"] == 300
    r = run(examples.two_hospitals(), locks=[Lock("D1", "H2", "n95", 0)])
    assert r.fill.set_index("site_id").filled.to_dict() == {"H1": 800, "H2": 0}


@pytest.mark.parametrize(
    "sc, lock, rule",
    [
        (examples.two_hospitals(), ("D1", "H1", "n95", 900), "need rule"),
        (examples.two_hospitals(supply=300), ("D1", "H1", "n95", 500), "stock rule"),
        (examples.grades_and_earmarks(), ("D1", "H1", "suit_civil", 10), "grade rule"),
        (examples.grades_and_earmarks(), ("D1", "H1", "mask", 10), "earmark rule"),
        (examples.capacity_limited(), ("D1", "H1", "n95", 400), "capacity rule"),
    ],
)
def test_impossible_lock_is_named(sc, lock, rule):
    with pytest.raises(InfeasibleError) as e:
        allocate(sc, locks=[lock])
    msg = str(e.value)
    assert f"lock[depot={lock[0]},site={lock[1]},item={lock[2]},quantity={lock[3]}]" in msg
    assert rule in msg


def test_lock_to_unreachable_site():
    sc = examples.two_hospitals()
    travel = travel_for(sc, None).minutes
    travel.loc["D1", "H2"] = math.inf
    with pytest.raises(InfeasibleError, match="reachability rule"):
        allocate(sc, travel=travel, locks=[("D1", "H2", "n95", 10)])


def test_locks_that_only_fail_together():
    sc = examples.capacity_limited(capacity_kg=1e9)
    sc2 = sc.replace(sites=pd.concat([sc.sites, sc.sites.assign(site_id="H2", name="H2"),
                                      sc.sites.assign(site_id="H3", name="H3")], ignore_index=True),
                     needs=pd.concat([sc.needs, sc.needs.assign(site_id="H2"), sc.needs.assign(site_id="H3")],
                                     ignore_index=True))
    sc2 = from_tables(sc2.tables, name="x", as_of=examples.AS_OF)
    # each lock fits the stock of 2,000 alone; the stock check adds locks on one depot up
    with pytest.raises(InfeasibleError, match="stock rule"):
        allocate(sc2, locks=[("D1", "H1", "n95", 800), ("D1", "H2", "n95", 800),
                             ("D1", "H3", "n95", 500)])


def test_exclusions():
    r = run(examples.two_hospitals(), exclude=["H2"])
    assert set(r.fill.site_id) == {"H1"} and r.fill.filled.iloc[0] == 800
    r = run(examples.two_hospitals(), exclude=["D1"])
    assert r.allocations.empty and set(r.fill.reason) == {"supply"}
    with pytest.raises(AllocatorError, match="no site or depot"):
        allocate(examples.two_hospitals(), exclude=["NOPE"])


def test_progress_and_summary():
    calls = []
    r = run(examples.grades_and_earmarks(), progress=lambda p, f: calls.append((p, f)))
    assert [p for p, _ in calls][0] == "validate" and calls[-1] == ("explain", 1.0)
    fr = [f for _, f in calls]
    assert fr == sorted(fr)
    s = r.summary
    assert s["status"] == "optimal"
    assert {"validate", "build", "solve", "extract", "explain"} <= set(s["seconds"])
    assert s["counts"] == {"sites": 3, "depots": 1, "lots": 5, "needs": 5, "usable_lots": 4, "allocations": 4}
    assert "tier[1]" in s["objectives"] and "transport" in s["objectives"]
    assert "H1" in r.text and "earmarked" in r.text and "N95 respirator (n95) shipped for Surgical mask (mask)" in r.text


def test_invalid_scenario_raises_every_problem():
    sc = examples.two_hospitals()
    bad = sc.replace(needs=pd.DataFrame({"site_id": ["H1", "NOPE"], "item_id": ["n95", "n95"], "quantity": [-1, 5]}))
    with pytest.raises(ScenarioError) as e:
        allocate(bad)
    assert len(e.value.report.errors) >= 2


def test_no_needs_table_runs_on_estimated_needs():
    """Without needs.csv the round runs on the needs estimated from the sites (here none: no beds given)."""
    sc = examples.two_hospitals().replace(needs=None)
    r = run(sc)
    assert r.status == "optimal"
    assert r.allocations.empty and r.fill.empty  # nothing to estimate from, so nothing is shipped


def test_rounding_keeps_higher_tier_totals():
    # a substitute at ratio 3 makes the LP fractional; whole units must not move a unit down a tier
    sc = from_tables({
        "items": pd.DataFrame([
            {"item_id": "x", "name": "x", "category": "other"},
            {"item_id": "y", "name": "y", "category": "other"},
        ]),
        "sites": pd.DataFrame([
            {"site_id": "A", "name": "A", "kind": "designated_hospital", "lat": 30.6, "lon": 114.3},
            {"site_id": "B", "name": "B", "kind": "designated_hospital", "lat": 30.61, "lon": 114.3},
            {"site_id": "C", "name": "C", "kind": "community", "lat": 30.62, "lon": 114.3},
        ]),
        "depots": pd.DataFrame([{"depot_id": "D", "name": "D", "lat": 30.5, "lon": 114.2}]),
        "stock": pd.DataFrame([{"lot_id": "L", "depot_id": "D", "item_id": "y", "quantity": 31}]),
        "needs": pd.DataFrame([
            {"site_id": "A", "item_id": "x", "quantity": 7},
            {"site_id": "B", "item_id": "x", "quantity": 5},
            {"site_id": "C", "item_id": "x", "quantity": 4},
        ]),
        "substitutes": pd.DataFrame([{"item_id": "x", "substitute_id": "y", "ratio": 3}]),
    }, name="ratio", as_of=examples.AS_OF)
    r = run(sc)
    lp_tier1 = r.summary["objectives"]["tier[1]"]
    f = r.fill
    tier1 = f[f.tier == 1].filled.sum()
    assert lp_tier1 == pytest.approx(31 / 3, abs=1e-5)
    assert tier1 >= lp_tier1 - 1 / 3 - 1e-9  # at most the fraction of one unit of y is lost
    assert f[f.tier == 4].filled.sum() == 0
    assert r.allocations.quantity.sum() <= 31


def _transport_case(seed: int):
    rng = np.random.default_rng(seed)
    nd, ns = 3, 6
    depots = pd.DataFrame({"depot_id": [f"D{i}" for i in range(nd)], "name": "d",
                           "lat": rng.uniform(30.4, 30.7, nd), "lon": rng.uniform(114.1, 114.4, nd)})
    sites = pd.DataFrame({"site_id": [f"S{i}" for i in range(ns)], "name": "s", "kind": "designated_hospital",
                          "lat": rng.uniform(30.4, 30.7, ns), "lon": rng.uniform(114.1, 114.4, ns)})
    need = rng.integers(10, 100, ns)
    supply = rng.integers(need.sum() // nd + 10, need.sum(), nd)
    travel = pd.DataFrame(rng.integers(5, 60, (nd, ns)).astype(float), index=depots.depot_id, columns=sites.site_id)
    sc = from_tables({
        "items": pd.DataFrame([{"item_id": "m", "name": "mask", "category": "mask", "unit_weight_kg": 1.0}]),
        "sites": sites, "depots": depots,
        "stock": pd.DataFrame({"lot_id": [f"L{i}" for i in range(nd)], "depot_id": depots.depot_id,
                               "item_id": "m", "quantity": supply}),
        "needs": pd.DataFrame({"site_id": sites.site_id, "item_id": "m", "quantity": need}),
    }, name=f"transport-{seed}", as_of=examples.AS_OF)
    return sc, travel, need, supply


@pytest.mark.parametrize("seed", range(5))
def test_pure_transport_cost_equals_min_cost_flow(seed):
    sc, travel, need, supply = _transport_case(seed)
    r = run(sc, travel=travel)
    assert (r.fill.shortage == 0).all()
    cost = float((r.allocations.quantity * r.allocations.travel_min).sum())
    g = nx.DiGraph()
    for d, s in zip(travel.index, supply):
        g.add_node(d, demand=-int(s))
        g.add_edge(d, "spare", weight=0)
    for s, q in zip(travel.columns, need):
        g.add_node(s, demand=int(q))
    g.add_node("spare", demand=int(supply.sum() - need.sum()))
    for d in travel.index:
        for s in travel.columns:
            g.add_edge(d, s, weight=int(travel.at[d, s]))
    assert cost == pytest.approx(nx.min_cost_flow_cost(g))
    # the LP's own optimum differs only by the documented hold tolerance (a fraction of a unit)
    assert r.summary["objectives"]["transport"] == pytest.approx(cost, abs=float(travel.max().max()))


def test_independent_items_are_separate_components():
    r = run(examples.grades_and_earmarks())
    # {mask, n95}, {suit, suit_civil}: kit has no usable stock and no variables
    assert r.summary["model"]["components"] == 2


def test_write_is_complete(tmp_path):
    r = run(examples.grades_and_earmarks())
    out = r.write(tmp_path / "out")
    names = {p.name for p in out.iterdir()}
    assert {"allocations.csv", "fill.csv", "routes.csv", "donation_usage.csv", "summary.json"} <= names
    a = pd.read_csv(out / "allocations.csv", dtype={"lot_id": str})
    assert list(a.columns) == ["lot_id", "depot_id", "site_id", "item_id", "need_item_id", "quantity", "travel_min"]
    f = pd.read_csv(out / "fill.csv", keep_default_na=False)
    assert list(f.columns) == ["site_id", "tier", "item_id", "need", "filled", "shortage", "fill_ratio", "reason"]
    assert (f.need - f.filled == f.shortage).all()
    rt = pd.read_csv(out / "routes.csv")
    assert list(rt.columns) == ["depot_id", "site_id", "travel_min", "distance_km", "checkpoints", "path"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
