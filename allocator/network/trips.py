"""Truck trips for a round's shipments: OR-Tools routing from a savings start, stopped when it stops improving.

Each depot's shipments become *drops* (one per site, split into truck-sized
parts when bigger than the largest truck that can reach the site). Trips are
planned in waves: in each wave every vehicle makes at most one trip (OR-Tools'
routing solver with kg and m3 capacity dimensions, a time dimension bounded by
the vehicle's availability, and drop penalties by tier so that a tier-1 drop is
only left out when it cannot be carried at all); drops left over go to the next
wave, whose trips start when the vehicle is back. When OR-Tools finds no
solution in its time limit, the greedy fallback plans the wave (highest tier
first, then nearest feasible drop).

Speed. The routing model reads its travel times and loads from registered
matrices and vectors (no Python callback in the search); the first solution is
Clarke-Wright savings; guided local search then runs until it has not improved
for ``patience_s`` seconds (at most ``time_limit_s``). Then a local search over
all of a depot's trips together (:func:`_improve`: relocate, swap, 2-opt*,
2-opt, across waves) runs to a local optimum; it finds what the wave-by-wave
search cannot (a drop moved from a second-wave trip into a first-wave one).
``progress`` receives a code and parameters at each depot, each improvement of
a wave, each wave planned and after the local search (codes
``trips.progress.*`` of the catalogue, ``allocator/locale/*/trips.toml``).

Outputs. Times are whole seconds, manifests ``item=quantity;item=quantity``
(one entry per item of a drop, integer quantities), and :func:`trip_sheets`
gives the files ``routes`` and ``rounds dispatch`` write, with the database's
trip number beside each stop when the trips were dispatched.

A vehicle only serves sites its permits let it reach (travel times per vehicle
class). A depot without vehicles gets one default vehicle with unlimited
capacity, available from ``at`` for 24 hours.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from allocator import rules
from allocator.errors import NetworkError
from allocator.network.paths import Travel, expanded, node_distances, solve

#: ``progress(code, params)``: a catalogue code (``trips.progress.*``) and its parameters.
Progress = Callable[[str, dict[str, Any]], None]

TRIP_COLUMNS = ["vehicle_id", "depot_id", "trip", "stop", "site_id", "arrival", "depart", "load_kg", "load_m3",
                "drop_kg", "drop_m3", "manifest", "trip_depart", "trip_return"]
MANIFEST_COLUMNS = ["vehicle_id", "trip", "stop", "site_id", "lot_id", "item_id", "quantity"]
SCALE = 10  # time unit of the solver: 1/10 minute
#: A wave's search stops once it has not improved for this many seconds: the local search over
#: all of a depot's trips that follows (:func:`_improve`) gains more than a longer wave search
#: (bench/trips.py: 200 drops, 20 trucks).
PATIENCE_S = 0.1


@dataclass(frozen=True)
class Trips:
    """Planned trips.

    Attributes
    ----------
    trips : DataFrame
        One row per stop (TRIP_COLUMNS): ``load_kg``/``load_m3`` are on board on
        arrival, ``drop_kg``/``drop_m3`` unloaded there, ``manifest`` the text
        ``item_id=quantity;item_id=quantity`` (one entry per item, sorted). Times
        are whole seconds.
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
    stats: dict = field(default_factory=dict)

    @property
    def truck_minutes(self) -> float:
        """Total minutes from departure to return over every truck trip."""
        return total_minutes(self.trips)

    @property
    def n_trips(self) -> int:
        """Number of truck trips (a truck leaving the depot and coming back)."""
        return 0 if self.trips.empty else len(self.trips.drop_duplicates(["vehicle_id", "trip"]))


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
    w = dict(zip(items.item_id, rules.unit_weight(items)))
    litres = items.unit_volume_l.fillna(0.0) if "unit_volume_l" in items else pd.Series(0.0, index=items.index)
    vol = dict(zip(items.item_id, litres / 1000.0))
    out = []
    for key, g in ship.groupby("site_id", sort=True):
        site = str(key)
        cur = _Drop(site, tiers.get(site, 4), 0.0, 0.0, [])
        for r in g.itertuples():
            uk, um = float(w.get(r.item_id, 1.0)), float(vol.get(r.item_id, 0.0))
            q = int(cast(int, r.quantity))
            while q > 0:
                room_k = (max_kg - cur.kg) / uk if uk > 0 else math.inf
                room_m = (max_m3 - cur.m3) / um if um > 0 else math.inf
                take = min(q, int(math.floor(min(room_k, room_m) + 1e-9)))
                if take <= 0:
                    if not cur.lines:
                        raise NetworkError(f"one unit of {r.item_id} does not fit any truck")
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
        raise NetworkError("fallback travel has no node matrix")
    assert travel.network is not None and travel.control is not None  # not the fallback
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
    patience_s: float | None = PATIENCE_S,
    progress: Progress | None = None,
    improve: bool = True,
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
        Longest OR-Tools search per depot and wave.
    method : {"ortools", "greedy"}
    patience_s : float or None
        Stop a wave's search once it has not improved for this many seconds
        (None: search until ``time_limit_s``).
    progress : callable, optional
        ``progress(code, params)`` at each depot (``trips.progress.depot``), each
        improvement found (``trips.progress.improved``), each wave planned
        (``trips.progress.wave``), after the local search over a depot's trips
        (``trips.progress.improve``) and at the end (``trips.progress.done``).
    improve : bool
        After the waves, improve all of a depot's trips together with
        :func:`_improve` (moves between trips of different waves, which the
        wave-by-wave search cannot make); at most ``time_limit_s`` per depot.

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
    >>> plan_trips(sc, ship, travel_times(sc), time_limit_s=0.5).trips[["site_id", "load_kg", "manifest"]].to_dict(
    ...     "records")
    [{'site_id': 'H1', 'load_kg': 80.0, 'manifest': 'n95=8000'}]
    """
    if method not in ("ortools", "greedy"):
        raise NetworkError(f"trip planning method must be ortools or greedy (got {method!r})")
    t_start = _time.perf_counter()
    say = progress or (lambda code, params: None)
    at = travel.at if travel.at is not None else scenario.at
    tiers = {str(s): int(t) for s, t in zip(scenario.sites.site_id, scenario.sites.tier)}
    veh_df = scenario.vehicles
    default_cls = travel.control.permits() if travel.control is not None else frozenset()
    rows, man, unplanned, methods = [], [], [], {}
    stats: dict[str, Any] = {"waves": 0, "solutions": 0, "search_s": 0.0}
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
        for key, g in ship.groupby("site_id", sort=True):
            s = str(key)
            if not can[s]:
                for r in g.itertuples():
                    unplanned.append((r.lot_id, depot, s, r.item_id, int(cast(int, r.quantity)), "unreachable"))
                continue
            mk = max(v.kg for v in can[s])
            mm = max(v.m3 for v in can[s])
            todo.extend(_drops(g, scenario.items, tiers, mk, mm))
        say("trips.progress.depot", {"depot": depot, "drops": len(todo), "vehicles": len(vs)})
        free = {v.vid: v.start for v in vs}
        runs: list[list] = []  # [vehicle, drops, tier-1 pass] per truck trip, in the order planned
        used = "greedy" if method == "greedy" else "ortools"
        every = todo
        left_over: list[_Drop] = []
        wave = 0
        for first in (True, False):
            todo = [d for d in every if (d.tier == 1) == first] + (left_over if not first else [])
            for _wave in range(200):
                if not todo:
                    break
                wave += 1
                t_wave = _time.perf_counter()
                avail = [v for v in vs if free[v.vid] < v.end]
                plan = None
                how = "greedy"
                if method == "ortools":
                    def improved(p: dict[str, Any], depot: str = depot, wave: int = wave) -> None:
                        say("trips.progress.improved", {"depot": depot, "wave": wave, **p})

                    plan, info = _ortools(todo, avail, free, mats, pos, service_min, time_limit_s, patience_s,
                                          improved)
                    stats["solutions"] += info.get("solutions", 0)
                    stats["search_s"] += info.get("search_s", 0.0)
                    if plan is None:
                        used = "greedy"
                    else:
                        how = "ortools"
                if plan is None:
                    plan = _greedy(todo, avail, free, mats, pos, service_min)
                if not any(plan.values()):
                    break
                stats["waves"] += 1
                served = set()
                wave_min, wave_trips = 0.0, 0
                for v in avail:
                    seq = plan.get(v.vid) or []
                    if not seq:
                        continue
                    wave_trips += 1
                    m = mats[v.cls]
                    t = free[v.vid]
                    prev = 0
                    for i in seq:
                        t += m[prev, pos[todo[i].site]] + service_min
                        prev = pos[todo[i].site]
                        served.add(i)
                    t += m[prev, 0]
                    wave_min += t - free[v.vid]
                    free[v.vid] = t
                    runs.append([v, [todo[i] for i in seq], first])
                todo = [d for i, d in enumerate(todo) if i not in served]
                say("trips.progress.wave", {"depot": depot, "wave": wave, "trips": wave_trips, "stops": len(served),
                                            "minutes": round(wave_min), "left": len(todo), "method": how,
                                            "seconds": round(_time.perf_counter() - t_wave, 2)})
            if first:
                left_over = todo
        if improve and runs:
            t_ls = _time.perf_counter()
            before = sum(_run_minutes(v, seq, mats, pos, service_min) for v, seq, _ in runs)
            moves = _improve(runs, mats, pos, service_min, t_ls + max(time_limit_s, 0.1))
            after = sum(_run_minutes(v, seq, mats, pos, service_min) for v, seq, _ in runs)
            stats["improve_moves"] = stats.get("improve_moves", 0) + moves
            stats["improve_s"] = stats.get("improve_s", 0.0) + _time.perf_counter() - t_ls
            say("trips.progress.improve", {"depot": depot, "moves": moves, "before": round(before),
                                           "after": round(after), "seconds": round(_time.perf_counter() - t_ls, 2)})
        # the trips of each truck back to back from its start, the tier-1 pass first
        clock = {v.vid: v.start for v in vs}
        trip_no = {v.vid: 0 for v in vs}
        for v, seq, _first in sorted(runs, key=lambda r: not r[2]):
            trip_no[v.vid] += 1
            m = mats[v.cls]
            t = depart = clock[v.vid]
            load_kg = sum(d.kg for d in seq)
            load_m3 = sum(d.m3 for d in seq)
            prev = 0
            stops = []
            for k, d in enumerate(seq, start=1):
                t += m[prev, pos[d.site]]
                arr = t
                t += service_min
                stops.append((v.vid, depot, trip_no[v.vid], k, d.site, arr, t, load_kg, load_m3, d.kg, d.m3,
                              manifest_text(d.lines)))
                for lot, it, q in d.lines:
                    man.append((v.vid, trip_no[v.vid], k, d.site, lot, it, q))
                load_kg -= d.kg
                load_m3 -= d.m3
                prev = pos[d.site]
            t += m[prev, 0]
            clock[v.vid] = t
            for st in stops:
                rows.append((*st, depart, t))
        for d in todo:
            for lot, it, q in d.lines:
                unplanned.append((lot, depot, d.site, it, q, "capacity or availability"))
        methods[depot] = used
    trips = pd.DataFrame(rows, columns=TRIP_COLUMNS)
    for c in ("arrival", "depart", "trip_depart", "trip_return"):
        # whole seconds; bounds (availability) are whole seconds, so rounding keeps them
        trips[c] = (at + pd.to_timedelta(trips[c].astype(float), unit="min")).dt.round("s")
    stats["seconds"] = _time.perf_counter() - t_start
    out = Trips(
        trips=trips,
        manifest=pd.DataFrame(man, columns=MANIFEST_COLUMNS),
        unplanned=pd.DataFrame(unplanned, columns=["lot_id", "depot_id", "site_id", "item_id", "quantity", "reason"]),
        method=methods,
        stats=stats,
    )
    say("trips.progress.done", {"trips": out.n_trips, "stops": len(trips), "minutes": round(out.truck_minutes),
                                "unplanned": len(out.unplanned), "seconds": round(stats["seconds"], 2)})
    return out


def manifest_text(lines: list[tuple[str, str, int]]) -> str:
    """``item=quantity;item=quantity`` of a drop's lot lines: one entry per item, sorted, whole units.

    Examples
    --------
    >>> manifest_text([("L2", "surgical_mask", 4000), ("L1", "n95", 10), ("L1", "surgical_mask", 8024)])
    'n95=10;surgical_mask=12024'
    """
    per: dict[str, int] = {}
    for _, it, q in lines:
        per[str(it)] = per.get(str(it), 0) + int(q)
    return ";".join(f"{it}={q}" for it, q in sorted(per.items()))


def _improve(runs: list[list], mats: dict, pos: dict[str, int], service: float, deadline: float) -> int:
    """Local search over every trip of a depot at once (the waves only see one trip per truck).

    ``runs`` is a list of ``[vehicle, drops, first]`` (``first``: the tier-1 pass),
    changed in place. Moves: relocate a drop (within a trip or to another), swap
    two drops, exchange the tails of two trips (2-opt*), reverse a stretch of a
    trip (2-opt). A move is taken when it lowers the truck-minutes and keeps every
    trip within its truck's kg and m3, every drop on a truck that can reach it,
    tier-1 drops apart from the others, and every truck's trips (back to back
    from its start) within its availability. Runs until no move improves or
    ``deadline`` (``time.perf_counter()``) passes; returns the number of moves.
    """
    mat = {c: np.where(np.isfinite(m), m, 1e12).tolist() for c, m in mats.items()}
    span = {}
    for v, _, _ in runs:
        span[v.vid] = v.end - v.start

    def cost(v: _Veh, seq: list[_Drop]) -> float:
        m = mat[v.cls]
        c, prev = 0.0, 0
        for d in seq:
            p = pos[d.site]
            c += m[prev][p]
            prev = p
        return c + m[prev][0] + service * len(seq)

    def ok(d: _Drop, v: _Veh) -> bool:
        m = mat[v.cls]
        p = pos[d.site]
        return m[0][p] < 1e11 and m[p][0] < 1e11 and d.kg <= v.kg + 1e-9 and d.m3 <= v.m3 + 1e-9

    busy: dict[str, float] = {}
    costs = []
    for v, seq, _ in runs:
        c = cost(v, seq)
        costs.append(c)
        busy[v.vid] = busy.get(v.vid, 0.0) + c
    kg = [sum(d.kg for d in seq) for _, seq, _ in runs]
    m3 = [sum(d.m3 for d in seq) for _, seq, _ in runs]

    def fits_time(changes: dict[str, float]) -> bool:
        return all(busy[vid] + dc <= span[vid] + 1e-9 for vid, dc in changes.items() if dc > 0)

    def apply(a: int, seq_a: list, b: int | None = None, seq_b: list | None = None) -> None:
        for k, seq in ((a, seq_a), (b, seq_b)):
            if k is None or seq is None:
                continue
            v = runs[k][0]
            c = cost(v, seq)
            busy[v.vid] += c - costs[k]
            costs[k] = c
            runs[k][1] = seq
            kg[k] = sum(d.kg for d in seq)
            m3[k] = sum(d.m3 for d in seq)

    def move(a: int, seq_a: list, cost_a: float, b: int, seq_b: list, cost_b: float) -> bool:
        """Give trip ``a`` the drops ``seq_a`` and trip ``b`` ``seq_b`` (their new costs given) if every
        vehicle stays within its availability; whether the move was made."""
        va, vb = runs[a][0], runs[b][0]
        ch = {va.vid: cost_a - costs[a]}
        ch[vb.vid] = ch.get(vb.vid, 0.0) + cost_b - costs[b]
        if not fits_time(ch):
            return False
        apply(a, seq_a, b, seq_b)
        return True

    moves = 0
    improved = True
    while improved and _time.perf_counter() < deadline:
        improved = False
        n = len(runs)
        for a in range(n):
            va, sa, fa = runs[a]
            # within the trip: relocate one drop or reverse a stretch (short trips: full recompute)
            best = None
            for i in range(len(sa)):
                for j in range(len(sa)):
                    if i == j:
                        continue
                    s = sa[:i] + sa[i + 1:]
                    s.insert(j, sa[i])
                    c = cost(va, s)
                    if c < costs[a] - 1e-7 and (best is None or c < best[0]):
                        best = (c, s)
                for j in range(i + 2, len(sa) + 1):
                    s = sa[:i] + sa[i:j][::-1] + sa[j:]
                    c = cost(va, s)
                    if c < costs[a] - 1e-7 and (best is None or c < best[0]):
                        best = (c, s)
            if best is not None and fits_time({va.vid: best[0] - costs[a]}):
                apply(a, best[1])
                moves += 1
                improved = True
                sa = runs[a][1]
            for b in range(n):
                if b == a or runs[b][2] != fa or _time.perf_counter() > deadline:
                    continue
                vb, sb, _ = runs[b]
                # relocate a drop of a into b, swap a drop of a with one of b
                done = False
                for i, d in enumerate(sa):
                    rest_a = sa[:i] + sa[i + 1:]
                    ca = cost(va, rest_a)
                    if ok(d, vb) and kg[b] + d.kg <= vb.kg + 1e-9 and m3[b] + d.m3 <= vb.m3 + 1e-9:
                        for j in range(len(sb) + 1):
                            s = sb[:j] + [d] + sb[j:]
                            cb = cost(vb, s)
                            delta = ca + cb - costs[a] - costs[b]
                            if delta < -1e-7 and move(a, rest_a, ca, b, s, cb):
                                done = True
                                break
                    if done:
                        break
                    for j, e in enumerate(sb):
                        if not (ok(d, vb) and ok(e, va)):
                            continue
                        if (kg[a] - d.kg + e.kg > va.kg + 1e-9 or m3[a] - d.m3 + e.m3 > va.m3 + 1e-9
                                or kg[b] - e.kg + d.kg > vb.kg + 1e-9 or m3[b] - e.m3 + d.m3 > vb.m3 + 1e-9):
                            continue
                        s1 = sa[:i] + [e] + sa[i + 1:]
                        s2 = sb[:j] + [d] + sb[j + 1:]
                        c1, c2 = cost(va, s1), cost(vb, s2)
                        if c1 + c2 < costs[a] + costs[b] - 1e-7 and move(a, s1, c1, b, s2, c2):
                            done = True
                            break
                    if done:
                        break
                if not done:
                    # 2-opt*: exchange the tails of the two trips
                    for i in range(len(sa) + 1):
                        for j in range(len(sb) + 1):
                            if i == len(sa) and j == len(sb) or i == 0 and j == 0:
                                continue
                            s1, s2 = sa[:i] + sb[j:], sb[:j] + sa[i:]
                            k1, k2 = sum(d.kg for d in s1), sum(d.kg for d in s2)
                            v1, v2 = sum(d.m3 for d in s1), sum(d.m3 for d in s2)
                            if k1 > va.kg + 1e-9 or v1 > va.m3 + 1e-9 or k2 > vb.kg + 1e-9 or v2 > vb.m3 + 1e-9:
                                continue
                            if not (all(ok(d, va) for d in sb[j:]) and all(ok(d, vb) for d in sa[i:])):
                                continue
                            c1, c2 = cost(va, s1), cost(vb, s2)
                            if c1 + c2 < costs[a] + costs[b] - 1e-7 and move(a, s1, c1, b, s2, c2):
                                done = True
                                break
                        if done:
                            break
                if done:
                    moves += 1
                    improved = True
                    sa = runs[a][1]
    runs[:] = [r for r in runs if r[1]]
    return moves


def _run_minutes(v: _Veh, seq: list[_Drop], mats: dict, pos: dict[str, int], service: float) -> float:
    m = mats[v.cls]
    c, prev = 0.0, 0
    for d in seq:
        c += m[prev, pos[d.site]] + service
        prev = pos[d.site]
    return float(c + m[prev, 0])


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


def _ortools(todo, avail, free, mats, pos, service, time_limit_s, patience_s=PATIENCE_S,
             on_improve: Callable[[dict[str, Any]], None] | None = None,
             first: str = "SAVINGS") -> tuple[dict[str, list[int]] | None, dict[str, Any]]:
    """One wave with OR-Tools: savings start, guided local search until no improvement for ``patience_s``.

    Returns the plan (vehicle id to the indices of ``todo`` it serves, in order;
    None when no solution was found) and search figures (``solutions``,
    ``search_s``, ``objective``).
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    info: dict[str, Any] = {"solutions": 0, "search_s": 0.0}
    if not avail:
        return {}, info
    n = len(todo) + 1
    loc = np.array([0] + [pos[d.site] for d in todo])
    BIG = 10**9
    horizon = int(max(v.end for v in avail) * SCALE) + 1
    mgr = pywrapcp.RoutingIndexManager(n, len(avail), 0)
    routing = pywrapcp.RoutingModel(mgr)
    cbs = {}
    svc = np.r_[0, np.full(n - 1, int(round(service * SCALE)))]
    for c, m in mats.items():
        mm = m[np.ix_(loc, loc)]
        t = np.where(np.isfinite(mm), np.ceil(mm * SCALE), BIG).astype(np.int64)
        t = t + svc[:, None]  # service at the origin node
        np.fill_diagonal(t, 0)
        cbs[c] = routing.RegisterTransitMatrix(t.tolist())  # read by the solver in C++: no Python per arc
    per_vehicle = [cbs[v.cls] for v in avail]
    for k, cb_idx in enumerate(per_vehicle):
        routing.SetArcCostEvaluatorOfVehicle(cb_idx, k)
    routing.AddDimensionWithVehicleTransits(per_vehicle, 0, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for k, v in enumerate(avail):
        time_dim.CumulVar(routing.Start(k)).SetRange(int(math.ceil(free[v.vid] * SCALE)), horizon)
        time_dim.CumulVar(routing.End(k)).SetRange(0, int(math.floor(v.end * SCALE)))
    for name, attr, unit in (("kg", "kg", 1000), ("m3", "m3", 1000)):
        dem = [0] + [int(math.ceil(getattr(d, attr) * unit - 1e-6)) for d in todo]
        caps = [int(min(math.floor(getattr(v, attr) * unit + 1e-6), 2**62)) if math.isfinite(getattr(v, attr))
                else 2**62 for v in avail]
        routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitVector(dem), 0, caps, True, name)
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
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(max(time_limit_s, 0.01) * 1000))

    t0 = _time.perf_counter()
    state: dict[str, Any] = {"best": None, "at": t0}

    def at_solution() -> None:
        obj = routing.CostVar().Value()
        info["solutions"] += 1
        now = _time.perf_counter()
        if state["best"] is None or obj < state["best"]:
            state["best"], state["at"] = obj, now
            if on_improve is not None:
                on_improve({"solutions": info["solutions"], "seconds": round(now - t0, 2)})

    routing.AddAtSolutionCallback(at_solution)
    if patience_s is not None:
        def stalled() -> bool:
            if state["best"] is None:
                return False
            return _time.perf_counter() - state["at"] > patience_s

        routing.AddSearchMonitor(routing.solver().CustomLimit(stalled))
    sol = routing.SolveWithParameters(params)
    info["search_s"] = _time.perf_counter() - t0
    if sol is None:
        return None, info
    info["objective"] = sol.ObjectiveValue()
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
    return plan, info


def total_minutes(trips: pd.DataFrame) -> float:
    """Total driving-and-unloading minutes of planned trips (depart to return of each trip)."""
    if trips.empty:
        return 0.0
    t = trips.drop_duplicates(["vehicle_id", "trip"])
    return float(((t.trip_return - t.trip_depart).dt.total_seconds() / 60).sum())


#: Decimals kept in the trip sheets (kg to 0.1 kg, m3 to one litre).
SHEET_DECIMALS = {"load_kg": 1, "drop_kg": 1, "load_m3": 3, "drop_m3": 3}
SHEET_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def trip_sheets(planned: Trips, trip_ids: Mapping[tuple[str, str], int] | None = None) -> dict[str, pd.DataFrame]:
    """The files of a trip plan as an officer reads them: ``trips.csv``, ``trip_manifest.csv``, ``unplanned.csv``.

    Times to the second, quantities as integers, kg to 0.1 and m3 to 0.001,
    manifests ``item=quantity;item=quantity``, text cells escaped against
    spreadsheet formulas (:func:`allocator.cells.escape_frame`). ``routes`` and
    ``rounds dispatch`` both write these.

    Parameters
    ----------
    planned : Trips
    trip_ids : mapping of (depot_id, site_id) to int, optional
        The database's trip of each drop (after :func:`allocator.store.dispatch_round`):
        added as ``trip_id`` beside each stop and manifest line, the number
        ``allocator rounds deliver --trip`` takes. ``trip`` stays the truck's own
        trip count (its first, second ... run from the depot).

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.network import travel_times
    >>> sc = examples.ring_road()
    >>> ship = pd.DataFrame({"lot_id": ["L1", "L1"], "depot_id": "D1", "site_id": ["H1", "H1"],
    ...                      "item_id": ["n95", "n95"], "quantity": [8000, 33]})
    >>> sheet = trip_sheets(plan_trips(sc, ship, travel_times(sc)), {("D1", "H1"): 7})["trips.csv"]
    >>> sheet[["trip_id", "site_id", "arrival", "load_kg", "manifest"]].to_dict("records")
    [{'trip_id': 7, 'site_id': 'H1', 'arrival': '2020-02-10 08:04:00', 'load_kg': 80.3, 'manifest': 'n95=8033'}]
    """
    from allocator.cells import escape_frame

    t = planned.trips.copy()
    for c in ("arrival", "depart", "trip_depart", "trip_return"):
        t[c] = pd.to_datetime(t[c]).dt.round("s").dt.strftime(SHEET_TIME_FORMAT)
    for c, k in SHEET_DECIMALS.items():
        t[c] = t[c].astype(float).round(k)
    for c in ("trip", "stop"):
        t[c] = t[c].astype(int)
    man = planned.manifest.copy()
    man["quantity"] = man["quantity"].astype(int)
    un = planned.unplanned.copy()
    un["quantity"] = un["quantity"].astype(int)
    if trip_ids is not None:
        def ids(depots: pd.Series, sites: pd.Series) -> pd.Series:
            return pd.Series([trip_ids.get((str(d), str(s))) for d, s in zip(depots, sites)],
                             index=depots.index, dtype="Int64")

        t.insert(0, "trip_id", ids(t.depot_id, t.site_id))
        depot_of = dict(zip(zip(planned.trips.vehicle_id, planned.trips.trip), planned.trips.depot_id))
        man.insert(0, "trip_id", ids(pd.Series([depot_of.get(k, "") for k in zip(man.vehicle_id, man.trip)],
                                               index=man.index), man.site_id))
    return {"trips.csv": escape_frame(t), "trip_manifest.csv": escape_frame(man), "unplanned.csv": escape_frame(un)}


def write_trip_sheets(planned: Trips, folder: str | Path,
                      trip_ids: Mapping[tuple[str, str], int] | None = None) -> list[Path]:
    """Write :func:`trip_sheets` into ``folder`` (each file replaced atomically); returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, df in trip_sheets(planned, trip_ids).items():
        path = folder / name
        tmp = path.with_name(f".{path.name}.tmp")
        df.to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(path)
        out.append(path)
    return out


#: Trip plans by the content of their inputs (the last few), see :func:`round_trips`.
_PLANS: dict[bytes, Trips] = {}
PLAN_CACHE_SIZE = 4
#: Scenario tables a trip plan depends on.
PLAN_TABLES = ("items", "sites", "depots", "vehicles", "road_nodes", "roads", "traffic_control")


def plan_key(scenario, shipments: pd.DataFrame, at: pd.Timestamp | None, **options: Any) -> bytes:
    """Content fingerprint of everything a trip plan depends on (tables, shipments, time, options)."""
    from allocator.network.paths import table_fingerprint

    cols = ["lot_id", "depot_id", "site_id", "item_id", "quantity"]
    ship = shipments[cols].astype({"lot_id": str, "depot_id": str, "site_id": str, "item_id": str,
                                   "quantity": "int64"})
    ship = ship.sort_values(cols, kind="stable").reset_index(drop=True)
    frames = [scenario.tables[n] for n in PLAN_TABLES if scenario.has(n)]
    head = repr((tuple(n for n in PLAN_TABLES if scenario.has(n)), str(at), sorted(options.items()))).encode()
    return head + table_fingerprint(ship, *frames)


def round_trips(
    scenario,
    shipments: pd.DataFrame,
    travel: Travel | None = None,
    *,
    at: pd.Timestamp | str | None = None,
    method: str = "ortools",
    time_limit_s: float = 5.0,
    patience_s: float | None = PATIENCE_S,
    progress: Progress | None = None,
    reuse: bool = True,
) -> Trips:
    """The truck trips of a round: the one function ``routes``, ``rounds dispatch`` and the app call.

    Computes travel times when not given, plans with :func:`plan_trips` and keeps
    the plan by the content of its inputs (:func:`plan_key`), so the app's
    preview of a round's trips and the dispatch that follows get the same plan,
    computed once, and an edit to any table the plan depends on plans afresh.

    Parameters
    ----------
    scenario : Scenario
    shipments : DataFrame
        ``lot_id, depot_id, site_id, item_id, quantity``.
    travel : Travel, optional
        From :func:`~allocator.network.travel_times` (computed at ``at`` when None).
    at : Timestamp, optional
        When the traffic control is evaluated (default ``scenario.at``).
    method, time_limit_s, patience_s, progress
        As :func:`plan_trips`.
    reuse : bool
        Return a plan made earlier in this process for the same inputs (the same
        object: treat its frames as read-only, copy before editing).

    Examples
    --------
    >>> from allocator import examples
    >>> sc = examples.ring_road()
    >>> ship = pd.DataFrame({"lot_id": ["L1"], "depot_id": ["D1"], "site_id": ["H1"], "item_id": ["n95"],
    ...                      "quantity": [8000]})
    >>> a = round_trips(sc, ship)
    >>> round_trips(sc, ship) is a, a.n_trips
    (True, 1)
    """
    from allocator.network.paths import travel_times

    when = pd.Timestamp(at) if at is not None else (travel.at if travel is not None and travel.at is not None
                                                     else scenario.at)
    key = plan_key(scenario, shipments, when, method=method, time_limit_s=time_limit_s, patience_s=patience_s)
    hit = _PLANS.get(key) if reuse else None
    if hit is not None:
        if progress is not None:
            progress("trips.progress.done", {"trips": hit.n_trips, "stops": len(hit.trips),
                                             "minutes": round(hit.truck_minutes), "unplanned": len(hit.unplanned),
                                             "seconds": 0.0})
        return hit
    if travel is None:
        travel = travel_times(scenario, at=when)
    out = plan_trips(scenario, shipments, travel, method=method, time_limit_s=time_limit_s, patience_s=patience_s,
                     progress=progress)
    _PLANS[key] = out
    while len(_PLANS) > PLAN_CACHE_SIZE:
        _PLANS.pop(next(iter(_PLANS)))
    return out
