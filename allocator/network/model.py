"""The road network: a networkx directed graph plus a compact array view of it.

A :class:`RoadNetwork` holds a :class:`networkx.DiGraph` whose nodes carry
``lat``/``lon`` and whose arcs carry ``length_m``, ``speed_kmh``, ``name`` and
``kind``. A two-way road is two arcs. The graph is the model that readers build
and writers write; :attr:`RoadNetwork.arrays` is a read-only array view of it
(node index, arc tails/heads, minutes, ...) built once and used by the fast
shortest-path code in :mod:`allocator.network.paths`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import networkx as nx
import numpy as np
import pandas as pd

from allocator.network.tables import check_tables, raise_errors

_ids = itertools.count()


def new_uid() -> int:
    """A number no network of this process has had: the identity that the network caches are keyed by."""
    return next(_ids)


@dataclass(frozen=True)
class Arrays:
    """Array view of a road network (arc ``i`` runs from ``u[i]`` to ``v[i]``).

    Attributes
    ----------
    node_ids : ndarray of object
        Node id of each node index.
    index : dict
        Node id to node index.
    lat, lon : ndarray of float
        Node coordinates.
    u, v : ndarray of int32
        Tail and head node index of each arc.
    minutes, length_m : ndarray of float
        Free-flow travel time and length of each arc.
    name, kind : ndarray of object
        Road name and kind of each arc.
    """

    node_ids: np.ndarray
    index: dict
    lat: np.ndarray
    lon: np.ndarray
    u: np.ndarray
    v: np.ndarray
    minutes: np.ndarray
    length_m: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    #: Chinese road name of each arc ("" when not given)
    name_zh: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_arcs(self) -> int:
        return len(self.u)

    def arc_index(self) -> dict[tuple[int, int], int]:
        """(tail index, head index) to arc index."""
        return {(int(a), int(b)): i for i, (a, b) in enumerate(zip(self.u, self.v))}

    @cached_property
    def _arc_lookup(self) -> dict[tuple[int, int], int]:
        return self.arc_index()

    def arc_index_cached(self) -> dict[tuple[int, int], int]:
        """:meth:`arc_index`, built once and kept by this view."""
        return self._arc_lookup


class RoadNetwork:
    """A road network: a directed graph with coordinates, lengths, speeds, names and kinds.

    Parameters
    ----------
    graph : networkx.DiGraph
        Nodes with ``lat`` and ``lon``; arcs with ``length_m`` (> 0), ``speed_kmh``
        (> 0), ``name`` and ``kind``.
    source : str
        Where it was read from (for messages).
    warnings : list of str, optional
        What the reader repaired (merged duplicates, dropped degenerate segments).

    Examples
    --------
    >>> from allocator.network import RoadNetwork
    >>> net = RoadNetwork.from_tables(
    ...     pd.DataFrame({"node_id": ["a", "b"], "lat": [30.0, 30.0], "lon": [114.0, 114.01]}),
    ...     pd.DataFrame({"u": ["a"], "v": ["b"], "length_m": [1000.0], "speed_kmh": [30.0]}))
    >>> net.graph.number_of_edges(), net.graph["a"]["b"]["minutes"]
    (2, 2.0)
    """

    def __init__(self, graph: nx.DiGraph, source: str = "", warnings: list[str] | None = None):
        self.graph = graph
        self.source = source
        self.warnings = list(warnings or [])
        self.uid = new_uid()  # identity of this network in caches
        #: Results derived from this network (expanded graphs, shortest paths), owned by it
        #: so that they live and die with it (see :mod:`allocator.network.paths`).
        self.cache: dict = {}

    def __repr__(self) -> str:
        g = self.graph
        return f"RoadNetwork({g.number_of_nodes()} nodes, {g.number_of_edges()} arcs, source={self.source!r})"

    # ------------------------------------------------------------------ building

    @classmethod
    def from_tables(
        cls, road_nodes: pd.DataFrame, roads: pd.DataFrame, source: str = "roads.csv", *, checked: bool = False
    ) -> RoadNetwork:
        """Build from ``road_nodes`` and ``roads`` tables (the contract's CSV pair).

        The tables are checked through the scenario schema
        (:func:`allocator.network.tables.check_tables`) unless ``checked`` says
        they already were (as :func:`allocator.network.tables.parse_tables` gives them).

        Raises
        ------
        RoadFileError
            With the validator's problems: unknown or duplicate node ids, lengths or
            speeds that are not > 0, self-loops, values of the wrong type.
        """
        if not checked:
            raise_errors(check_tables({"road_nodes": road_nodes, "roads": roads}))
        n = road_nodes
        oneway = roads["oneway"] if "oneway" in roads else pd.Series(False, index=roads.index)
        name = roads["name"] if "name" in roads else pd.Series("", index=roads.index)
        kind = roads["kind"] if "kind" in roads else pd.Series("road", index=roads.index)
        return cls.from_arrays(
            node_ids=n["node_id"].astype(str).to_numpy(object),
            lat=n["lat"].to_numpy(float),
            lon=n["lon"].to_numpy(float),
            u=roads["u"].astype(str).to_numpy(object),
            v=roads["v"].astype(str).to_numpy(object),
            length_m=roads["length_m"].to_numpy(float),
            speed_kmh=roads["speed_kmh"].to_numpy(float),
            oneway=oneway.fillna(False).astype(bool).to_numpy(),
            name=name.fillna("").astype(str).to_numpy(object),
            kind=kind.fillna("").replace("", "road").astype(str).to_numpy(object),
            source=source,
            name_zh=roads["name_zh"].fillna("").astype(str).to_numpy(object) if "name_zh" in roads else None,
        )

    @classmethod
    def from_arrays(
        cls,
        node_ids: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        length_m: np.ndarray,
        speed_kmh: np.ndarray,
        oneway: np.ndarray | None = None,
        name: np.ndarray | None = None,
        kind: np.ndarray | None = None,
        source: str = "",
        warnings: list[str] | None = None,
        name_zh: np.ndarray | None = None,
    ) -> RoadNetwork:
        """Build from parallel arrays of roads (``oneway`` False adds the reverse arc).

        When the same arc appears twice the faster one is kept.
        """
        m = len(u)
        oneway = np.zeros(m, bool) if oneway is None else np.asarray(oneway, bool)
        name = np.full(m, "", object) if name is None else np.asarray(name, object)
        kind = np.full(m, "road", object) if kind is None else np.asarray(kind, object)
        length_m = np.asarray(length_m, float)
        speed_kmh = np.asarray(speed_kmh, float)
        minutes = length_m / 1000.0 / speed_kmh * 60.0
        two = ~oneway
        tails = np.concatenate([np.asarray(u, object), np.asarray(v, object)[two]])
        heads = np.concatenate([np.asarray(v, object), np.asarray(u, object)[two]])
        cols = {
            "length_m": np.concatenate([length_m, length_m[two]]),
            "speed_kmh": np.concatenate([speed_kmh, speed_kmh[two]]),
            "minutes": np.concatenate([minutes, minutes[two]]),
            "name": np.concatenate([name, name[two]]),
            "kind": np.concatenate([kind, kind[two]]),
        }
        if name_zh is not None:
            zh = np.asarray(name_zh, object)
            cols["name_zh"] = np.concatenate([zh, zh[two]])
        # keep the fastest of duplicate arcs: add slowest first so faster ones overwrite
        order = np.argsort(-cols["minutes"], kind="stable")
        g = nx.DiGraph()
        g.add_nodes_from(
            (str(i), {"lat": float(a), "lon": float(b)}) for i, a, b in zip(node_ids, lat, lon)
        )
        keys = list(cols)
        data = [cols[k][order].tolist() for k in keys]
        g.add_edges_from(
            (str(a), str(b), dict(zip(keys, vals)))
            for a, b, *vals in zip(tails[order].tolist(), heads[order].tolist(), *data)
        )
        warn = list(warnings or [])
        dup = len(tails) - g.number_of_edges()
        if dup > 0:
            warn.append(f"{dup} duplicate arc(s) merged (the faster one kept)")
        return cls(g, source=source, warnings=warn)

    # ------------------------------------------------------------------ views

    @cached_property
    def arrays(self) -> Arrays:
        """The array view (built once; the graph must not be modified afterwards)."""
        g = self.graph
        node_ids = np.array(list(g.nodes), dtype=object)
        index = {n: i for i, n in enumerate(node_ids)}
        lat = np.fromiter((d.get("lat", np.nan) for _, d in g.nodes(data=True)), float, len(node_ids))
        lon = np.fromiter((d.get("lon", np.nan) for _, d in g.nodes(data=True)), float, len(node_ids))
        m = g.number_of_edges()
        u = np.empty(m, np.int32)
        v = np.empty(m, np.int32)
        minutes = np.empty(m)
        length = np.empty(m)
        name = np.empty(m, object)
        kind = np.empty(m, object)
        for i, (a, b, d) in enumerate(g.edges(data=True)):
            u[i] = index[a]
            v[i] = index[b]
            length[i] = d["length_m"]
            minutes[i] = d.get("minutes", d["length_m"] / 1000.0 / d["speed_kmh"] * 60.0)
            name[i] = d.get("name", "")
            kind[i] = d.get("kind", "road")
        name_zh = np.fromiter((d.get("name_zh", "") for _, _, d in g.edges(data=True)), object, m)
        return Arrays(node_ids, index, lat, lon, u, v, minutes, length, name, kind, name_zh)

    def to_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The contract's ``road_nodes`` and ``roads`` tables.

        A pair of opposite arcs with equal length, speed, name and kind is written
        as one two-way row; any other arc as a one-way row.
        """
        g = self.graph
        nodes = pd.DataFrame(
            {
                "node_id": pd.Series(list(g.nodes), dtype="string"),
                "lat": [d.get("lat") for _, d in g.nodes(data=True)],
                "lon": [d.get("lon") for _, d in g.nodes(data=True)],
            }
        )
        rows = []
        done = set()
        for a, b, d in g.edges(data=True):
            if (a, b) in done:
                continue
            key = (d["length_m"], d["speed_kmh"], d.get("name", ""), d.get("kind", "road"))
            back = g.get_edge_data(b, a)
            two = back is not None and (
                back["length_m"], back["speed_kmh"], back.get("name", ""), back.get("kind", "road")
            ) == key
            if two:
                done.add((b, a))
            rows.append((a, b, *key[:2], not two, key[2], key[3]))
        roads = pd.DataFrame(rows, columns=["u", "v", "length_m", "speed_kmh", "oneway", "name", "kind"])
        return nodes, roads
