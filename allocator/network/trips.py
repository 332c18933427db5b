"""Truck trips for a round's shipments: OR-Tools routing with a greedy fallback.

Each depot's shipments become *drops* (one per site, split into truck-sized
parts when bigger than the largest truck that can reach the site). Trips are
planned in waves: in each wave every vehicle makes at most one trip (OR-Tools'
routing solver with kg and m3 capacity dimensions, a time dimension bounded by
the vehicle's availability, and drop penalties by tier so that a tier-1 drop is
only left out when it cannot be carried at all); drops left over go to the next
wave, whose trips start when the vehicle is back. When OR-Tools finds no
solution in its time limit, the greedy fallback plans the wave (highest tier
first, then nearest feasible drop).

A vehicle only serves sites its permits let it reach (travel times per vehicle
class). A depot without vehicles gets one default vehicle with unlimited
capacity, available from ``at`` for 24 hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.errors import InvalidArgumentError
from allocator.network.paths import Travel, expanded, node_distances, solve

TRIP_COLUMNS = ["vehicle_id", "depot_id", "trip", "stop", "site_id", "arrival", "depart", "load_kg", "load_m3",
                "drop_kg", "drop_m3", "manifest", "trip_depart", "trip_return"]
MANIFEST_COLUMNS = ["vehicle_id", "trip", "stop", "site_id", "lot_id", "item_id", "quantity"]
SCALE = 10  # time unit of the solver: 1/10 minute


@dataclass(frozen=True)
class Trips:
    """Planned trips.

    Attributes
    ----------
    trips : DataFrame
        One row per stop (TRIP_COLUMNS): ``load_kg``/``load_m3`` are on board on
        arrival, ``drop_kg``/``drop_m3`` unloaded there, ``manifest`` a tuple of
        ``item_id=quantity``.
    manifest : DataFrame
        Lot lines per stop (MANIFEST_COLUMNS).
    unplanned : DataFrame
        Shipment lines that no vehicle can carry (``reason``).
    method : dict
        Per depot: ``ortools`` or ``greedy``.
    """

    trips: pd.DataFrame
    manifest: pd.DataFrame
    unplanned: pd.DataFrame
    method: dict


@dataclass
class _Veh:
    vid: str
    cls: frozenset
    kg: float
    m3: float
    start: float  # minutes after `at`
    end: float


@dataclass
class _Drop:
    site: str
    tier: int
    kg: float
    m3: float
    lines: list  # (lot_id, item_id, quantity)


def _drops(ship: pd.DataFrame, items: pd.DataFrame, tiers: dict[str, int], max_kg: float, max_m3: float) -> list[_Drop]:
    w = dict(zip(items.item_id, items.unit_weight_kg.fillna(1.0)))
    vol = dict(zip(items.item_id, (items.unit_volume_l.fillna(0.0) / 1000.0) if "unit_volume_l" in items else 0.0))
    out = []
    for site, g in ship.groupby("site_id", sort=True):
        cur = _Drop(site, tiers.get(site, 4), 0.0, 0.0, [])
        for r in g.itertuples():
            uk, um = float(w.get(r.item_id, 1.0)), float(vol.get(r.item_id, 0.0))
            q = int(r.quantity)
            while q > 0:
                room_k = (max_kg - cur.kg) / uk if uk > 0 else math.inf
                room_m = (max_m3 - cur.m3) / um if um > 0 else math.inf
                take = min(q, int(math.floor(min(room_k, room_m) + 1e-9)))
                if take <= 0:
                    if not cur.lines:
                        raise InvalidArgumentError(f"one unit of {r.item_id} does not fit any truck")
                    out.append(cur)
                    cur = _Drop(site, cur.tier, 0.0, 0.0, [])
                    continue
                cur.lines.append((r.lot_id, r.item_id, take))
                cur.kg += take * uk
                cur.m3 += take * um
                q -= take
        if cur.lines:
            out.append(cur)
    return out


def _class_matrix(travel: Travel, cls: frozenset, nodes: np.ndarray) -> np.ndarray:
    """Minutes between the given node indices for one vehicle class."""
    if travel.fallback:
        raise InvalidArgumentError("fallback travel has no node matrix")
    eff = travel.control.effect(cls, travel.at)
    sol = solve(travel.network, travel.control, eff, nodes)
    ex = expanded(travel.network, travel.control)
    d, _ = node_distances(ex, sol.dist, nodes)
    rows = np.array([sol.row[int(n)] for n in nodes])
    return d[rows]


def _fallback_matrix(scenario, depot: str, sites: list[str]) -> np.ndarray:
    from allocator.geo import fallback_minutes

    dp = scenario.depots.set_index("depot_id")
    st = scenario.sites.set_index("site_id")
    lat = np.r_[dp.at[depot, "lat"], st.loc[sites, "lat"].to_numpy(float)]
    lon = np.r_[dp.at[depot, "lon"], st.loc[sites, "lon"].to_numpy(float)]
    return fallback_minutes(lat[:, None], lon[:, None], lat[None, :], lon[None, :])


def plan_trips(
    scenario,
    shipments: pd.DataFrame,
    travel: Travel,
    *,
    service_min: float = 10.0,
    time_limit_s: float = 5.0,
    method: str = "ortools",
    horizon_h: float = 24.0,
) -> Trips:
    """Plan each depot's truck trips for a round's shipments.

    Parameters
    ----------
    scenario : Scenario
        Gives items (unit weight and volume), sites (tiers), vehicles and ``at``.
    shipments : DataFrame
        ``lot_id, depot_id, site_id, item_id, quantity`` (the round's allocations).
    travel : Travel
        From :func:`~allocator.network.travel_times` (per-class times are derived from it).
    service_min : float
        Unloading time at each stop.
    time_limit_s : float
        OR-Tools time limit per depot and wave.
    method : {"ortools", "greedy"}

    Returns
    -------
    Trips

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.network import travel_times
    >>> sc = examples.ring_road()
    >>> ship = pd.DataFrame({"lot_id": ["L1"], "depot_id": ["D1"], "site_id": ["H1"], "item_id": ["n95"],
    ...                      "quantity": [8000]})
    >>> plan_trips(sc, ship, travel_times(sc), time_limit_s=0.5).trips[["site_id", "load_kg"]].to_dict("records")
    [{'site_id': 'H1', 'load_kg': 80.0}]
    """
    at = travel.at if travel.at is not None else scenario.at
    tiers = {str(s): int(t) for s, t in zip(scenario.sites.site_id, scenario.sites.tier)}
    veh_df = scenario.vehicles
    default_cls = travel.control.permits() if travel.control is not None else frozenset()
    rows, man, unplanned, methods = [], [], [], {}
    for depot, ship in shipments.groupby("depot_id", sort=True):
        depot = str(depot)
        vs = []
        for r in veh_df[veh_df.depot_id == depot].itertuples():
            start = 0.0 if pd.isna(r.available_from) else max(0.0, (r.available_from - at).total_seconds() / 60)
            end = horizon_h * 60 if pd.isna(r.available_to) else (r.available_to - at).total_seconds() / 60
            cap_m3 = math.inf if pd.isna(r.capacity_m3) else float(r.capacity_m3)
            if end > start:
                vs.append(_Veh(str(r.vehicle_id), frozenset(r.permits), float(r.capacity_kg), cap_m3, start, end))
        if not len(veh_df[veh_df.depot_id == depot]):
            vs = [_Veh(f"{depot}-default", default_cls, math.inf, math.inf, 0.0, horizon_h * 60)]
        sites = sorted(set(map(str, ship.site_id)))
        # per-class matrices over depot + sites
        if travel.fallback:
            base = _fallback_matrix(scenario, depot, sites)
            mats = {v.cls: base for v in vs}
        else:
            nodes = np.array([travel.depot_nodes[depot]] + [travel.site_nodes[s] for s in sites], np.int64)
            mats = {c: _class_matrix(travel, c, nodes) for c in {v.cls for v in vs}}
        pos = {s: i + 1 for i, s in enumerate(sites)}
        can = {s: [v for v in vs if np.isfinite(mats[v.cls][0, pos[s]]) and np.isfinite(mats[v.cls][pos[s], 0])]
               for s in sites}
        todo: list[_Drop] = []
        for s, g in ship.groupby("site_id", sort=True):
            s = str(s)
            if not can[s]:
                for r in g.itertuples():
                    unplanned.append((r.lot_id, depot, s, r.item_id, int(r.quantity), "unreachable"))
                continue
            mk = max(v.kg for v in can[s])
            mm = max(v.m3 for v in can[s])
            todo.extend(_drops(g, scenario.items, tiers, mk, mm))
        free = {v.vid: v.start for v in vs}
        trip_no = {v.vid: 0 for v in vs}
        used = "greedy" if method == "greedy" else "ortools"
        every = todo
        left_over: list[_Drop] = []
        for first in (True, False):
          todo = [d for d in every if (d.tier == 1) == first] + (left_over if not first else [])
          for _wave in range(200):
              if not todo:
                  break
              avail = [v for v in vs if free[v.vid] < v.end]
              plan = None
              if method == "ortools":
                  plan = _ortools(todo, avail, free, mats, pos, service_min, time_limit_s)
                  if plan is None:
                      used = "greedy"
              if plan is None:
                  plan = _greedy(todo, avail, free, mats, pos, service_min)
              if not any(plan.values()):
                  break
              served = set()
              for v in avail:
                  seq = plan.get(v.vid) or []
                  if not seq:
                      continue
                  trip_no[v.vid] += 1
                  m = mats[v.cls]
                  t = free[v.vid]
                  depart = t
                  load_kg = sum(todo[i].kg for i in seq)
                  load_m3 = sum(todo[i].m3 for i in seq)
                  prev = 0
                  stops = []
                  for k, i in enumerate(seq, start=1):
                      d = todo[i]
                      t += m[prev, pos[d.site]]
                      arr = t
                      t += service_min
                      stops.append((v.vid, depot, trip_no[v.vid], k, d.site, arr, t, load_kg, load_m3, d.kg, d.m3,
                                    tuple(f"{it}={q}" for _, it, q in d.lines)))
                      for lot, it, q in d.lines:
                          man.append((v.vid, trip_no[v.vid], k, d.site, lot, it, q))
                      load_kg -= d.kg
                      load_m3 -= d.m3
                      prev = pos[d.site]
                      served.add(i)
                  t += m[prev, 0]
                  free[v.vid] = t
                  for st in stops:
                      rows.append((*st, depart, t))
              todo = [d for i, d in enumerate(todo) if i not in served]
          if first:
              left_over = todo
        for d in todo:
            for lot, it, q in d.lines:
                unplanned.append((lot, depot, d.site, it, q, "capacity or availability"))
        methods[depot] = used
    trips = pd.DataFrame(rows, columns=TRIP_COLUMNS)
    for c in ("arrival", "depart", "trip_depart", "trip_return"):
        trips[c] = at + pd.to_timedelta(trips[c].astype(float), unit="min")
    return Trips(
        trips=trips,
        manifest=pd.DataFrame(man, columns=MANIFEST_COLUMNS),
        unplanned=pd.DataFrame(unplanned, columns=["lot_id", "depot_id", "site_id", "item_id", "quantity", "reason"]),
        method=methods,
    )


def _fits_alone(d: _Drop, v: _Veh, m: np.ndarray, p: int, t0: float, service: float) -> bool:
    return d.kg <= v.kg + 1e-9 and d.m3 <= v.m3 + 1e-9 and t0 + m[0, p] + service + m[p, 0] <= v.end + 1e-9


def _greedy(todo, avail, free, mats, pos, service) -> dict[str, list[int]]:
    """One trip per vehicle: highest tier first, then the nearest drop that still fits."""
    left = set(range(len(todo)))
    plan: dict[str, list[int]] = {}
    for v in sorted(avail, key=lambda v: free[v.vid]):
        m = mats[v.cls]
        t, kg, m3, here, seq = free[v.vid], 0.0, 0.0, 0, []
        while True:
            best = None
            for i in left:
                d = todo[i]
                p = pos[d.site]
                if not (np.isfinite(m[here, p]) and np.isfinite(m[p, 0])):
                    continue
                if kg + d.kg > v.kg + 1e-9 or m3 + d.m3 > v.m3 + 1e-9:
                    continue
                if t + m[here, p] + service + m[p, 0] > v.end + 1e-9:
                    continue
                key = (d.tier, m[here, p])
                if best is None or key < best[0]:
                    best = (key, i)
            if best is None:
                break
            i = best[1]
            d = todo[i]
            t += m[here, pos[d.site]] + service
            kg += d.kg
            m3 += d.m3
            here = pos[d.site]
            seq.append(i)
            left.discard(i)
        plan[v.vid] = seq
    return plan


def _ortools(todo, avail, free, mats, pos, service, time_limit_s) -> dict[str, list[int]] | None:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    if not avail:
        return {}
    n = len(todo) + 1
    loc = np.array([0] + [pos[d.site] for d in todo])
    BIG = 10**9
    horizon = int(max(v.end for v in avail) * SCALE) + 1
    mgr = pywrapcp.RoutingIndexManager(n, len(avail), 0)
    routing = pywrapcp.RoutingModel(mgr)
    cbs = {}
    for c, m in mats.items():
        mm = m[np.ix_(loc, loc)]
        t = np.where(np.isfinite(mm), np.ceil(mm * SCALE), BIG).astype(np.int64)
        svc = np.r_[0, np.full(n - 1, int(round(service * SCALE)))]
        t = t + svc[:, None]  # service at the origin node
        np.fill_diagonal(t, 0)
        tl = t.tolist()

        def cb(i, j, tl=tl):
            return tl[mgr.IndexToNode(i)][mgr.IndexToNode(j)]

        cbs[c] = routing.RegisterTransitCallback(cb)
    per_vehicle = [cbs[v.cls] for v in avail]
    for k, cb_idx in enumerate(per_vehicle):
        routing.SetArcCostEvaluatorOfVehicle(cb_idx, k)
    routing.AddDimensionWithVehicleTransits(per_vehicle, 0, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    for k, v in enumerate(avail):
        time.CumulVar(routing.Start(k)).SetRange(int(math.ceil(free[v.vid] * SCALE)), horizon)
        time.CumulVar(routing.End(k)).SetRange(0, int(math.floor(v.end * SCALE)))
    for name, attr, unit in (("kg", "kg", 1000), ("m3", "m3", 1000)):
        dem = [0] + [int(math.ceil(getattr(d, attr) * unit - 1e-6)) for d in todo]

        def dcb(i, dem=dem):
            return dem[mgr.IndexToNode(i)]

        caps = [int(min(math.floor(getattr(v, attr) * unit + 1e-6), 2**62)) if math.isfinite(getattr(v, attr))
                else 2**62 for v in avail]
        routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitCallback(dcb), 0, caps, True, name)
    for i, d in enumerate(todo, start=1):
        idx = mgr.NodeToIndex(i)
        allowed = [k for k, v in enumerate(avail) if np.isfinite(mats[v.cls][0, pos[d.site]])
                   and np.isfinite(mats[v.cls][pos[d.site], 0]) and _fits_alone(d, v, mats[v.cls], pos[d.site],
                                                                               free[v.vid], service)]
        if allowed:
            routing.VehicleVar(idx).SetValues([-1, *allowed])
        else:
            routing.VehicleVar(idx).SetValues([-1])
        # tier dominates; within a tier, leaving a long drop for a later wave costs more
        # (later waves have less time left), so long drops go first
        rt = max((mats[v.cls][0, pos[d.site]] + mats[v.cls][pos[d.site], 0] for v in avail
                  if np.isfinite(mats[v.cls][0, pos[d.site]])), default=0.0)
        routing.AddDisjunction([idx], int(10 ** (10 - min(d.tier, 5))) + int(rt * SCALE * 100))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return None
    plan: dict[str, list[int]] = {}
    for k, v in enumerate(avail):
        seq = []
        i = routing.Start(k)
        while not routing.IsEnd(i):
            node = mgr.IndexToNode(i)
            if node:
                seq.append(node - 1)
            i = sol.Value(routing.NextVar(i))
        plan[v.vid] = seq
    return plan


def total_minutes(trips: pd.DataFrame) -> float:
    """Total driving-and-unloading minutes of planned trips (depart to return of each trip)."""
    if trips.empty:
        return 0.0
    t = trips.drop_duplicates(["vehicle_id", "trip"])
    return float(((t.trip_return - t.trip_depart).dt.total_seconds() / 60).sum())
