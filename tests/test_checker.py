"""The independent round checker (:mod:`allocator.testing`): it passes real rounds, it recomputes
travel on its own (cross-checked with :mod:`allocator.network`), and every one of its checks fails
when a result table is broken (mutation tests on the generated road grid)."""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator import allocate, examples, testing
from allocator.scenario import from_tables
from allocator.testing import check_round, shortage_reasons, travel_minutes

ROOT = Path(__file__).resolve().parents[1]


def test_the_checker_imports_nothing_from_the_pipeline():
    """Every import of allocator/testing.py, also inside functions, stays out of allocate, rules and network."""
    tree = ast.parse((ROOT / "allocator" / "testing.py").read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
            names += [f"{node.module}.{a.name}" for a in node.names]
    assert names, "the parser found no import at all"
    banned = ("allocator.allocate", "allocator.rules", "allocator.network")
    assert [n for n in names if n.startswith(banned) or n in ("allocator.allocate", "allocator.rules")] == []
    assert "heapq" in names


# --------------------------------------------------------------------------- travel, recomputed


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    b = b.reindex(index=a.index, columns=a.columns)
    x, y = a.to_numpy(float), b.to_numpy(float)
    return bool(np.array_equal(np.isinf(x), np.isinf(y)) and np.allclose(x[np.isfinite(x)], y[np.isfinite(y)]))


@pytest.mark.parametrize("make", [
    lambda: examples.road_grid(5, 0), lambda: examples.road_grid(6, 1), lambda: examples.road_grid(8, 2),
    examples.ring_road, examples.small_city, examples.two_hospitals,
], ids=["grid5", "grid6", "grid8", "ring_road", "small_city", "no_roads"])
def test_plain_dijkstra_agrees_with_the_network_module(make):
    """Two independent algorithms (heapq Dijkstra over (node, checkpoint run) states; SciPy over an
    expanded CSR graph) give the same minutes, unreachable pairs included."""
    from allocator.network import travel_times

    sc = make()
    mine = travel_minutes(sc)
    theirs = travel_times(sc).minutes
    assert _same(theirs, mine)


def _line(control: list[dict], vehicles: list[dict] | None = None, zone_node_lat: float = 30.0):
    """A-B-C-D-E along a line, 1 km a segment at 30 km/h (2 min); A is the depot, E the site."""
    nodes = pd.DataFrame({"node_id": list("ABCDE"), "lat": [zone_node_lat] * 5,
                          "lon": [114.00, 114.01, 114.02, 114.03, 114.04]})
    roads = pd.DataFrame({"u": list("ABCD"), "v": list("BCDE"), "length_m": [1000.0] * 4, "speed_kmh": [30.0] * 4,
                          "name": ["Bridge", "Bridge", "Lane", "Bridge"]})
    tables = {
        "items": pd.DataFrame([{"item_id": "n95", "name": "N95", "category": "respirator"}]),
        "sites": pd.DataFrame([{"site_id": "S", "name": "S", "kind": "designated_hospital", "lat": 30.0,
                                "lon": 114.04, "node_id": "E"}]),
        "depots": pd.DataFrame([{"depot_id": "D", "name": "D", "lat": 30.0, "lon": 114.0, "node_id": "A"}]),
        "stock": pd.DataFrame([{"lot_id": "L", "depot_id": "D", "item_id": "n95", "quantity": 10}]),
        "needs": pd.DataFrame([{"site_id": "S", "item_id": "n95", "quantity": 5}]),
        "road_nodes": nodes, "roads": roads,
    }
    if control:
        tables["traffic_control"] = pd.DataFrame(control)
    if vehicles:
        tables["vehicles"] = pd.DataFrame([{"capacity_kg": 1000, **v} for v in vehicles])
    return from_tables(tables, name="line", as_of=examples.AS_OF)


def _minutes(sc) -> float:
    return float(travel_minutes(sc).at["D", "S"])


_ZONE_E = [{"rule_id": "Z", "kind": "restricted_zone", "permits": "medical",
            "area_wkt": "POLYGON((114.035 29.99, 114.045 29.99, 114.045 30.01, 114.035 30.01, 114.035 29.99))"}]
_CLOSED_CD = [{"rule_id": "C", "kind": "closure", "u": "C", "v": "D", "permits": "medical"}]
_CP_LANE = [{"rule_id": "K", "kind": "checkpoint", "road": "Lane", "delay_min": 4, "permits": "supply"}]


def _veh(*permits: str) -> list[dict]:
    return [{"vehicle_id": f"V{k}", "depot_id": "D", "permits": p} for k, p in enumerate(permits)]


@pytest.mark.parametrize("control,vehicles,minutes", [
    ([], None, 8.0),
    # a checkpoint costs its delay once per pass: A-B-C is one run of Bridge, D-E a second pass
    ([{"rule_id": "K", "kind": "checkpoint", "road": "Bridge", "delay_min": 10}], None, 8.0 + 10 + 10),
    # one closed segment cuts the only road; a permit holder still passes
    (_CLOSED_CD, None, math.inf),
    (_CLOSED_CD, _veh("medical"), 8.0),
    # not in force yet, or no longer: no effect
    ([{"rule_id": "C", "kind": "closure", "road": "Lane", "start": "2020-03-01"}], None, 8.0),
    ([{"rule_id": "C", "kind": "closure", "road": "Lane", "end": "2020-02-01"}], None, 8.0),
    # a checkpoint with permits stops vehicles without them; the default vehicle holds them
    (_CP_LANE, None, 12.0),
    (_CP_LANE, _veh(""), math.inf),
    # a restricted zone around E: only its permit holders enter (the default vehicle holds zone permits)
    (_ZONE_E, None, 8.0),
    (_ZONE_E, _veh("supply"), math.inf),
    # the depot's best vehicle counts
    (_ZONE_E, _veh("", "medical"), 8.0),
], ids=["free", "checkpoint-passes", "closed", "closure-permit", "not-yet", "ended", "checkpoint-permit",
        "checkpoint-refuses", "zone-default", "zone-refuses", "best-vehicle"])
def test_travel_by_hand(control, vehicles, minutes):
    """Hand-computed minutes on a line of four 2-minute segments."""
    assert _minutes(_line(control, vehicles)) == pytest.approx(minutes)


def test_fallback_without_roads_is_great_circle_at_30_kmh():
    from allocator.geo import fallback_minutes

    sc = examples.two_hospitals()
    m = travel_minutes(sc)
    d, s = sc.depots.iloc[0], sc.sites.iloc[1]
    assert m.at["D1", "H2"] == pytest.approx(float(fallback_minutes(d.lat, d.lon, s.lat, s.lon)))


# --------------------------------------------------------------------------- real rounds pass


@pytest.mark.parametrize("n,seed", [(5, 0), (6, 0), (6, 3), (9, 1)])
def test_rounds_on_the_road_grid_pass_the_checker(n, seed):
    sc = examples.road_grid(n, seed)
    r = allocate(sc)
    assert check_round(sc, r) == []
    assert list(shortage_reasons(sc, r)) == [str(x) for x in r.fill.reason]
    # the grid exercises what it is for: a checkpoint on a shipping route, a site nobody reaches
    assert any(len(c) for c in r.routes.checkpoints)
    assert np.isinf(travel_minutes(sc).to_numpy()).any()


def test_the_road_grid_is_short_for_every_reason():
    r = allocate(examples.road_grid())
    assert set(r.fill.reason) - {""} == set(testing.REASONS)


def test_road_grid_is_seeded_and_validated():
    a, b = examples.road_grid(6, 4), examples.road_grid(6, 4)
    pd.testing.assert_frame_equal(a.stock, b.stock)
    assert not a.stock.equals(examples.road_grid(6, 5).stock)
    from allocator.errors import AllocatorError

    with pytest.raises(AllocatorError):
        examples.road_grid(3)


# --------------------------------------------------------------------------- mutations: every check can fail


@pytest.fixture(scope="module")
def grid():
    sc = examples.road_grid(6, 0)
    return sc, allocate(sc)


def _row(sc, lot: str, site: str, qty: float, need: str | None = None, travel: float | None = None) -> dict:
    s = sc.stock.set_index("lot_id").loc[lot]
    t = travel_minutes(sc)
    return {"lot_id": lot, "depot_id": s.depot_id, "site_id": site, "item_id": s.item_id,
            "need_item_id": need or s.item_id, "quantity": qty,
            "travel_min": float(t.at[s.depot_id, site]) if travel is None else travel}


def _add(r, *rows):
    return dataclasses.replace(r, allocations=pd.concat([r.allocations, pd.DataFrame(list(rows))], ignore_index=True))


def _set(r, table: str, i: int, **cells):
    df = getattr(r, table).copy()
    for k, v in cells.items():
        df[k] = df[k].astype(object)
        df.at[df.index[i], k] = v
    return dataclasses.replace(r, **{table: df})


def _first(df: pd.DataFrame, **eq) -> int:
    m = np.ones(len(df), bool)
    for k, v in eq.items():
        m &= (df[k] == v).to_numpy()
    assert m.any(), f"no row with {eq}"
    return int(np.flatnonzero(m)[0])


def _closed_route(sc, r):
    """A route row's path replaced by the faster one through closed Avenue 3 (found with C1 lifted)."""
    from allocator.network import travel_times

    open_sc = from_tables({**sc.tables, "traffic_control": sc.traffic_control[sc.traffic_control.rule_id != "C1"]},
                          name="open", as_of=examples.AS_OF)
    free = travel_times(open_sc)
    now = travel_minutes(sc)
    for i, row in enumerate(r.routes.itertuples(index=False)):
        t = float(free.minutes.at[row.depot_id, row.site_id])
        if t < float(now.at[row.depot_id, row.site_id]) - 1e-6:
            via = free.routes([(row.depot_id, row.site_id)]).iloc[0]
            return _set(r, "routes", i, path=tuple(via.path), travel_min=t, checkpoints=tuple(via.checkpoints))
    raise AssertionError("no route of the grid gets faster when Avenue 3 opens")


def _lower_travel(r):
    i = 0
    return _set(r, "routes", i, travel_min=float(r.routes.travel_min.iloc[i]) - 1.0)


def _short_reason(r, reason: str):
    i = _first(r.fill, reason=reason)
    other = "supply" if reason != "supply" else "capacity"
    return _set(r, "fill", i, reason=other)


def _to_lower_tier(r, k: int = 50):
    """Move k respirators of lot L1 from tier-1 H1 to tier-4 C1, with fill.csv kept consistent."""
    a = r.allocations.copy()
    i = _first(a, site_id="H1", lot_id="L1", need_item_id="n95")
    a.at[a.index[i], "quantity"] -= k
    a = pd.concat([a, a.iloc[[i]].assign(site_id="C1", quantity=k, travel_min=float(travel_minutes(
        examples.road_grid(6, 0)).at["D1", "C1"]))], ignore_index=True)
    f = r.fill.copy().astype({"filled": float, "shortage": float})
    for site, d in (("H1", -k), ("C1", k)):
        j = f.index[_first(f, site_id=site, item_id="n95")]
        f.loc[j, "filled"] += d
        f.loc[j, "shortage"] -= d
    return dataclasses.replace(r, allocations=a, fill=f)


MUTATIONS: dict[str, tuple[str, Callable]] = {
    "integers": ("integers", lambda sc, r: _set(r, "allocations", 0, quantity=float(r.allocations.quantity.iloc[0]) - 0.5)),
    "stock_over": ("stock", lambda sc, r: _add(r, _row(sc, "L5", "B1", 10_000))),
    "stock_quarantined": ("stock", lambda sc, r: _add(r, _row(sc, "L6", "H2", 1))),
    "stock_expired": ("stock", lambda sc, r: _add(r, _row(sc, "L7", "F1", 1))),
    "stock_wrong_depot": ("stock", lambda sc, r: _set(r, "allocations", 0, depot_id="D3")),
    "substitution": ("substitution", lambda sc, r: _add(r, _row(sc, "L4", "C1", 1, need="n95"))),
    "grade": ("grade", lambda sc, r: _add(r, _row(sc, "L4", "H1", 1, need="mask_civil"))),
    "earmark": ("earmark", lambda sc, r: _set(r, "allocations", _first(r.allocations, lot_id="L3"), site_id="E1")),
    "reachability": ("reachability", lambda sc, r: _add(r, _row(sc, "L2", "Q1", 1, travel=1.0))),
    "travel": ("travel", lambda sc, r: _set(r, "allocations", 0, travel_min=float(r.allocations.travel_min.iloc[0]) / 2)),
    "route_minutes": ("route", lambda sc, r: _lower_travel(r)),
    "route_closed_road": ("route", _closed_route),
    "route_missing": ("route", lambda sc, r: dataclasses.replace(r, routes=r.routes.iloc[1:].reset_index(drop=True))),
    "route_endpoints": ("route", lambda sc, r: _set(r, "routes", 0, path=tuple(r.routes.path.iloc[0])[::-1])),
    "route_checkpoints": ("route", lambda sc, r: _set(r, "routes", _first(r.routes.assign(n=r.routes.checkpoints.map(len)), n=1), checkpoints=())),
    "route_distance": ("route", lambda sc, r: _set(r, "routes", 0, distance_km=float(r.routes.distance_km.iloc[0]) + 0.4)),
    "need": ("need", lambda sc, r: _add(r, _row(sc, "L9", "H1", 500, need="mask_med"))),
    "capacity": ("capacity", lambda sc, r: _add(r, _row(sc, "L10", "H1", 100))),
    "exclusion": ("exclusion", lambda sc, r: dataclasses.replace(r, summary={**r.summary, "excluded": ["D2"]})),
    "lock": ("lock", lambda sc, r: dataclasses.replace(r, summary={**r.summary, "locks": [
        {"depot_id": "D2", "site_id": "B1", "item_id": "n95", "quantity": 7}]})),
    "fill": ("fill", lambda sc, r: _set(r, "fill", 0, filled=float(r.fill.filled.iloc[0]) - 1)),
    "fill_need": ("fill", lambda sc, r: _set(r, "fill", _first(r.fill, site_id="H1", item_id="n95"),
                                             need=10_000, shortage=10_000 - float(r.fill.filled.iloc[_first(r.fill, site_id="H1", item_id="n95")]))),
    "reason_capacity": ("reason", lambda sc, r: _short_reason(r, "capacity")),
    "reason_unreachable": ("reason", lambda sc, r: _short_reason(r, "unreachable")),
    "reason_earmarked": ("reason", lambda sc, r: _short_reason(r, "earmarked")),
    "reason_grade": ("reason", lambda sc, r: _short_reason(r, "grade")),
    "reason_supply": ("reason", lambda sc, r: _short_reason(r, "supply")),
    "donation": ("donation", lambda sc, r: dataclasses.replace(r, donation_usage=r.donation_usage.iloc[1:])),
    "tier": ("tier", lambda sc, r: _to_lower_tier(r)),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_broken_result_table_is_reported(grid, name):
    sc, r = grid
    assert check_round(sc, r) == []
    prefix, mutate = MUTATIONS[name]
    problems = check_round(sc, mutate(sc, r))
    assert any(p.startswith(prefix + ":") for p in problems), problems


def test_a_route_through_a_closed_road_names_the_closed_road(grid):
    sc, r = grid
    problems = check_round(sc, _closed_route(sc, r))
    assert any(p.startswith("route:") and "closed to it" in p for p in problems), problems


def test_own_item_and_fairness_mutations():
    sc = examples.own_item_first()
    r = allocate(sc)
    assert check_round(sc, r) == []
    a = r.allocations.copy()
    # book N95s against the masks while the N95 need is short
    own = _first(a, item_id="n95", need_item_id="n95")
    a.at[a.index[own], "quantity"] -= 100
    bad = pd.concat([a, a.iloc[[own]].assign(need_item_id="mask", quantity=100)], ignore_index=True)
    fill = r.fill.copy()
    problems = check_round(sc, dataclasses.replace(r, allocations=bad, fill=fill))
    assert any(p.startswith("own item:") for p in problems), problems

    sc = examples.two_hospitals()
    r = allocate(sc)
    a = r.allocations.copy()
    i, j = _first(a, site_id="H1"), _first(a, site_id="H2")
    a.at[a.index[i], "quantity"] += 200
    a.at[a.index[j], "quantity"] -= 200
    f = r.fill.set_index("site_id")
    f.loc["H1", ["filled", "shortage"]] = [700, 100]
    f.loc["H2", ["filled", "shortage"]] = [300, 500]
    f["fill_ratio"] = f.filled / f.need
    problems = check_round(sc, dataclasses.replace(r, allocations=a, fill=f.reset_index()))
    assert any(p.startswith("fairness:") for p in problems), problems


def test_every_check_in_the_docstring_has_a_mutation_that_trips_it():
    """The module docstring lists each check in bold; each is exercised by a mutation above."""
    listed = set(re.findall(r"^- \*\*([a-z ]+)\*\*", testing.__doc__ or "", re.M))
    listed |= set(re.findall(r" and \*\*([a-z ]+)\*\*", testing.__doc__ or ""))
    assert {"stock", "reason", "route", "fairness", "own item"} <= listed
    covered = {p for p, _ in MUTATIONS.values()} | {"own item", "fairness"}
    assert listed - covered == set()


def test_a_whole_pack_that_takes_from_a_higher_tier_is_reported():
    """Gloves in boxes of 100, 260 in stock: Q1 (tier 3, needs 130) rounded up to 200 while
    H1 (tier 1, needs 250) gets 60 breaks rule 2's pack exception."""
    sc = examples.packs(260)
    r = allocate(sc)
    assert check_round(sc, r) == []
    a = r.allocations.copy()
    a.loc[a.site_id == "H1", "quantity"] = 60
    a.loc[a.site_id == "Q1", "quantity"] = 200
    f = r.fill.set_index("site_id")
    f.loc["H1", ["filled", "shortage", "fill_ratio"]] = [60, 190, 0.24]
    f.loc["Q1", ["filled", "shortage", "fill_ratio", "reason"]] = [130, 0, 1.0, ""]
    f.loc["H1", "reason"] = "supply"
    problems = check_round(sc, dataclasses.replace(r, allocations=a, fill=f.reset_index()))
    assert any(p.startswith("need: Q1 is rounded up to a whole pack") for p in problems), problems


def test_fallback_routes_are_checked_without_roads():
    sc = examples.two_hospitals()
    r = allocate(sc)
    assert check_round(sc, r) == []
    problems = check_round(sc, _set(r, "routes", 0, distance_km=float(r.routes.distance_km.iloc[0]) * 2))
    assert any(p.startswith("route:") and "great-circle" in p for p in problems), problems
    problems = check_round(sc, _set(r, "routes", 0, travel_min=float(r.routes.travel_min.iloc[0]) + 1))
    assert any(p.startswith("route:") for p in problems), problems


# --------------------------------------------------------------------------- random traffic control


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def controlled_grids(draw):
    """The road grid with random extra closures, checkpoints, zones, time windows and vehicles."""
    n = draw(st.integers(5, 7))
    sc = examples.road_grid(n, draw(st.integers(0, 50)))
    roads = [f"Street {r}" for r in range(n)] + [f"Avenue {c}" for c in range(n)]
    permits = st.sampled_from(["", "medical", "supply", "medical;supply"])
    window = st.sampled_from([{}, {"start": "2020-02-20"}, {"end": "2020-02-01"}, {"start": "2020-02-01"}])
    rules = []
    for k in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["closure", "checkpoint", "restricted_zone"]))
        rule = {"rule_id": f"X{k}", "kind": kind, "permits": draw(permits), **draw(window)}
        if kind == "restricted_zone":
            r, c = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            la, lo = 30.50 + r * 0.0045, 114.30 + c * 0.0052
            w = draw(st.sampled_from([0.002, 0.006]))
            rule["area_wkt"] = (f"POLYGON(({lo - w} {la - w}, {lo + w} {la - w}, {lo + w} {la + w}, "
                                f"{lo - w} {la + w}, {lo - w} {la - w}))")
        elif draw(st.booleans()):
            rule["road"] = draw(st.sampled_from(roads))
        else:
            r, c = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 2))
            rule["u"], rule["v"] = f"G{r}_{c}", f"G{r}_{c + 1}"
        if kind == "checkpoint":
            rule["delay_min"] = draw(st.sampled_from([0, 2, 7.5]))
        rules.append(rule)
    tc = pd.concat([sc.traffic_control, pd.DataFrame(rules)], ignore_index=True) if rules else sc.traffic_control
    vehicles = sc.vehicles
    if draw(st.booleans()):
        vehicles = vehicles.assign(permits=[tuple(p for p in draw(permits).split(";") if p)
                                            for _ in range(len(vehicles))])
    return from_tables({**sc.tables, "traffic_control": tc, "vehicles": vehicles}, name="random-control",
                       as_of=examples.AS_OF)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(controlled_grids())
def test_plain_dijkstra_agrees_under_random_traffic_control(sc):
    from allocator.network import travel_times

    assert _same(travel_times(sc).minutes, travel_minutes(sc))


@pytest.mark.slow
def test_the_demo_round_passes_and_its_travel_agrees():
    """The Wuhan demo scenario (3,000 road nodes, real traffic control): the round passes the checker
    and the plain Dijkstra gives the network module's minutes."""
    from allocator.network import travel_times
    from allocator.scenario import load

    sc = load(ROOT / "data" / "scenarios" / "wuhan-2020-02-10")
    assert _same(travel_times(sc).minutes, travel_minutes(sc))
    assert check_round(sc, allocate(sc)) == []
