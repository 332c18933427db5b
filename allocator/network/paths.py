"""Travel times under traffic control: bulk shortest paths on a compact array graph.

networkx stays the model (:class:`~allocator.network.model.RoadNetwork`); for
speed, each (network, rules in force, vehicle class) is turned once into a
SciPy CSR matrix and all depots are solved in one call of
:func:`scipy.sparse.csgraph.dijkstra` (``indices=depot nodes,
return_predecessors=True``). Results are cached by the rules' effect on the
vehicle class (:class:`~allocator.network.control.Effect`), so classes that the
rules treat alike share one computation and an unchanged network is not
recomputed.

Checkpoint delays. A checkpoint's delay is paid once per *pass*, a pass being
entry into a run of consecutive arcs of that checkpoint. The delay depends on
the arc driven before, so the graph is expanded: every node that is the head of
a checkpointed arc gets an extra state "arrived on an arc of checkpoint group
g" (g = the set of checkpoint rules on that arc). An arc of group g' leaving a
state of group g costs its minutes plus the delays of the rules in g' but not in
g; so the delay lands on the arcs that *enter* a checkpointed run from outside
it, and continuing along the run costs nothing extra. Distances to a node are
the minimum over its states. The expansion is built from every checkpoint rule
of the control (in force or not), so its shape does not change with time: a
checkpoint coming into or out of force reuses the expansion.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from allocator.errors import NetworkError, UnknownKeyError
from allocator.network.control import Effect, TrafficControl, vehicle_classes
from allocator.network.model import RoadNetwork

ROUTE_COLUMNS = ["depot_id", "site_id", "travel_min", "distance_km", "checkpoints", "path", "permits_used"]

#: How many solved (effect, sources) results are kept (each is k x nodes floats).
CACHE_SIZE = 6


# --------------------------------------------------------------------------- expanded graph


@dataclass(frozen=True)
class Expanded:
    """The checkpoint-expanded arc list of a network (independent of time and vehicle).

    Expanded arc ``e`` runs from state ``tail[e]`` to state ``head[e]`` and is
    original arc ``arc[e]``; entering through it charges the checkpoint rules
    ``charge[e]`` (a tuple, usually empty). States ``0..n-1`` are the plain nodes;
    state ``s >= n`` is at node ``node[s]``.
    """

    n: int
    node: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    arc: np.ndarray
    charge: np.ndarray
    charged_any: np.ndarray

    @property
    def n_states(self) -> int:
        return len(self.node)

    @cached_property
    def arc_of_states(self) -> dict[tuple[int, int], int]:
        """(tail state, head state) to expanded arc index, built once and kept by this object."""
        return {(int(a), int(b)): i for i, (a, b) in enumerate(zip(self.tail, self.head))}


def _checkpoint_key(control: TrafficControl) -> tuple:
    """What the expanded graph depends on: the checkpoint rules' ids and where they apply."""
    return tuple(sorted((r.rule_id, r.road, r.u, r.v) for r in control.rules if r.kind == "checkpoint"))


def _lru(net: RoadNetwork, name: str) -> OrderedDict:
    """A least-recently-used cache owned by the network (``net.cache[name]``)."""
    c = net.cache.get(name)
    if c is None:
        c = net.cache[name] = OrderedDict()
    return c


def _remember(cache: OrderedDict, key: Any, value: Any, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)


def expanded(net: RoadNetwork, control: TrafficControl) -> Expanded:
    """Build (or fetch from the network's cache) the checkpoint-expanded arc list.

    The cache lives on ``net`` (``net.cache``) and is keyed by the content of the
    checkpoint rules, so editing a rule gives a new expansion and a new network
    (a scenario whose roads changed, see :func:`network_of`) starts empty.
    """
    gkey = _checkpoint_key(control)
    cache = _lru(net, "expanded")
    hit = cache.get(gkey)
    if hit is not None:
        cache.move_to_end(gkey)
        return hit
    groups = control.groups(net)
    a = net.arrays
    n = a.n_nodes
    cp = np.nonzero(groups != None)[0]  # noqa: E711 - object array comparison
    head_state = a.v.astype(np.int64).copy()
    extra_node: list[int] = []
    extra_group: list[frozenset] = []
    state_of: dict[tuple[int, frozenset], int] = {}
    for i in cp:
        k = (int(a.v[i]), groups[i])
        s = state_of.get(k)
        if s is None:
            s = n + len(extra_node)
            state_of[k] = s
            extra_node.append(k[0])
            extra_group.append(k[1])
        head_state[i] = s
    m = a.n_arcs
    tails = [a.u.astype(np.int64)]
    heads = [head_state]
    arcs = [np.arange(m, dtype=np.int64)]
    charge = _empties(m)
    for i in cp:
        charge[i] = tuple(sorted(groups[i]))
    charges = [charge]
    if extra_node:
        order = np.argsort(a.u, kind="stable")
        starts = np.searchsorted(a.u[order], np.arange(n + 1))
        for j, (at_node, g0) in enumerate(zip(extra_node, extra_group)):
            out = order[starts[at_node]:starts[at_node + 1]]
            if len(out) == 0:
                continue
            tails.append(np.full(len(out), n + j, np.int64))
            heads.append(head_state[out])
            arcs.append(out.astype(np.int64))
            ch = _empties(len(out))
            for slot, arc in enumerate(out):
                if groups[arc] is not None:
                    ch[slot] = tuple(sorted(groups[arc] - g0))
            charges.append(ch)
    node = np.concatenate([np.arange(n, dtype=np.int64), np.asarray(extra_node, np.int64)])
    ch_all = np.concatenate(charges)
    res = Expanded(
        n=n, node=node, tail=np.concatenate(tails), head=np.concatenate(heads), arc=np.concatenate(arcs),
        charge=ch_all, charged_any=np.fromiter((len(c) > 0 for c in ch_all), bool, len(ch_all)),
    )
    _remember(cache, gkey, res, 8)
    return res


def _empties(m: int) -> np.ndarray:
    out = np.empty(m, dtype=object)
    for i in range(m):
        out[i] = ()
    return out


def blocked_arcs(net: RoadNetwork, control: TrafficControl, effect: Effect) -> np.ndarray:
    """Boolean mask over the network's arcs that the effect's blocked rules shut."""
    mask = np.zeros(net.arrays.n_arcs, bool)
    for rid in effect.blocked:
        mask[control.arcs(net, control[rid])] = True
    return mask


def weights(net: RoadNetwork, control: TrafficControl, ex: Expanded, effect: Effect) -> tuple[np.ndarray, np.ndarray]:
    """Weight of every expanded arc under an effect, and the mask of usable expanded arcs."""
    w = net.arrays.minutes[ex.arc].copy()
    if effect.delays:
        delay = {rid: control[rid].delay_min for rid in effect.delays}
        idx = np.nonzero(ex.charged_any)[0]
        w[idx] += np.fromiter((sum(delay.get(r, 0.0) for r in ex.charge[i]) for i in idx), float, len(idx))
    usable = ~blocked_arcs(net, control, effect)[ex.arc]
    return w, usable


def csr(ex: Expanded, w: np.ndarray, usable: np.ndarray) -> csr_matrix:
    """The CSR matrix of the usable expanded arcs (weights are > 0: lengths and speeds are)."""
    N = ex.n_states
    return csr_matrix((w[usable], (ex.tail[usable], ex.head[usable])), shape=(N, N))


@dataclass
class Solved:
    """Shortest paths from a set of source nodes under one effect.

    ``dist`` and ``pred`` are (sources x states); ``row`` maps a source node index to its row.
    """

    effect: Effect
    sources: np.ndarray
    dist: np.ndarray
    pred: np.ndarray
    graph: csr_matrix
    w: np.ndarray
    usable: np.ndarray
    row: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row = {int(s): i for i, s in enumerate(self.sources)}


def solve(net: RoadNetwork, control: TrafficControl, effect: Effect, sources: Iterable[int]) -> Solved:
    """Shortest paths from ``sources`` (node indices) under ``effect``.

    Cached on ``net`` (``net.cache["solved"]``, the last :data:`CACHE_SIZE`), keyed
    by the content of the rules that matter (the checkpoint rules the expansion is
    built from, and every field of the rules the effect blocks or delays), never
    by object identity.
    """
    src = np.unique(np.asarray(list(sources), dtype=np.int64))
    ex = expanded(net, control)
    rules_key = tuple(sorted((r.rule_id, r.kind, r.road, r.u, r.v, r.area_wkt, r.delay_min)
                             for r in control.rules if r.rule_id in effect.blocked | effect.delays))
    key = (_checkpoint_key(control), effect, rules_key, src.tobytes())
    cache = _lru(net, "solved")
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return hit
    w, usable = weights(net, control, ex, effect)
    g = csr(ex, w, usable)
    if len(src):
        dist, pred = dijkstra(g, directed=True, indices=src, return_predecessors=True)
        dist = np.atleast_2d(dist)
        pred = np.atleast_2d(pred)
    else:
        dist = np.empty((0, ex.n_states))
        pred = np.empty((0, ex.n_states), np.int32)
    out = Solved(effect, src, dist, pred, g, w, usable)
    _remember(cache, key, out, CACHE_SIZE)
    return out


def node_distances(ex: Expanded, dist: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to each target node (min over its states) and the best state, per source row."""
    targets = np.asarray(targets, np.int64)
    best = np.tile(targets, (dist.shape[0], 1))
    d = dist[:, targets].copy()
    if ex.n_states > ex.n:
        extra = np.arange(ex.n, ex.n_states)
        pos: dict[int, list[int]] = {int(t): [] for t in targets}
        for j, t in enumerate(targets):
            pos[int(t)].append(j)
        for s in extra:
            for j in pos.get(int(ex.node[s]), ()):
                better = dist[:, s] < d[:, j]
                d[better, j] = dist[better, s]
                best[better, j] = s
    return d, best


# --------------------------------------------------------------------------- snapping


def usable_nodes(net: RoadNetwork, control: TrafficControl, at: pd.Timestamp | None) -> np.ndarray:
    """Nodes a site or depot may be snapped to.

    A usable node has an arc in and out that is not closed to every vehicle at
    ``at`` and lies in the largest strongly connected part of the network (or in
    another part holding at least 10 % of the nodes), so that a site is not
    snapped onto a stray fragment of a digitised map. Restricted zones do not
    make nodes unusable: a site inside a zone stays inside it.
    """
    a = net.arrays
    closed = np.zeros(a.n_arcs, bool)
    for r in control.in_force(at):
        if r.kind in ("closure", "checkpoint") and not r.lets(frozenset()) and not r.permits:
            closed[control.arcs(net, r)] = True
    keep = ~closed
    g = csr_matrix((np.ones(int(keep.sum())), (a.u[keep], a.v[keep])), shape=(a.n_nodes, a.n_nodes))
    _, lab = connected_components(g, directed=True, connection="strong")
    sizes = np.bincount(lab)
    big = (sizes >= max(2, 0.1 * a.n_nodes)) | (sizes == sizes.max())
    return big[lab] & (sizes[lab] > 1)


def snap(
    net: RoadNetwork, lat: np.ndarray | pd.Series, lon: np.ndarray | pd.Series, node_id: Iterable[str] | None,
    usable: Any,
    what: str = "site",
) -> np.ndarray:
    """Node index for each point: its ``node_id`` when given, else the nearest usable node (KD-tree)."""
    from allocator.geo import nearest

    a = net.arrays
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    ids = list(node_id) if node_id is not None else [""] * len(lat)
    out = np.full(len(lat), -1, np.int64)
    given = np.array([bool(x) for x in ids], bool)
    for i in np.nonzero(given)[0]:
        j = a.index.get(str(ids[i]))
        if j is None:
            raise NetworkError(f"{what} {i + 1}: node_id {ids[i]!r} is not a road node")
        out[i] = j
    rest = np.nonzero(~given)[0]
    if len(rest):
        usable = usable() if callable(usable) else usable
        cand = np.nonzero(usable)[0]
        if len(cand) == 0:
            raise NetworkError("no usable road node to snap to (every road is closed?)")
        if np.isnan(lat[rest]).any() or np.isnan(lon[rest]).any():
            raise NetworkError(f"a {what} without node_id needs lat and lon")
        idx, _ = nearest(lat[rest], lon[rest], a.lat[cand], a.lon[cand])
        out[rest] = cand[idx]
    return out


# --------------------------------------------------------------------------- Travel


@dataclass
class Travel:
    """Travel times from depots to sites, with the routes behind them.

    Attributes
    ----------
    minutes : DataFrame
        Indexed by depot_id, one column per site_id, minutes (``inf`` = unreachable
        by every vehicle class of the depot under the rules in force).
    fallback : bool
        True when the scenario has no roads: minutes are great-circle x 1.3 at 30 km/h.
    at : Timestamp or None
        When the rules were evaluated.
    """

    minutes: pd.DataFrame
    fallback: bool = False
    at: pd.Timestamp | None = None
    network: RoadNetwork | None = None
    control: TrafficControl | None = None
    depot_nodes: dict[str, int] = field(default_factory=dict)
    site_nodes: dict[str, int] = field(default_factory=dict)
    depot_classes: dict[str, list[frozenset]] = field(default_factory=dict)
    solved: dict[Effect, Solved] = field(default_factory=dict)
    best_effect: pd.DataFrame | None = None  # per pair, the Effect giving the minimum
    distance_km_fallback: pd.DataFrame | None = None

    def routes(self, pairs: Iterable[tuple[str, str]] | None = None) -> pd.DataFrame:
        """Route details for (depot_id, site_id) pairs (all pairs when None).

        Returns
        -------
        DataFrame
            ``depot_id, site_id, travel_min, distance_km, checkpoints, path,
            permits_used``: checkpoints are the rule ids passed (once per pass),
            path the road node ids, permits_used the permits the route needs.
            Unreachable pairs have ``inf`` minutes and empty lists.
        """
        if pairs is None:
            pairs = [(d, s) for d in self.minutes.index for s in self.minutes.columns]
        rows = []
        for d, s in pairs:
            d, s = str(d), str(s)
            if d not in self.minutes.index or s not in self.minutes.columns:
                raise UnknownKeyError(f"unknown depot/site pair ({d}, {s})")
            t = float(cast(float, self.minutes.loc[d, s]))
            if self.fallback:
                assert self.distance_km_fallback is not None
                rows.append((d, s, t, float(cast(float, self.distance_km_fallback.loc[d, s])), (), (), ()))
            elif not np.isfinite(t):
                rows.append((d, s, t, float("nan"), (), (), ()))
            else:
                rows.append(self._route(d, s, t))
        return pd.DataFrame(rows, columns=ROUTE_COLUMNS)

    def _route(self, d: str, s: str, t: float) -> tuple:
        net, control = self.network, self.control
        assert net is not None and control is not None and self.best_effect is not None
        eff = cast(Effect, self.best_effect.loc[d, s])
        sol = self.solved[eff]
        ex = expanded(net, control)
        r = sol.row[self.depot_nodes[d]]
        tgt = self.site_nodes[s]
        _, best = node_distances(ex, sol.dist[r:r + 1], np.array([tgt]))
        states = path_states(sol.pred[r], int(best[0, 0]))
        return route_details(net, control, ex, sol, states, d, s, t, self.depot_classes[d], self.at)


def path_states(pred_row: np.ndarray, target: int) -> list[int]:
    """Expanded states from the source to ``target`` following a predecessor row."""
    out = [target]
    while True:
        p = int(pred_row[out[-1]])
        if p < 0:
            break
        out.append(p)
    return out[::-1]


def route_details(net: RoadNetwork, control: TrafficControl, ex: Expanded, sol: Solved, states: list[int],
                  d: str, s: str, t: float, classes: list[frozenset], at: pd.Timestamp | None) -> tuple:
    """One routes.csv row from the expanded states of a shortest path."""
    a = net.arrays
    nodes = ex.node[states]
    arc_idx = a.arc_index_cached()
    arcs = [arc_idx[(int(x), int(y))] for x, y in zip(nodes[:-1], nodes[1:])]
    km = float(a.length_m[arcs].sum() / 1000.0) if arcs else 0.0
    checkpoints: list[str] = []
    for x, y in zip(states[:-1], states[1:]):
        e = _exp_arc(ex, x, y)
        checkpoints.extend(r for r in ex.charge[e] if r in sol.effect.delays)
    used = set(arcs)
    veh = next((c for c in classes if control.effect(c, at) == sol.effect), frozenset())
    permits: set[str] = set()
    for r in control.in_force(at):
        if r.rule_id in sol.effect.blocked or not r.permits or r.kind == "checkpoint" and not r.permits:
            continue
        if used.intersection(control.arcs(net, r).tolist()):
            permits.update(r.permits & veh)
    return (d, s, t, km, tuple(checkpoints), tuple(str(x) for x in a.node_ids[nodes]), tuple(sorted(permits)))


def _exp_arc(ex: Expanded, x: int, y: int) -> int:
    return ex.arc_of_states[(x, y)]


def plan(
    net: RoadNetwork,
    control: TrafficControl,
    depot_ids: list[str],
    depot_nodes: np.ndarray,
    depot_classes: dict[str, list[frozenset]],
    site_ids: list[str],
    site_nodes: np.ndarray,
    at: pd.Timestamp | None,
) -> Travel:
    """Travel times for snapped depots and sites; minutes = min over each depot's classes."""
    ex = expanded(net, control)
    effects: dict[Effect, set[int]] = {}
    dep_eff: dict[str, list[Effect]] = {}
    for d, node in zip(depot_ids, depot_nodes):
        effs = []
        for c in depot_classes[d]:
            e = control.effect(c, at)
            effects.setdefault(e, set()).add(int(node))
            if e not in effs:
                effs.append(e)
        dep_eff[d] = effs
    solved = {e: solve(net, control, e, src) for e, src in effects.items()}
    M = np.full((len(depot_ids), len(site_ids)), np.inf)
    best = np.empty((len(depot_ids), len(site_ids)), dtype=object)
    site_nodes = np.asarray(site_nodes, np.int64)
    for e, sol in solved.items():
        dd, _ = node_distances(ex, sol.dist, site_nodes)
        for i, d in enumerate(depot_ids):
            if e not in dep_eff[d]:
                continue
            row = dd[sol.row[int(depot_nodes[i])]]
            better = row < M[i]
            if best[i, 0] is None:
                better |= True
            M[i, better] = row[better]
            best[i, better] = e
    minutes = pd.DataFrame(M, index=pd.Index(depot_ids, name="depot_id"), columns=pd.Index(site_ids, name="site_id"))
    return Travel(
        minutes=minutes, fallback=False, at=at, network=net, control=control,
        depot_nodes={d: int(n) for d, n in zip(depot_ids, depot_nodes)},
        site_nodes={s: int(n) for s, n in zip(site_ids, site_nodes)},
        depot_classes=depot_classes, solved=solved,
        best_effect=pd.DataFrame(best, index=minutes.index, columns=minutes.columns),
    )


def _ids(df: pd.DataFrame, key: str) -> list[str]:
    col = key if key in df.columns else df.columns[0]
    return [str(x) for x in df[col]]


def travel_matrix(
    network: RoadNetwork,
    control: TrafficControl | None,
    depots: pd.DataFrame,
    sites: pd.DataFrame,
    at: pd.Timestamp | str | None = None,
    vehicle: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Minutes from every depot to every site for one vehicle class (``inf`` = unreachable).

    Parameters
    ----------
    network : RoadNetwork
    control : TrafficControl or None
        The rules (None: no traffic control).
    depots, sites : DataFrame
        ``depot_id`` / ``site_id`` (else the first column), ``lat``, ``lon`` and
        optionally ``node_id`` (a given node id is used instead of snapping).
    at : Timestamp, optional
        When the rules are evaluated (None: every rule is in force).
    vehicle : iterable of str, optional
        The vehicle's permits (None: the contract's default vehicle, holding
        every checkpoint and restricted-zone permit and no closure permit).

    Returns
    -------
    DataFrame
        Indexed by depot_id, columns site_id. Route details: :func:`travel_for`.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.network import RoadNetwork
    >>> sc = examples.ring_road()
    >>> net = RoadNetwork.from_tables(sc.road_nodes, sc.roads)
    >>> travel_matrix(net, None, sc.depots, sc.sites).round(1).loc["D1", "H1"]
    np.float64(1.5)
    """
    return travel_for(network, control, depots, sites, at, vehicle).minutes


def travel_for(
    network: RoadNetwork,
    control: TrafficControl | None,
    depots: pd.DataFrame,
    sites: pd.DataFrame,
    at: pd.Timestamp | str | None = None,
    vehicle: Iterable[str] | None = None,
) -> Travel:
    """Like :func:`travel_matrix` but returns the :class:`Travel` (minutes and routes)."""
    control = control or TrafficControl([])
    at = None if at is None else pd.Timestamp(at)
    veh = control.permits() if vehicle is None else frozenset(vehicle)
    usable = cache(lambda: usable_nodes(network, control, at))

    dn = snap(network, depots.lat, depots.lon, depots["node_id"] if "node_id" in depots else None, usable, "depot")
    sn = snap(network, sites.lat, sites.lon, sites["node_id"] if "node_id" in sites else None, usable, "site")
    dids, sids = _ids(depots, "depot_id"), _ids(sites, "site_id")
    return plan(network, control, dids, dn, {d: [veh] for d in dids}, sids, sn, at)


def table_fingerprint(*frames: pd.DataFrame) -> bytes:
    """A digest of the content of tables (column names, dtypes and every cell, in order).

    Two tables with the same fingerprint hold the same values, whichever objects
    they are; a cell edited in place changes it. Cost: one pass of
    :func:`pandas.util.hash_pandas_object` (a few ms for 100,000 rows).
    """
    h = hashlib.blake2b(digest_size=16)
    for df in frames:
        h.update(repr((list(map(str, df.columns)), [str(t) for t in df.dtypes], df.shape)).encode())
        if len(df):
            h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.digest()


def network_of(scenario: Any) -> RoadNetwork | None:
    """The scenario's road network (None when it has no roads).

    Cached by the content of the ``road_nodes`` and ``roads`` tables
    (:func:`table_fingerprint`), so editing a table in place (halving
    ``speed_kmh``, removing a road) builds a new network, and the travel times
    computed on it (cached on the network) start afresh.
    """
    if not (scenario.has("roads") and scenario.has("road_nodes")):
        return None
    key = table_fingerprint(scenario.tables["road_nodes"], scenario.tables["roads"])
    hit = _NETS.get(key)
    if hit is not None:
        _NETS.move_to_end(key)
        return hit
    net = RoadNetwork.from_tables(scenario.road_nodes, scenario.roads)
    _remember(_NETS, key, net, 2)
    return net


#: Road networks by the fingerprint of their tables (the last two).
_NETS: OrderedDict = OrderedDict()


def control_of(scenario: Any) -> TrafficControl:
    """The scenario's traffic control (empty when it has none).

    The table is checked through the scenario schema once per content
    (:func:`table_fingerprint`), so a rule edited in place is checked again.
    """
    if not scenario.has("traffic_control"):
        return TrafficControl([])
    df = scenario.traffic_control
    key = table_fingerprint(df.drop(columns=["permits"], errors="ignore")) + repr(
        df["permits"].tolist() if "permits" in df else []).encode()
    rules = _RULES.get(key)
    if rules is None:
        rules = tuple(TrafficControl.from_frame(df).rules)
        _remember(_RULES, key, rules, 8)
    else:
        _RULES.move_to_end(key)
    return TrafficControl(list(rules))


#: Checked traffic-control rules by the content of their table (the last eight).
_RULES: OrderedDict = OrderedDict()


def travel_times(scenario: Any, at: pd.Timestamp | str | None = None) -> Travel:
    """Travel minutes from every depot to every site of a scenario under its traffic control.

    Minutes are the minimum over the depot's vehicle classes (``vehicles.csv``;
    a depot without vehicles is one default vehicle), ``inf`` when none of them
    can reach the site under the rules in force at ``at`` (default
    ``scenario.at``). Without roads the contract's great-circle fallback is used
    and ``Travel.fallback`` is True.

    Examples
    --------
    >>> from allocator import examples
    >>> tr = travel_times(examples.ring_road())
    >>> tr.fallback, tr.minutes.shape
    (False, (1, 3))
    """
    from allocator.geo import FALLBACK_DETOUR, fallback_minutes, haversine_km

    at = scenario.at if at is None else pd.Timestamp(at)
    sites, depots = scenario.sites, scenario.depots
    sids = [str(x) for x in sites.site_id]
    dids = [str(x) for x in depots.depot_id]
    net = network_of(scenario)
    if net is None:
        la1, lo1 = depots.lat.to_numpy(float)[:, None], depots.lon.to_numpy(float)[:, None]
        la2, lo2 = sites.lat.to_numpy(float)[None, :], sites.lon.to_numpy(float)[None, :]
        idx = pd.Index(dids, name="depot_id")
        cols = pd.Index(sids, name="site_id")
        m = pd.DataFrame(fallback_minutes(la1, lo1, la2, lo2).reshape(len(dids), len(sids)), index=idx, columns=cols)
        km = pd.DataFrame((haversine_km(la1, lo1, la2, lo2) * FALLBACK_DETOUR).reshape(len(dids), len(sids)),
                          index=idx, columns=cols)
        return Travel(minutes=m, fallback=True, at=at, distance_km_fallback=km)
    control = control_of(scenario)
    usable = cache(lambda: usable_nodes(net, control, at))

    dn = snap(net, depots.lat, depots.lon, depots.node_id, usable, "depot")
    sn = snap(net, sites.lat, sites.lon, sites.node_id, usable, "site")
    return plan(net, control, dids, dn, vehicle_classes(scenario, control), sids, sn, at)
