"""Check a round from its input tables alone: the independent round checker and a fairness reference.

Nothing here imports :mod:`allocator.allocate`, :mod:`allocator.rules` or
:mod:`allocator.network`: every rule of ``allocation-rules.md`` is recomputed from
the scenario's tables (pandas, numpy, :mod:`heapq`) and compared with the public
tables of the round (``allocations``, ``fill``, ``routes``, ``donation_usage``,
``summary``). A wrong predicate or travel matrix in the pipeline therefore fails
here instead of passing both the code and its check.

:func:`check_round` checks, each as a message starting with the name in bold:

- **integers**: every quantity is a whole number > 0 (hard rule 8);
- **stock**: a lot exists, ships at most its quantity, is ``available``, not expired at
  ``scenario.at`` and not quarantined or rejected, and is shipped as its own item from its
  own depot (hard rule 1);
- **substitution**: a row's item is the need's item or a listed substitute (rule 3);
- **grade**: no civil-grade item goes to a clinical site (rule 4);
- **earmark**: a donated lot goes only to the sites and kinds its donation's earmark allows (rule 5);
- **reachability** and **travel**: the depot reaches the site, and the allocation's
  ``travel_min`` is the minutes of a plain Dijkstra (:func:`travel_minutes`) over the
  scenario's roads under the traffic control in force at ``scenario.at`` (closures,
  checkpoints with their delay once per pass, restricted zones, vehicle permits), or the
  contract's great-circle fallback without roads (rule 6);
- **route**: ``routes`` has a row for every pair that ships, with the same minutes; its
  ``path`` runs from the depot's node to the site's node over existing roads that one of
  the depot's vehicles may use, takes the stated minutes (checkpoint delays included) and
  kilometres, and passes the stated checkpoints (without roads: the fallback's distance);
- **need**: no site receives more than its need, counting substitutes by their ratio,
  except to round up to a whole pack, which never takes a unit (of an exhausted lot) that a
  site of the same or a higher tier still needs (rule 2), and nothing goes to a need that is
  not there;
- **capacity**: a depot ships at most its dispatch capacity in kg (rule 7, 1 kg default weight);
- **exclusion**: nothing ships from or to an excluded depot or site;
- **lock**: every lock of ``locks.csv`` is in the round, each ships exactly its quantity and
  counts toward the site's own need for its item first (Overrides);
- **fill**: ``fill`` agrees with ``allocations`` (filled, shortage) and with ``needs.csv``;
- **reason**: the reason of every shortage, recomputed from its definition
  (:func:`shortage_reasons`), is the one in ``fill``; a need without shortage has none;
- **donation**: ``donation_usage`` lists exactly the donated lots' shipments, with their donors;
- **tier** (priority 1): no need is short while a lot that could serve it sits idle
  (capacity permitting) or sends units to a lower tier;
- **own item** (priority 1b): no unit covers a substitute need while a need for its own item
  that it may reach, in the same or a higher tier, is short;
- **fairness** (priority 2): the least-filled site of a tier and item could not be helped by
  moving a unit from a better-filled site of that tier and item.

:func:`leximin_reference` solves the round's linear relaxation from the input tables with
:func:`scipy.optimize.linprog` (tier fills, own item, then the textbook leximin of each
tier's fill ratios), a reference for the allocator's fairness stage.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allocator.scenario import Scenario

#: Tolerance of every comparison of quantities.
TOL = 1e-6
#: Shortage reasons of ``fill.csv``, in the order they are tried (allocation-rules.md).
REASONS = ("unreachable", "earmarked", "grade", "capacity", "supply")

_EARTH_KM = 6371.0088
_DETOUR = 1.3
_FALLBACK_KMH = 30.0


# =========================================================================== input tables


def _ratios(sc: Scenario) -> dict[tuple[str, str], float]:
    """(need item, shipped item) -> units of the shipped item covering one unit of need (rule 3)."""
    out = {(str(i), str(i)): 1.0 for i in sc.items.item_id}
    if sc.has("substitutes"):
        for r in _rows(sc.substitutes):
            if str(r.item_id) != str(r.substitute_id):
                ratio = float(r.ratio) if pd.notna(r.ratio) else 1.0
                out[(str(r.item_id), str(r.substitute_id))] = ratio
    return out


def _lot_problem(lot: Any, at: pd.Timestamp) -> str:
    """Why a lot may not ship (rule 1), or "" when it may."""
    status = str(lot.status) if pd.notna(lot.status) and str(lot.status) else "available"
    if status != "available":
        return f"is {status}"
    if pd.notna(lot.expires) and pd.Timestamp(lot.expires) <= at:
        return f"expired {pd.Timestamp(lot.expires):%Y-%m-%d}"
    return ""


def usable_stock(sc: Scenario) -> pd.DataFrame:
    """Lots that may ship at ``scenario.at``: available, not expired, quantity > 0 (indexed by lot_id)."""
    s = sc.stock
    ok = np.array([_lot_problem(r, sc.at) == "" for r in _rows(s)], bool)
    ok &= s.quantity.to_numpy(float) > 0
    return s[ok].set_index("lot_id")


def _earmarks(sc: Scenario) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    out: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    if sc.has("donations"):
        for r in _rows(sc.donations):
            out[str(r.donation_id)] = (frozenset(map(str, r.earmark_site_id or ())),
                                       frozenset(map(str, r.earmark_kind or ())))
    return out


@dataclass
class _Lot:
    lot_id: str
    depot_id: str
    item_id: str
    quantity: float
    donation_id: str


@dataclass
class _Ctx:
    """The scenario's tables, indexed once (as plain dicts) for the checks."""

    sc: Scenario
    items: pd.DataFrame
    sites: pd.DataFrame
    depots: pd.DataFrame
    stock: pd.DataFrame
    earmarks: dict[str, tuple[frozenset[str], frozenset[str]]]
    ratio: dict[tuple[str, str], float]
    minutes: pd.DataFrame
    excluded: set[str]
    locks: list[dict[str, Any]]
    weight: dict[str, float] = field(default_factory=dict)
    civil: set[str] = field(default_factory=set)
    tier: dict[str, int] = field(default_factory=dict)
    clinical: dict[str, bool] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    cap: dict[str, float] = field(default_factory=dict)
    mins: dict[tuple[str, str], float] = field(default_factory=dict)
    usable: dict[str, _Lot] = field(default_factory=dict)

    @classmethod
    def of(cls, sc: Scenario, result: Any, minutes: pd.DataFrame) -> _Ctx:
        items = sc.items.set_index("item_id")
        sites = sc.sites.set_index("site_id")
        depots = sc.depots.set_index("depot_id")
        excluded = {str(x) for x in result.summary.get("excluded", [])}
        cx = cls(sc=sc, items=items, sites=sites, depots=depots, stock=sc.stock.set_index("lot_id"),
                 earmarks=_earmarks(sc), ratio=_ratios(sc), minutes=minutes, excluded=excluded,
                 locks=list(result.summary.get("locks", [])))
        w = items.unit_weight_kg if "unit_weight_kg" in items else pd.Series(np.nan, index=items.index)
        cx.weight = {str(i): (1.0 if pd.isna(x) else float(x)) for i, x in w.items()}
        cx.civil = {str(i) for i, g in items.grade.items() if str(g) == "civil"}
        cx.tier = {str(s): int(t) for s, t in sites.tier.items()}
        cx.clinical = {str(s): bool(c) for s, c in sites.clinical.items()}
        cx.kind = {str(s): str(k) for s, k in sites.kind.items()}
        cx.cap = {str(d): float(c) for d, c in depots.dispatch_capacity_kg.items() if pd.notna(c)}
        m = minutes.to_numpy(float)
        cx.mins = {(str(d), str(s)): float(m[i, j]) for i, d in enumerate(minutes.index)
                   for j, s in enumerate(minutes.columns)}
        u = usable_stock(sc)
        cx.usable = {str(k): _Lot(str(k), str(r.depot_id), str(r.item_id), float(r.quantity), _text(r.donation_id))
                     for k, r in zip(u.index, _rows(u)) if str(r.depot_id) not in excluded}
        return cx

    def minutes_of(self, depot: str, site: str) -> float:
        return self.mins.get((depot, site), math.inf)

    def grade_ok(self, item: str, site: str) -> bool:
        """Rule 4: civil-grade goods never go to a clinical site."""
        return not (item in self.civil and self.clinical.get(site, False))

    def earmark_ok(self, donation: Any, site: str) -> bool:
        """Rule 5: a donated lot goes only where its earmark allows (both lists when both are given)."""
        if not isinstance(donation, str) or not donation or donation not in self.earmarks:
            return True
        es, ek = self.earmarks[donation]
        return (not es or site in es) and (not ek or self.kind.get(site, "") in ek)

    def serves(self, lot: Any, site: str) -> bool:
        """Whether a lot may legally go to a site: reachability, grade and earmark."""
        return (np.isfinite(self.minutes_of(str(lot.depot_id), site)) and self.grade_ok(str(lot.item_id), site)
                and self.earmark_ok(_text(lot.donation_id), site))


# =========================================================================== roads and traffic control


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _parse_wkt(text: str) -> list[list[list[tuple[float, float]]]]:
    """POLYGON / MULTIPOLYGON WKT (lon lat) as polygons, each a list of rings of (x, y)."""
    t = text.strip()
    head = t.split("(", 1)[0].strip().upper()
    if head not in ("POLYGON", "MULTIPOLYGON"):
        return []
    body = t[len(t.split("(", 1)[0]):]
    polys: list[list[list[tuple[float, float]]]] = []
    depth, ring_txt, rings = 0, "", []
    base = 2 if head == "MULTIPOLYGON" else 1
    for ch in body:
        if ch == "(":
            depth += 1
            ring_txt = ""
        elif ch == ")":
            if depth == base + 1 and ring_txt:
                nums = [float(x) for x in re.findall(_NUM, ring_txt)]
                rings.append(list(zip(nums[0::2], nums[1::2])))
                ring_txt = ""
            if depth == base:
                polys.append(rings)
                rings = []
            depth -= 1
        elif depth == base + 1:
            ring_txt += ch
    return polys


def _inside(polys: list[list[list[tuple[float, float]]]], x: float, y: float) -> bool:
    """Point in polygon (even-odd ray casting over each polygon's shell and holes)."""
    for rings in polys:
        inside = False
        for ring in rings:
            n = len(ring)
            for k in range(n):
                x1, y1 = ring[k]
                x2, y2 = ring[(k + 1) % n]
                if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                    inside = not inside
        if inside:
            return True
    return False


def _rows(df: pd.DataFrame) -> list[Any]:
    """The rows of a table as named tuples (typed loosely: the cells are what the table holds)."""
    return list(df.itertuples(index=False))


def _sums(a: pd.DataFrame, key: str) -> tuple[list[str], list[float]]:
    """Total quantity of the allocations by one key column."""
    out: dict[str, float] = {}
    for k, q in zip(a[key], a.quantity):
        out[str(k)] = out.get(str(k), 0.0) + float(q)
    return list(out), list(out.values())


def _text(x: Any) -> str:
    return "" if x is None or (not isinstance(x, str) and pd.isna(x)) else str(x)


@dataclass
class _Rule:
    rule_id: str
    kind: str
    permits: frozenset[str]
    delay: float
    arcs: set[int]


@dataclass
class Roads:
    """The scenario's road graph under its traffic control at ``scenario.at``, built from the tables.

    Arc ``k`` runs ``tail[k] -> head[k]`` and takes ``minutes[k]`` (``length_m / speed_kmh``);
    ``rules`` are the traffic-control rules in force, each with the arcs it applies to.
    """

    nodes: dict[str, tuple[float, float]]
    tail: list[str]
    head: list[str]
    minutes: list[float]
    km: list[float]
    rules: list[_Rule]
    out: dict[str, list[int]] = field(default_factory=dict)
    _main: set[str] | None = None

    @classmethod
    def of(cls, sc: Scenario) -> Roads:
        nodes = {str(r.node_id): (float(r.lat), float(r.lon)) for r in _rows(sc.road_nodes)}
        tail: list[str] = []
        head: list[str] = []
        minutes: list[float] = []
        km: list[float] = []
        names: list[tuple[str, str]] = []
        for r in _rows(sc.roads):
            u, v = str(r.u), str(r.v)
            t = float(r.length_m) / 1000.0 / float(r.speed_kmh) * 60.0
            nm = (_text(getattr(r, "name", "")), _text(getattr(r, "name_zh", "")))
            one = bool(getattr(r, "oneway", False)) if pd.notna(getattr(r, "oneway", False)) else False
            for a, b in ((u, v),) if one else ((u, v), (v, u)):
                tail.append(a)
                head.append(b)
                minutes.append(t)
                km.append(float(r.length_m) / 1000.0)
                names.append(nm)
        rules: list[_Rule] = []
        if sc.has("traffic_control"):
            for r in _rows(sc.traffic_control):
                start, end = getattr(r, "start", None), getattr(r, "end", None)
                if (pd.notna(start) and pd.Timestamp(start) > sc.at) or (pd.notna(end) and sc.at >= pd.Timestamp(end)):
                    continue
                kind = str(r.kind)
                arcs: set[int] = set()
                if kind == "restricted_zone":
                    polys = _parse_wkt(_text(r.area_wkt))
                    inside = {n for n, (lat, lon) in nodes.items() if _inside(polys, lon, lat)}
                    arcs = {k for k, b in enumerate(head) if b in inside}
                else:
                    road, u, v = _text(r.road), _text(r.u), _text(r.v)
                    for k in range(len(tail)):
                        if road and road in names[k]:
                            arcs.add(k)
                        if u and v and {tail[k], head[k]} == {u, v}:
                            arcs.add(k)
                delay = float(r.delay_min) if kind == "checkpoint" and pd.notna(r.delay_min) else 0.0
                rules.append(_Rule(str(r.rule_id), kind, frozenset(map(str, r.permits or ())), delay, arcs))
        out: dict[str, list[int]] = {n: [] for n in nodes}
        for k, a in enumerate(tail):
            out.setdefault(a, []).append(k)
        return cls(nodes, tail, head, minutes, km, rules, out)

    def rules_for(self, vehicle: frozenset[str]) -> tuple[set[int], dict[int, frozenset[str]]]:
        """The arcs a vehicle holding ``vehicle`` permits may not use, and the delaying checkpoints per arc.

        A closure shuts its arcs except to holders of one of its permits (to everyone without
        permits); a checkpoint with permits lets only their holders through, one without lets
        everyone; a restricted zone's arcs (those whose head lies inside) exist only for holders
        of one of its permits.
        """
        blocked: set[int] = set()
        cps: dict[int, set[str]] = {}
        for r in self.rules:
            lets = bool(r.permits & vehicle) or (r.kind == "checkpoint" and not r.permits)
            if not lets:
                blocked |= r.arcs
            elif r.kind == "checkpoint" and r.delay > 0:
                for k in r.arcs:
                    cps.setdefault(k, set()).add(r.rule_id)
        return blocked, {k: frozenset(v) for k, v in cps.items()}

    def main_part(self) -> set[str]:
        """Nodes a site or depot without ``node_id`` may be put on (:func:`_main_part`), computed once."""
        if self._main is None:
            closed: set[int] = set()
            for rule in self.rules:
                if rule.kind == "closure" and not rule.permits:
                    closed |= rule.arcs
            self._main = _main_part(self, closed)
        return self._main

    def delay(self, rule_id: str) -> float:
        return next(r.delay for r in self.rules if r.rule_id == rule_id)

    def dijkstra(self, source: str, vehicle: frozenset[str]) -> dict[str, float]:
        """Minutes from ``source`` to every node it reaches (a plain Dijkstra with :mod:`heapq`).

        A state is (node, delaying checkpoints of the arc driven into it): a checkpoint's delay is
        paid on entering a run of its arcs, not again while the run continues.
        """
        blocked, cps = self.rules_for(vehicle)
        empty: frozenset[str] = frozenset()
        best: dict[tuple[str, frozenset[str]], float] = {(source, empty): 0.0}
        heap: list[tuple[float, int, str, frozenset[str]]] = [(0.0, 0, source, empty)]
        tick = 1
        done: set[tuple[str, frozenset[str]]] = set()
        dist: dict[str, float] = {}
        while heap:
            d, _, node, lab = heapq.heappop(heap)
            if (node, lab) in done:
                continue
            done.add((node, lab))
            if d < dist.get(node, math.inf):
                dist[node] = d
            for k in self.out.get(node, ()):
                if k in blocked:
                    continue
                new = cps.get(k, empty)
                nd = d + self.minutes[k] + sum(self.delay(r) for r in new - lab)
                key = (self.head[k], new)
                if nd < best.get(key, math.inf):
                    best[key] = nd
                    heapq.heappush(heap, (nd, tick, self.head[k], new))
                    tick += 1
        return dist

    def drive(self, path: list[str], vehicle: frozenset[str]) -> tuple[float, list[str], float] | str:
        """Minutes, checkpoints passed and km of driving ``path``, or why the vehicle cannot."""
        blocked, cps = self.rules_for(vehicle)
        empty: frozenset[str] = frozenset()
        lab, total, km, passed = empty, 0.0, 0.0, []
        for a, b in zip(path[:-1], path[1:]):
            arcs = [k for k in self.out.get(a, ()) if self.head[k] == b]
            if not arcs:
                return f"there is no road {a} -> {b}"
            ok = [k for k in arcs if k not in blocked]
            if not ok:
                return f"the road {a} -> {b} is closed to it"
            k = min(ok, key=lambda j: self.minutes[j])
            new = cps.get(k, empty)
            for r in sorted(new - lab):
                passed.append(r)
                total += self.delay(r)
            total += self.minutes[k]
            km += self.km[k]
            lab = new
        return total, passed, km


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def _vehicles(sc: Scenario) -> dict[str, list[frozenset[str]]]:
    """Permit sets per depot: its vehicles', or one vehicle holding every checkpoint and zone permit."""
    default: frozenset[str] = frozenset()
    if sc.has("traffic_control"):
        tc = sc.traffic_control
        default = frozenset(str(p) for k, ps in zip(tc.kind, tc.permits)
                            if str(k) in ("checkpoint", "restricted_zone") for p in (ps or ()))
    out: dict[str, list[frozenset[str]]] = {}
    veh = sc.vehicles if sc.has("vehicles") else None
    for d in sc.depots.depot_id:
        classes: list[frozenset[str]] = []
        if veh is not None:
            for ps in veh.permits[veh.depot_id == d]:
                c = frozenset(map(str, ps or ()))
                if c not in classes:
                    classes.append(c)
        out[str(d)] = classes or [default]
    return out


def _snap(roads: Roads, frame: pd.DataFrame, key: str, sc: Scenario) -> dict[str, str]:
    """Road node of each row: its ``node_id``, else the nearest node of the network's main part.

    The main part: nodes of a strongly connected component of the roads not closed to everyone
    that is the largest or holds at least 10 % of the nodes (and more than one node), so that a
    site is not put on a stray fragment; restricted zones do not count.
    """
    out: dict[str, str] = {}
    rest = []
    for r in _rows(frame):
        nid = _text(getattr(r, "node_id", ""))
        if nid:
            out[str(getattr(r, key))] = nid
        else:
            rest.append(r)
    if not rest:
        return out
    usable = roads.main_part()
    cand = [n for n in roads.nodes if n in usable]
    lat = np.array([roads.nodes[n][0] for n in cand])
    lon = np.array([roads.nodes[n][1] for n in cand])
    for r in rest:
        la, lo = math.radians(float(r.lat)), math.radians(float(r.lon))
        a = (np.sin((np.radians(lat) - la) / 2) ** 2
             + np.cos(la) * np.cos(np.radians(lat)) * np.sin((np.radians(lon) - lo) / 2) ** 2)
        out[str(getattr(r, key))] = cand[int(np.argmin(a))]
    return out


def _main_part(roads: Roads, closed: set[int]) -> set[str]:
    """Nodes in a big strongly connected component (Kosaraju, iterative) of the open arcs."""
    fwd: dict[str, list[str]] = {n: [] for n in roads.nodes}
    back: dict[str, list[str]] = {n: [] for n in roads.nodes}
    for k, (a, b) in enumerate(zip(roads.tail, roads.head)):
        if k not in closed:
            fwd.setdefault(a, []).append(b)
            back.setdefault(b, []).append(a)
    order: list[str] = []
    seen: set[str] = set()
    for s in fwd:
        if s in seen:
            continue
        seen.add(s)
        stack = [(s, iter(fwd[s]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                order.append(node)
            elif nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, iter(fwd.get(nxt, []))))
    comp: dict[str, int] = {}
    c = -1
    for s in reversed(order):
        if s in comp:
            continue
        c += 1
        comp[s] = c
        todo = [s]
        while todo:
            x = todo.pop()
            for y in back.get(x, []):
                if y not in comp:
                    comp[y] = c
                    todo.append(y)
    sizes: dict[int, int] = {}
    for c in comp.values():
        sizes[c] = sizes.get(c, 0) + 1
    big = max(sizes.values())
    n = len(roads.nodes)
    return {x for x, c in comp.items() if sizes[c] > 1 and (sizes[c] == big or sizes[c] >= max(2, 0.1 * n))}


@dataclass
class TravelCheck:
    """Travel minutes recomputed from the tables (``minutes``: depot x site, ``inf`` = unreachable)."""

    minutes: pd.DataFrame
    roads: Roads | None = None
    depot_node: dict[str, str] = field(default_factory=dict)
    site_node: dict[str, str] = field(default_factory=dict)
    classes: dict[str, list[frozenset[str]]] = field(default_factory=dict)


def travel_check(sc: Scenario) -> TravelCheck:
    """Travel minutes depot x site under the traffic control in force at ``scenario.at`` (rule 6).

    Minutes are the least over the depot's vehicles (:func:`Roads.dijkstra`); without roads, the
    great-circle distance x 1.3 at 30 km/h.
    """
    sites = [str(x) for x in sc.sites.site_id]
    depots = [str(x) for x in sc.depots.depot_id]
    idx, cols = pd.Index(depots, name="depot_id"), pd.Index(sites, name="site_id")
    if not (sc.has("roads") and sc.has("road_nodes")):
        m = np.array([[_haversine_km(float(d.lat), float(d.lon), float(s.lat), float(s.lon)) * _DETOUR
                       / _FALLBACK_KMH * 60.0 for s in _rows(sc.sites)]
                      for d in _rows(sc.depots)], float).reshape(len(depots), len(sites))
        return TravelCheck(pd.DataFrame(m, index=idx, columns=cols))
    roads = Roads.of(sc)
    dn = _snap(roads, sc.depots, "depot_id", sc)
    sn = _snap(roads, sc.sites, "site_id", sc)
    classes = _vehicles(sc)
    m = np.full((len(depots), len(sites)), math.inf)
    for i, d in enumerate(depots):
        for c in classes[d]:
            dist = roads.dijkstra(dn[d], c)
            for j, s in enumerate(sites):
                m[i, j] = min(m[i, j], dist.get(sn[s], math.inf))
    return TravelCheck(pd.DataFrame(m, index=idx, columns=cols), roads, dn, sn, classes)


def travel_minutes(sc: Scenario) -> pd.DataFrame:
    """Depot x site minutes recomputed from the scenario's tables (:func:`travel_check`).

    Examples
    --------
    >>> from allocator import examples
    >>> travel_minutes(examples.ring_road()).loc["D1"].round(1).to_dict()
    {'H1': 4.0, 'H2': 18.0, 'Q1': 4.0}
    """
    return travel_check(sc).minutes


def _given_minutes(travel: Any) -> pd.DataFrame:
    m = travel.minutes if hasattr(travel, "minutes") else travel
    m = pd.DataFrame(m).copy()
    m.index = m.index.astype(str)
    m.columns = m.columns.astype(str)
    return m.astype(float)


# =========================================================================== the checker


def check_round(scenario: Scenario, result: Any, travel: Any = None) -> list[str]:
    """Every rule the round breaks, as readable strings (empty when all hold).

    Parameters
    ----------
    scenario : Scenario
        The scenario the round was run on.
    result : RoundResult
        What :func:`allocator.allocate` returned (only its public tables and summary are read).
    travel : DataFrame or object with ``minutes``, optional
        The travel matrix the round was given. Default: recomputed from the roads and the
        traffic control (:func:`travel_check`), and the routes are checked against it.

    Examples
    --------
    >>> from allocator import allocate, examples
    >>> sc = examples.three_tiers()
    >>> check_round(sc, allocate(sc))
    []
    """
    sc = scenario
    tc = travel_check(sc) if travel is None else None
    minutes = tc.minutes if tc is not None else _given_minutes(travel)
    cx = _Ctx.of(sc, result, minutes)
    a = result.allocations
    v: list[str] = []
    v += _hard_rules(cx, a)
    v += _travel(cx, a, result.routes, tc)
    cov = _covered(cx, a)
    v += _need(cx, a, result.fill)
    v += _capacity(cx, a)
    v += _locks(cx, a, result.fill)
    v += _fill(cx, result.fill, cov)
    v += _reasons(cx, a, result.fill)
    v += _donations(cx, a, result.donation_usage)
    v += _priorities(cx, a, result.fill)
    v += _own_item_first(cx, a, result.fill)
    v += _fairness(cx, a, result.fill)
    return v


def _hard_rules(cx: _Ctx, a: pd.DataFrame) -> list[str]:
    """Integers, stock, substitution, grade, earmark, reachability and exclusions, row by row."""
    v: list[str] = []
    q = a.quantity.to_numpy(float) if len(a) else np.zeros(0)
    for r in _rows(a[(np.mod(q, 1) != 0) | (q <= 0)]):
        v.append(f"integers: allocation of lot {r.lot_id} to {r.site_id} has quantity {r.quantity}")
    at = cx.sc.at
    for lot, qty in zip(*_sums(a, "lot_id")):
        if lot not in cx.stock.index:
            v.append(f"stock: lot {lot} does not exist")
            continue
        s = cx.stock.loc[lot]
        why = _lot_problem(s, at)
        if why:
            v.append(f"stock: lot {lot} {why} and shipped {qty:g}")
        if qty > s.quantity:
            v.append(f"stock: lot {lot} ships {qty:g} > its quantity {s.quantity}")
    for r in _rows(a):
        if r.site_id not in cx.sites.index or r.depot_id not in cx.depots.index:
            v.append(f"stock: allocation of lot {r.lot_id} names an unknown depot or site ({r.depot_id}, {r.site_id})")
            continue
        if r.lot_id in cx.stock.index:
            s = cx.stock.loc[r.lot_id]
            if s.depot_id != r.depot_id or s.item_id != r.item_id:
                v.append(f"stock: lot {r.lot_id} is {s.item_id} at {s.depot_id}, not {r.item_id} at {r.depot_id}")
            if not cx.earmark_ok(s.donation_id, r.site_id):
                v.append(f"earmark: lot {r.lot_id} of donation {s.donation_id} sent to {r.site_id}, "
                         "which its earmark excludes")
        if (r.need_item_id, r.item_id) not in cx.ratio:
            v.append(f"substitution: {r.item_id} may not cover {r.need_item_id} (at {r.site_id})")
        if not cx.grade_ok(r.item_id, r.site_id):
            v.append(f"grade: civil-grade {r.item_id} (lot {r.lot_id}) sent to clinical site {r.site_id}")
        if not np.isfinite(cx.minutes_of(r.depot_id, r.site_id)):
            v.append(f"reachability: {r.depot_id} cannot reach {r.site_id} but ships {r.quantity} {r.item_id}")
        if r.depot_id in cx.excluded or r.site_id in cx.excluded:
            v.append(f"exclusion: {r.depot_id} -> {r.site_id} ships although excluded")
    return v


def _close(x: float, y: float) -> bool:
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= 1e-6 * max(1.0, abs(y))


def _travel(cx: _Ctx, a: pd.DataFrame, routes: pd.DataFrame, tc: TravelCheck | None) -> list[str]:
    """Allocation and route minutes against the recomputed travel, and each route's path."""
    v: list[str] = []
    if len(a) and "travel_min" in a:
        told: dict[tuple[str, str], float] = {}
        for r in _rows(a):
            want = cx.minutes_of(str(r.depot_id), str(r.site_id))
            if np.isfinite(want) and not _close(float(r.travel_min), want):
                told.setdefault((str(r.depot_id), str(r.site_id)), float(r.travel_min))
        for (d, s), t in sorted(told.items()):
            v.append(f"travel: allocations {d} -> {s} say {t:g} min; "
                     f"the roads under the traffic control give {cx.minutes_of(d, s):g} min")
    pairs = set(zip(a.depot_id, a.site_id)) if len(a) else set()
    have = set(zip(routes.depot_id, routes.site_id)) if len(routes) else set()
    for d, s in sorted(pairs - have):
        v.append(f"route: {d} -> {s} ships but has no row in routes")
    for r in _rows(routes):
        d, s = str(r.depot_id), str(r.site_id)
        want = cx.minutes_of(d, s)
        if np.isfinite(want) and not _close(float(r.travel_min), want):
            v.append(f"route: {d} -> {s} takes {float(r.travel_min):g} min in routes; "
                     f"the roads under the traffic control give {want:g} min")
        path = [str(x) for x in (r.path if isinstance(r.path, list | tuple) else ())]
        if tc is None or not np.isfinite(want):
            continue
        if tc.roads is None:  # the great-circle fallback: distance x 1.3
            km = _fallback_km(cx, d, s)
            if "distance_km" in routes and abs(float(r.distance_km) - km) > 1e-3 * max(1.0, km):
                v.append(f"route: {d} -> {s} is {float(r.distance_km):g} km in routes; "
                         f"the great-circle fallback gives {km:.3f} km")
            continue
        if not path:
            v.append(f"route: {d} -> {s} has no path")
            continue
        if path[0] != tc.depot_node.get(d) or path[-1] != tc.site_node.get(s):
            v.append(f"route: {d} -> {s} runs {path[0]} -> {path[-1]}, not from node "
                     f"{tc.depot_node.get(d)} to node {tc.site_node.get(s)}")
            continue
        why: list[str] = []
        ok = False
        for c in tc.classes.get(d, []):
            got = tc.roads.drive(path, c)
            if isinstance(got, str):
                why.append(got)
                continue
            t, passed, km = got
            cps = [str(x) for x in (r.checkpoints if isinstance(r.checkpoints, list | tuple) else ())]
            dist = float(r.distance_km) if "distance_km" in routes else km
            if _close(t, float(r.travel_min)) and sorted(cps) == sorted(passed) and abs(dist - km) <= 1e-6 * max(1.0, km):
                ok = True
                break
            why.append(f"driving it takes {t:g} min and {km:g} km past checkpoints {', '.join(passed) or 'none'}, "
                       f"routes say {float(r.travel_min):g} min and {dist:g} km past {', '.join(cps) or 'none'}")
        if not ok:
            v.append(f"route: {d} -> {s} path is not drivable as stated by any vehicle of {d}: {'; '.join(why)}")
    return v


def _fallback_km(cx: _Ctx, depot: str, site: str) -> float:
    d, s = cx.depots.loc[depot], cx.sites.loc[site]
    lat1, lon1, lat2, lon2 = (float(np.asarray(x, float)) for x in (d["lat"], d["lon"], s["lat"], s["lon"]))
    return _haversine_km(lat1, lon1, lat2, lon2) * _DETOUR


def _cover(cx: _Ctx, a: pd.DataFrame) -> pd.DataFrame:
    """Allocations with ``r`` (ratio) and ``covered`` (units of need covered)."""
    r = [cx.ratio.get((str(n), str(i)), np.nan) for n, i in zip(a.need_item_id, a.item_id)]
    out = a.assign(r=np.asarray(r, float))
    return out.assign(covered=out.quantity.to_numpy(float) / out.r.to_numpy(float))


def _covered(cx: _Ctx, a: pd.DataFrame) -> dict[tuple[str, str], float]:
    if a.empty:
        return {}
    out: dict[tuple[str, str], float] = {}
    for r in _rows(_cover(cx, a)):
        k = (str(r.site_id), str(r.need_item_id))
        out[k] = out.get(k, 0.0) + float(r.covered)
    return out


def _need(cx: _Ctx, a: pd.DataFrame, fill: pd.DataFrame) -> list[str]:
    """Rule 2: no site gets more than its need (a whole pack may round it up)."""
    v: list[str] = []
    if a.empty:
        return v
    needs = {(str(s), str(i)): float(q) for s, i, q in zip(fill.site_id, fill.item_id, fill.need)}
    pack = cx.items.pack_size if "pack_size" in cx.items else pd.Series(1, index=cx.items.index)
    packs = {str(i): (1.0 if pd.isna(p) else float(p)) for i, p in pack.items()}
    got: dict[tuple[str, str], float] = {}
    slack: dict[tuple[str, str], float] = {}
    lots: dict[tuple[str, str], set[str]] = {}
    for r in _rows(_cover(cx, a)):
        k = (str(r.site_id), str(r.need_item_id))
        got[k] = got.get(k, 0.0) + float(r.covered)
        slack[k] = max(slack.get(k, -math.inf), (packs.get(str(r.item_id), 1.0) - 1) / float(r.r))
        lots.setdefault(k, set()).add(str(r.lot_id))
    short = _rows(fill[(fill.shortage > TOL) & ~fill.site_id.isin(cx.excluded)])
    left: dict[str, float] | None = None
    for k in sorted(got):
        need = needs.get(k, 0.0)
        if got[k] > need + TOL + max(slack[k], 0.0) or (got[k] > need + TOL and slack[k] <= 0):
            v.append(f"need: {k[0]} receives {got[k]:g} units of {k[1]} and needs {need:g}")
        elif got[k] > need + TOL:
            left = left if left is not None else _left(cx, a)
            v.extend(_pack_took(cx, left, short, k[0], k[1], sorted(lots[k])))
    return v


def _pack_took(cx: _Ctx, left: dict[str, float], short: list[Any], site: str, need_item: str,
               lots: list[str]) -> list[str]:
    """Rule 2's exception: rounding up to a whole pack never takes a unit that a site of the same or a
    higher tier still needs (a need short by a whole unit that the exhausted lot could serve)."""
    tier = cx.tier.get(site, 0)
    for lot_id in lots:
        lot = cx.usable.get(lot_id)
        if lot is None or left.get(lot_id, 0.0) >= 1:
            continue  # units left over: an idle-stock question (priority 1), not this one
        for r in short:
            rt = cx.ratio.get((str(r.item_id), lot.item_id))
            if (int(r.tier) > tier or rt is None or (str(r.site_id), str(r.item_id)) == (site, need_item)
                    or float(r.shortage) * rt < 1 - TOL):
                continue
            if cx.serves(lot, str(r.site_id)):
                return [f"need: {site} is rounded up to a whole pack of {lot.item_id} (lot {lot_id}) while "
                        f"{r.site_id} (tier {r.tier}) is short of {float(r.shortage):g} {r.item_id}"]
    return []


def _kg(cx: _Ctx, a: pd.DataFrame) -> dict[str, float]:
    """Kilograms dispatched per depot (an item without unit_weight_kg weighs 1 kg a unit)."""
    out: dict[str, float] = {}
    for d, i, q in zip(a.depot_id, a.item_id, a.quantity):
        out[str(d)] = out.get(str(d), 0.0) + float(q) * cx.weight.get(str(i), 1.0)
    return out


def _capacity(cx: _Ctx, a: pd.DataFrame) -> list[str]:
    """Rule 7: a depot's shipments weigh at most its dispatch capacity."""
    v = []
    for d, w in _kg(cx, a).items():
        cap = cx.cap.get(d, math.inf)
        if w > cap + TOL:
            v.append(f"capacity: {d} dispatches {w:g} kg > its capacity {cap:g} kg")
    return v


def _locks(cx: _Ctx, a: pd.DataFrame, fill: pd.DataFrame) -> list[str]:
    """Overrides: every lock holds exactly and covers its site's own need for its item first."""
    v: list[str] = []
    locks = cx.locks
    keys = {(lk["depot_id"], lk["site_id"], lk["item_id"]): int(lk["quantity"]) for lk in locks}
    if cx.sc.has("locks"):
        for r in _rows(cx.sc.locks):
            k = (str(r.depot_id), str(r.site_id), str(r.item_id))
            if keys.get(k) != int(r.quantity):
                v.append(f"lock: locks.csv locks {r.quantity} {k[2]} from {k[0]} to {k[1]}, the round has "
                         f"{keys.get(k, 'no such lock')}")
    for lk in locks:
        got = a[(a.depot_id == lk["depot_id"]) & (a.site_id == lk["site_id"]) & (a.item_id == lk["item_id"])].quantity.sum()
        if got != lk["quantity"]:
            v.append(f"lock: {lk} ships {got}")
    needs = fill.set_index(["site_id", "item_id"]).need
    own_locked: dict[tuple[str, str], int] = {}
    for lk in locks:
        sk = (str(lk["site_id"]), str(lk["item_id"]))
        own_locked[sk] = own_locked.get(sk, 0) + int(lk["quantity"])
    for (s, i), q in own_locked.items():
        if q <= 0 or (s, i) not in needs.index:
            continue
        deps = {lk["depot_id"] for lk in locks if lk["site_id"] == s and lk["item_id"] == i}
        own = a[(a.site_id == s) & (a.item_id == i) & (a.need_item_id == i) & a.depot_id.isin(deps)].quantity.sum()
        want = min(q, float(needs[(s, i)]))
        if own < want - TOL:
            v.append(f"lock: {q} locked {i} to {s} cover only {own} of its own need for {i} (at least {want:g})")
    return v


def _fill(cx: _Ctx, f: pd.DataFrame, cov: dict[tuple[str, str], float]) -> list[str]:
    """``fill`` agrees with the allocations and with ``needs.csv``."""
    v: list[str] = []
    for r in _rows(f):
        exp = min(float(r.need), cov.get((str(r.site_id), str(r.item_id)), 0.0))
        if abs(float(r.filled) - exp) > 1e-5:
            v.append(f"fill: {r.site_id}/{r.item_id} filled {r.filled} but allocations cover {exp:g}")
        if abs(float(r.need) - float(r.filled) - float(r.shortage)) > 1e-5:
            v.append(f"fill: {r.site_id}/{r.item_id} shortage {r.shortage} != need - filled")
        if r.site_id in cx.tier and int(r.tier) != cx.tier[r.site_id]:
            v.append(f"fill: {r.site_id}/{r.item_id} has tier {r.tier}, the site's tier is {cx.tier[r.site_id]}")
        if float(r.shortage) <= TOL and _text(r.reason):
            v.append(f"fill: {r.site_id}/{r.item_id} is not short but has reason {r.reason!r}")
    if cx.sc.has("needs"):
        want = {(str(s), str(i)): float(q) for s, i, q in zip(cx.sc.needs.site_id, cx.sc.needs.item_id, cx.sc.needs.quantity)
                if str(s) not in cx.excluded}
        have = {(str(s), str(i)): float(q) for s, i, q in zip(f.site_id, f.item_id, f.need)}
        for k in sorted(set(want) | set(have)):
            if want.get(k, 0.0) > 0 and k not in have:
                v.append(f"fill: the need of {k[0]} for {k[1]} ({want[k]:g}) has no row in fill")
            elif k in have and k in want and not _close(have[k], want[k]) and have[k] > want[k]:
                v.append(f"fill: {k[0]}/{k[1]} needs {have[k]:g} in fill but {want[k]:g} in needs.csv")
    return v


# --------------------------------------------------------------------------- shortage reasons


def shortage_reasons(scenario: Scenario, result: Any, travel: Any = None) -> pd.Series:
    """The reason of every shortage of ``result.fill``, recomputed (aligned with ``fill``; "" = not short).

    For a need short by more than :data:`TOL`, over the usable lots of the item or a listed
    substitute at depots that are not excluded, the first that applies (allocation-rules.md,
    "Shortage reasons"):

    - ``unreachable``: no such lot's depot reaches the site;
    - ``earmarked``: no reachable lot's earmark allows the site, or some reachable stock is
      still *available to this need* (left over, or sent to a lower tier) but none that the
      earmarks allow;
    - ``grade``: no reachable, allowed lot is of a grade the site may receive, or reachable,
      allowed stock is still available to this need but none of it is left over and of an
      allowed grade (it is civil-grade and the site clinical);
    - ``capacity``: a reachable, allowed lot of an allowed grade has a unit left and its depot
      cannot dispatch one more of it (remaining capacity below the item's unit weight);
    - ``supply``: otherwise, and when there is no usable lot of the item or a substitute at all.
    """
    sc = scenario
    minutes = travel_minutes(sc) if travel is None else _given_minutes(travel)
    cx = _Ctx.of(sc, result, minutes)
    return _recompute_reasons(cx, result.allocations, result.fill, strict=True)


def _shipments(a: pd.DataFrame) -> dict[str, list[Any]]:
    """Allocation rows by lot."""
    out: dict[str, list[Any]] = {}
    for r in _rows(a):
        out.setdefault(str(r.lot_id), []).append(r)
    return out


def _left(cx: _Ctx, a: pd.DataFrame) -> dict[str, float]:
    """What each usable lot has left after the round."""
    left = {k: lot.quantity for k, lot in cx.usable.items()}
    for k, q in zip(a.lot_id, a.quantity):
        if str(k) in left:
            left[str(k)] -= float(q)
    return left


def _recompute_reasons(cx: _Ctx, a: pd.DataFrame, f: pd.DataFrame, strict: bool) -> pd.Series:
    out = pd.Series([""] * len(f), index=f.index, dtype=object)
    left = _left(cx, a)
    low_tier: dict[str, int] = {}
    for k, s in zip(a.lot_id, a.site_id):
        low_tier[str(k)] = max(low_tier.get(str(k), 0), cx.tier.get(str(s), 0))
    kg = _kg(cx, a)
    eps = -1e-9 if strict else 1e-9
    for i, site, need_item, tier, shortage in zip(f.index, f.site_id.astype(str), f.item_id.astype(str), f.tier, f.shortage):
        if float(shortage) <= TOL or site in cx.excluded:
            continue
        ships = {s for (n, s) in cx.ratio if n == need_item}
        c = [lot for lot in cx.usable.values() if lot.item_id in ships]
        if not c:
            out[i] = "supply"
            continue
        R = E = G = R_kept = E_kept = G_left = G_cap = False
        for lot in c:
            if not np.isfinite(cx.minutes_of(lot.depot_id, site)):
                continue
            has_left = left[lot.lot_id] >= 1
            kept = has_left or low_tier.get(lot.lot_id, 0) > int(tier)
            R = True
            R_kept |= kept
            if not cx.earmark_ok(lot.donation_id, site):
                continue
            E = True
            E_kept |= kept
            if not cx.grade_ok(lot.item_id, site):
                continue
            G = True
            G_left |= has_left
            if has_left and lot.depot_id in cx.cap:
                room = cx.cap[lot.depot_id] - kg.get(lot.depot_id, 0.0)
                G_cap |= room < cx.weight.get(lot.item_id, 1.0) + eps
        if not R:
            out[i] = "unreachable"
        elif not E or (R_kept and not E_kept):
            out[i] = "earmarked"
        elif not G or (E_kept and not G_left):
            out[i] = "grade"
        elif G_cap:
            out[i] = "capacity"
        else:
            out[i] = "supply"
    return out


def _reasons(cx: _Ctx, a: pd.DataFrame, f: pd.DataFrame) -> list[str]:
    """Each shortage's reason is the one recomputed from its definition."""
    v: list[str] = []
    strict = _recompute_reasons(cx, a, f, strict=True)
    loose = _recompute_reasons(cx, a, f, strict=False)
    for i, r in f.iterrows():
        if float(r.shortage) <= TOL or r.site_id in cx.excluded:
            continue
        got = _text(r.reason)
        if got not in REASONS:
            v.append(f"fill: {r.site_id}/{r.item_id} is short without a valid reason (got {got!r})")
        elif got not in (strict.at[i], loose.at[i]):
            v.append(f"reason: {r.site_id}/{r.item_id} is short for {got!r}; its definition gives {strict.at[i]!r}")
    return v


def _donations(cx: _Ctx, a: pd.DataFrame, usage: pd.DataFrame) -> list[str]:
    """``donation_usage`` is exactly the shipments of donated lots, by lot and site."""
    v: list[str] = []
    donors = cx.sc.donations.set_index("donation_id").donor if cx.sc.has("donations") else pd.Series(dtype=object)
    want: dict[tuple[str, str, str], float] = {}
    for r in _rows(a):
        did = _text(cx.stock.at[r.lot_id, "donation_id"]) if r.lot_id in cx.stock.index else ""
        if did:
            k = (did, str(r.lot_id), str(r.site_id))
            want[k] = want.get(k, 0.0) + float(r.quantity)
    have: dict[tuple[str, str, str], float] = {}
    for r in _rows(usage):
        k = (str(r.donation_id), str(r.lot_id), str(r.site_id))
        have[k] = have.get(k, 0.0) + float(r.quantity)
        if str(r.donation_id) in donors.index and _text(r.donor) != _text(donors[str(r.donation_id)]):
            v.append(f"donation: usage of {r.donation_id} names donor {r.donor!r}, not {donors[str(r.donation_id)]!r}")
    for k in sorted(set(want) | set(have)):
        if abs(want.get(k, 0.0) - have.get(k, 0.0)) > TOL:
            v.append(f"donation: lot {k[1]} of donation {k[0]} ships {want.get(k, 0.0):g} to {k[2]}, "
                     f"donation_usage says {have.get(k, 0.0):g}")
    return v


# --------------------------------------------------------------------------- priorities


def _locked(cx: _Ctx) -> set[tuple[str, str, str]]:
    return {(lk["depot_id"], lk["site_id"], lk["item_id"]) for lk in cx.locks}


def _priorities(cx: _Ctx, a: pd.DataFrame, f: pd.DataFrame) -> list[str]:
    """Priority 1 by single-unit moves: no short need beside idle stock or stock sent to a lower tier."""
    v: list[str] = []
    left = _left(cx, a)
    by_lot = _shipments(a)
    locked = _locked(cx)
    kg = _kg(cx, a)
    short = f[(f.shortage > TOL) & ~f.site_id.isin(cx.excluded)]
    for r in _rows(short):
        ships = {s for (n, s) in cx.ratio if n == r.item_id}
        for lot in cx.usable.values():
            if lot.item_id not in ships:
                continue
            rt = cx.ratio[(r.item_id, lot.item_id)]
            if float(r.shortage) * rt < 1 - TOL or (lot.depot_id, r.site_id, lot.item_id) in locked:
                continue
            if not cx.serves(lot, r.site_id):
                continue
            room = cx.cap.get(lot.depot_id, math.inf) - kg.get(lot.depot_id, 0.0)
            if left[lot.lot_id] >= 1 and room >= cx.weight.get(lot.item_id, 1.0) - TOL:
                v.append(f"tier: {r.site_id} (tier {r.tier}) is short of {r.item_id} while lot {lot.lot_id} "
                         f"at {lot.depot_id} could send it {int(left[lot.lot_id])} more")
                break
            low = next((x for x in by_lot.get(lot.lot_id, ()) if cx.tier[x.site_id] > r.tier
                        and (x.depot_id, x.site_id, x.item_id) not in locked), None)
            if low is not None:
                v.append(f"tier: lot {lot.lot_id} sends {low.quantity} to {low.site_id} (tier {cx.tier[low.site_id]}) "
                         f"while {r.site_id} (tier {r.tier}) is short of {r.item_id}")
                break
    return v


def _own_item_first(cx: _Ctx, a: pd.DataFrame, f: pd.DataFrame) -> list[str]:
    """Priority 1b: no unit covers a substitute need while a need for its own item is short.

    A violation is a unit of lot L (item I) covering another item's need at site A while a
    need for I at a site B that L may legally reach is short by a whole unit, and B is in a
    higher tier than A, or in the same tier with a ratio >= 1 (so that the move does not lower
    the tier's fill). A locked shipment may only move within its own site, and no unit may join
    a locked (depot, site, item) at another site.
    """
    v: list[str] = []
    if a.empty:
        return v
    subs = a[a.item_id != a.need_item_id]
    short = f[(f.shortage >= 1 - TOL) & ~f.site_id.isin(cx.excluded)]
    if subs.empty or short.empty:
        return v
    locked = _locked(cx)
    by_item = {str(i): _rows(df) for i, df in short.groupby("item_id")}
    for r in _rows(subs):
        own = by_item.get(r.item_id)
        lot = cx.usable.get(str(r.lot_id))
        if own is None or lot is None:
            continue
        t_a = cx.tier[r.site_id]
        rt = cx.ratio.get((r.need_item_id, r.item_id), 1.0)
        for b in own:
            if int(b.tier) > t_a or (int(b.tier) == t_a and rt < 1 - TOL):
                continue
            lk = (r.depot_id, r.site_id, r.item_id) in locked or (r.depot_id, b.site_id, r.item_id) in locked
            if lk and b.site_id != r.site_id:
                continue
            if b.site_id in cx.tier and cx.serves(lot, str(b.site_id)):
                v.append(f"own item: {r.quantity} {r.item_id} of lot {r.lot_id} cover {r.need_item_id} at "
                         f"{r.site_id} (tier {t_a}) while {b.site_id} (tier {b.tier}) is short of "
                         f"{b.shortage:g} {r.item_id}")
                break
    return v


def _fairness(cx: _Ctx, a: pd.DataFrame, f: pd.DataFrame) -> list[str]:
    """Priority 2: the unique least-filled site of a tier and item cannot be helped by a better-filled one."""
    v: list[str] = []
    locked = _locked(cx)
    by_site: dict[tuple[str, str], list[Any]] = {}
    for r in _rows(a):
        by_site.setdefault((str(r.site_id), str(r.need_item_id)), []).append(r)
    for (t, item), df in f[(f.need > 0) & ~f.site_id.isin(cx.excluded)].groupby(["tier", "item_id"]):
        if len(df) < 2:
            continue
        df = df.sort_values("fill_ratio")
        lo = df.iloc[0]
        if float(df.iloc[1].fill_ratio) <= float(lo.fill_ratio) + 2.0 / float(lo.need) + TOL:
            continue
        found = False
        for hi in _rows(df.iloc[1:]):
            for x in by_site.get((str(hi.site_id), str(item)), ()):
                lot = cx.usable.get(str(x.lot_id))
                if ((x.depot_id, x.site_id, x.item_id) in locked or (x.depot_id, lo.site_id, x.item_id) in locked
                        or lot is None):
                    continue
                rt = cx.ratio[(str(item), str(x.item_id))]
                after_hi = (float(hi.filled) - 1.0 / rt) / float(hi.need)
                after_lo = (float(lo.filled) + 1.0 / rt) / float(lo.need)
                if after_hi > after_lo + TOL and cx.serves(lot, str(lo.site_id)):
                    v.append(f"fairness: {lo.site_id} has the lowest fill of {item} in tier {t} "
                             f"({float(lo.fill_ratio):.3f}) while lot {x.lot_id} could move a unit to it from "
                             f"{hi.site_id} ({float(hi.fill_ratio):.3f})")
                    found = True
                    break
            if found:
                break
    return v


# =========================================================================== fairness reference


class _NoResult:
    summary: dict[str, Any] = {}


def leximin_reference(scenario: Scenario, travel: Any = None, tol: float = 1e-9) -> dict[tuple[str, str], float]:
    """Fill ratio of every need (site, item) in the textbook lexicographic optimum of the round's LP.

    Built from the input tables alone and solved with :func:`scipy.optimize.linprog` (HiGHS):
    one variable per (usable lot, need) pair the rules allow (item or listed substitute, grade,
    earmark, reachable under :func:`travel_minutes` or ``travel``); rows for stock, need
    (substitutes by their ratio) and dispatch capacity. Then, each optimum held as a row
    ``>= optimum - tol``:

    1. the units of need filled in tier 1, then tier 2, ... (priority 1);
    2. the units that cover a need of their own item (priority 1b);
    3. per tier, the leximin of its fill ratios (all items together): maximise the common level
       ``t`` of the needs still free; for each of them, maximise its ratio keeping every hold and
       the others at ``t`` or above; those that cannot exceed ``t`` freeze at ``t``; repeat.

    Parameters
    ----------
    scenario : Scenario
        With ``needs.csv`` and without locks (the reference has no overrides).
    travel : DataFrame or object with ``minutes``, optional
        The travel matrix the round was given.
    tol : float
        Slack of every hold (absolute); a need whose ratio cannot rise by ``100 * tol`` freezes.

    Returns
    -------
    dict
        (site_id, item_id) -> filled / need, for every need > 0.

    Raises
    ------
    AllocatorError
        Without ``needs.csv``, with locks, or when an LP does not solve.

    Examples
    --------
    >>> from allocator import examples
    >>> r = leximin_reference(examples.two_hospitals())
    >>> {k: round(v, 6) for k, v in r.items()}
    {('H1', 'n95'): 0.625, ('H2', 'n95'): 0.625}
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, vstack

    from allocator.errors import AllocatorError

    sc = scenario
    if not sc.has("needs"):
        raise AllocatorError("leximin_reference needs the scenario's needs.csv")
    if sc.has("locks") and len(sc.locks):
        raise AllocatorError("leximin_reference does not model locks")
    minutes = travel_minutes(sc) if travel is None else _given_minutes(travel)
    cx = _Ctx.of(sc, _NoResult(), minutes)
    needs = [(str(s), str(i), float(q)) for s, i, q in zip(sc.needs.site_id, sc.needs.item_id, sc.needs.quantity)
             if float(q) > 0 and str(s) in cx.tier]
    cand: list[tuple[int, str, float, bool]] = []  # need row, lot, ratio, own item
    for k, (site, need_item, _q) in enumerate(needs):
        for lot in cx.usable.values():
            rt = cx.ratio.get((need_item, lot.item_id))
            if rt is not None and cx.serves(lot, site):
                cand.append((k, lot.lot_id, rt, lot.item_id == need_item))
    n = len(cand)
    out = {(s, i): 0.0 for s, i, _ in needs}
    if n == 0:
        return out
    lots = sorted({c[1] for c in cand})
    lot_row = {lot_id: j for j, lot_id in enumerate(lots)}
    depots = sorted(cx.cap)
    dep_row = {d: j for j, d in enumerate(depots)}
    rows, cols, vals = [], [], []
    for j, (k, lot_id, rt, _own) in enumerate(cand):
        rows += [lot_row[lot_id], len(lots) + k]
        cols += [j, j]
        vals += [1.0, 1.0 / rt]
        d = cx.usable[lot_id].depot_id
        if d in dep_row:
            rows.append(len(lots) + len(needs) + dep_row[d])
            cols.append(j)
            vals.append(cx.weight.get(cx.usable[lot_id].item_id, 1.0))
    m0 = len(lots) + len(needs) + len(depots)
    A = csr_matrix((vals, (rows, cols)), shape=(m0, n + 1))  # last column: the level t
    b = [cx.usable[x].quantity for x in lots] + [q for _, _, q in needs] + [cx.cap[d] for d in depots]
    holds: list[Any] = []
    hold_b: list[float] = []
    tier_of = [cx.tier[s] for s, _, _ in needs]

    def units(tier: int) -> np.ndarray:
        """Coefficients of the units of need covered in a tier."""
        c = np.zeros(n + 1)
        for j, (k, _lot, rt, _own) in enumerate(cand):
            if tier_of[k] == tier:
                c[j] = 1.0 / rt
        return c

    def ratio(need: int) -> np.ndarray:
        """Coefficients of one need's fill ratio."""
        c = np.zeros(n + 1)
        for j, (k, _lot, rt, _own) in enumerate(cand):
            if k == need:
                c[j] = 1.0 / rt / needs[k][2]
        return c

    def solve(c: np.ndarray, extra: list[tuple[np.ndarray, float]] | None = None) -> float:
        """Maximise c.x under every row, the holds and the extra ``row.x >= bound`` rows."""
        extra = extra or []
        mats = [A] + holds + [csr_matrix(-e[0]) for e in extra]
        ub = np.concatenate([np.asarray(b, float), np.asarray(hold_b, float), np.asarray([-e[1] for e in extra], float)])
        A_all = vstack(mats).tocsr()
        relax = np.zeros(len(ub))
        relax[len(b):len(b) + len(hold_b)] = 1.0  # only the holds give way, and only by solver noise
        for slack in (0.0, 1e-8, 1e-7, 1e-6):
            res = linprog(-c, A_ub=A_all, b_ub=ub + slack * relax, bounds=[(0, None)] * n + [(0, 1)], method="highs")
            if res.status != 2:  # 2: infeasible (a hold tighter than the solver's own tolerance)
                break
        if res.status != 0:
            raise AllocatorError(f"leximin_reference: the LP did not solve ({res.message})")
        return float(-res.fun)

    def hold(c: np.ndarray, opt: float, slack: float) -> None:
        holds.append(csr_matrix(-c))
        hold_b.append(-(opt - slack))

    for t in sorted(set(tier_of)):
        opt = solve(units(t))
        hold(units(t), opt, tol)
    own = np.zeros(n + 1)
    own[:n] = [1.0 if c[3] else 0.0 for c in cand]
    if not own[:n].all():
        opt = solve(own)
        hold(own, opt, tol)
    level = np.zeros(n + 1)
    level[n] = 1.0
    for t in sorted(set(tier_of)):
        active = [k for k in range(len(needs)) if tier_of[k] == t]
        while active:
            # the common level of the active needs: ratio_k - level >= 0
            s = solve(level, [(ratio(k) - level, 0.0) for k in active])
            at_s = [(ratio(k), s - tol) for k in active]
            frozen = [k for k in active if solve(ratio(k), at_s) <= s + 100 * tol]
            if not frozen:  # numerically every need can rise a hair: they all sit at the level
                frozen = list(active)
            for k in frozen:
                out[(needs[k][0], needs[k][1])] = s
                hold(ratio(k), s, tol)
            active = [k for k in active if k not in frozen]
    return out
