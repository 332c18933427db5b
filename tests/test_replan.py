"""``replan`` (full plan under the new rules plus a diff) against independent recomputations."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from allocator import examples, synth
from allocator.errors import InvalidArgumentError
from allocator.network import Rule, travel_times
from allocator.network.replan import replan


def _nx_minutes(sc, closed_names: set[str], depot: str) -> dict[str, float]:
    """Plain Dijkstra (networkx) from a depot's node over the roads minus the closed ones, no other rule."""
    g = nx.DiGraph()
    for r in sc.roads.itertuples():
        if r.name in closed_names:
            continue
        w = r.length_m / 1000.0 / r.speed_kmh * 60.0
        for a, b in ((r.u, r.v),) + (() if r.oneway else ((r.v, r.u),)):
            if not g.has_edge(a, b) or g[a][b]["w"] > w:
                g.add_edge(a, b, w=w)
    src = sc.depots.set_index("depot_id").node_id[depot]
    d = nx.single_source_dijkstra_path_length(g, src, weight="w")
    return {s: d.get(n, np.inf) for s, n in zip(sc.sites.site_id, sc.sites.node_id)}


@pytest.fixture(scope="module")
def grid():
    sc = synth.generate(sites=40, depots=3, items=5, lots=40, road_nodes=600, seed=11, with_traffic_control=False)
    nodes = sc.road_nodes.set_index("node_id")
    # snap sites and depots to given nodes so the reference needs no snapping
    sites = sc.sites.copy()
    sites["node_id"] = pd.array([nodes.index[np.argmin((nodes.lat - la) ** 2 + (nodes.lon - lo) ** 2)]
                                 for la, lo in zip(sites.lat, sites.lon)], dtype="string")
    depots = sc.depots.copy()
    depots["node_id"] = pd.array([nodes.index[np.argmin((nodes.lat - la) ** 2 + (nodes.lon - lo) ** 2)]
                                  for la, lo in zip(depots.lat, depots.lon)], dtype="string")
    return sc.replace(sites=sites, depots=depots)


def test_closures_added_and_lifted_match_plain_dijkstra(grid):
    tr = travel_times(grid)
    names = grid.roads.name[grid.roads.name != ""].value_counts()
    closed = [str(names.index[0]), str(names.index[len(names) // 2])]
    out = replan(tr, add=[Rule("C1", "closure", road=closed[0]), Rule("C2", "closure", road=closed[1])])
    for d in grid.depots.depot_id:
        ref = _nx_minutes(grid, set(closed), d)
        np.testing.assert_allclose(out.travel.minutes.loc[d].to_numpy(),
                                   [ref[s] for s in out.travel.minutes.columns], rtol=1e-9)
    # the diff lists exactly the pairs whose minutes changed, with before and after
    before, after = tr.minutes, out.travel.minutes
    changed = {(d, s) for d in before.index for s in before.columns if before.at[d, s] != after.at[d, s]}
    assert changed and set(zip(out.changes.depot_id, out.changes.site_id)) == changed
    for r in out.changes.itertuples():
        assert (r.before_min, r.after_min) == (before.at[r.depot_id, r.site_id], after.at[r.depot_id, r.site_id])
        assert r.change_min == pytest.approx(r.after_min - r.before_min)
    # lifting one closure: plain Dijkstra with the other one only
    back = replan(out.travel, lift=["C1"])
    for d in grid.depots.depot_id:
        ref = _nx_minutes(grid, {closed[1]}, d)
        np.testing.assert_allclose(back.travel.minutes.loc[d].to_numpy(),
                                   [ref[s] for s in back.travel.minutes.columns], rtol=1e-9)
    assert {r.rule_id for r in back.travel.control.rules} == {"C2"}


def test_lifting_back_reuses_the_network_cache_and_restores_the_plan(grid):
    tr = travel_times(grid)
    road = str(grid.roads.name[grid.roads.name != ""].value_counts().index[1])
    out = replan(tr, add=[Rule("C", "closure", road=road)])
    assert all(n == total for n, total in out.recomputed.values())
    back = replan(out.travel, lift=["C"])
    np.testing.assert_array_equal(back.travel.minutes.to_numpy(), tr.minutes.to_numpy())
    assert all(n == 0 for n, _ in back.recomputed.values())  # the original effect was solved already
    assert len(back.changes) == len(out.changes)


def test_pairs_and_paths_on_the_ring_road():
    tr = travel_times(examples.ring_road())
    out = replan(tr, lift=["T1"], pairs=[("D1", "H1"), ("D1", "Q1")], with_paths=True)
    assert out.changes.site_id.tolist() == ["H1"]  # Q1 did not change; H2 was not asked for
    r = out.changes.iloc[0]
    assert (r.before_min, r.after_min, r.change_min) == (4.0, 1.5, -2.5)
    assert out.changes.path_changed.dtype == bool
    with pytest.raises(InvalidArgumentError):
        replan(travel_times(examples.three_tiers()), add=[Rule("X", "closure", road="A")])
