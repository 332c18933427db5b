"""Benchmark of travel times, re-planning and truck trips (not a test).

Run from the repository root::

    python bench/network.py            # everything
    python bench/network.py --skip-ny  # without the 264k-node New York graph

Reads ../shared/data (or $ALLOCATOR_SHARED/data); prints figures side by side
with networkx's own Dijkstra in the same run.
"""

from __future__ import annotations

import argparse
import lzma
import os
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from allocator.network import RoadNetwork, Rule, read_roads, travel_for  # noqa: E402
from allocator.network.paths import Travel  # noqa: E402
from allocator.network.replan import replan  # noqa: E402


def shared_data() -> Path | None:
    for p in (os.environ.get("ALLOCATOR_SHARED"), ROOT / ".." / "shared", "/work/shared"):
        if p and (Path(p) / "data").is_dir():
            return Path(p) / "data"
    return None


def dimacs(path: Path, seed: int = 7) -> RoadNetwork:
    """The DIMACS NY topology with seeded random lengths (50-1,000 m) at 30 km/h, coordinates random."""
    with lzma.open(path, "rt") as f:
        head = f.readline().split()
        n = int(head[2])
        uv = np.loadtxt(f, dtype=np.int64)
    rng = np.random.default_rng(seed)
    length = rng.uniform(50, 1000, len(uv))
    ids = np.array([str(i) for i in range(1, n + 1)], object)
    lat = rng.uniform(40.5, 41.0, n)
    lon = rng.uniform(-74.3, -73.7, n)
    return RoadNetwork.from_arrays(ids, lat, lon, ids[uv[:, 0] - 1], ids[uv[:, 1] - 1], length,
                                   np.full(len(uv), 30.0), source=str(path))


def points(net: RoadNetwork, k: int, rng: np.random.Generator, key: str) -> pd.DataFrame:
    a = net.arrays
    idx = rng.choice(a.n_nodes, k, replace=False)
    return pd.DataFrame({key: [f"{key[0].upper()}{i}" for i in range(k)], "lat": a.lat[idx], "lon": a.lon[idx],
                         "node_id": a.node_ids[idx]})


def bench_matrix(name: str, net: RoadNetwork, n_dep: int = 40, n_sites: int = 2000, nx_depots: int = 40) -> Travel:
    rng = np.random.default_rng(1)
    dep, sit = points(net, n_dep, rng, "depot_id"), points(net, n_sites, rng, "site_id")
    _ = net.arrays
    t0 = time.perf_counter()
    tr = travel_for(net, None, dep, sit)
    t_ours = time.perf_counter() - t0
    g = net.graph
    t0 = time.perf_counter()
    ref = []
    for d in dep.node_id[:nx_depots]:
        dist = nx.single_source_dijkstra_path_length(g, d, weight="minutes")
        ref.append([dist.get(s, np.inf) for s in sit.node_id])
    t_nx = (time.perf_counter() - t0) * n_dep / nx_depots
    err = float(np.nanmax(np.abs(np.asarray(ref) - tr.minutes.to_numpy()[:nx_depots])))
    t0 = time.perf_counter()
    nx.multi_source_dijkstra_path_length(g, set(dep.node_id), weight="minutes")
    t_multi = time.perf_counter() - t0
    extra = "" if nx_depots == n_dep else f" (networkx timed on {nx_depots} depots, scaled to {n_dep})"
    print(f"{name}: {g.number_of_nodes():,} nodes, {g.number_of_edges():,} arcs; matrix {n_dep} x {n_sites}")
    print(f"  scipy CSR dijkstra   {t_ours:8.3f} s")
    print(f"  networkx per depot   {t_nx:8.3f} s   ratio {t_nx / t_ours:6.1f}x{extra}; max |diff| {err:.2e} min")
    print(f"  networkx multi_source_dijkstra (nearest depot only, one call) {t_multi:.3f} s")
    return tr


def bench_replan(tr: Travel) -> None:
    net = tr.network
    names = pd.Series(net.arrays.name)
    names = names[names != ""].value_counts()
    for label, road in (("busiest road", names.index[0]), ("median road", names.index[len(names) // 2])):
        t0 = time.perf_counter()
        out = replan(tr, add=[Rule("BENCH", "closure", road=str(road))])
        dt = time.perf_counter() - t0
        t0 = time.perf_counter()
        full = travel_for(net, out.travel.control, pd.DataFrame({"depot_id": list(tr.depot_nodes),
                          "lat": 0.0, "lon": 0.0, "node_id": [net.arrays.node_ids[i] for i in tr.depot_nodes.values()]}),
                          pd.DataFrame({"site_id": list(tr.site_nodes), "lat": 0.0, "lon": 0.0,
                                        "node_id": [net.arrays.node_ids[i] for i in tr.site_nodes.values()]}))
        t_full = time.perf_counter() - t0
        same = np.array_equal(np.nan_to_num(full.minutes.to_numpy(), posinf=-1),
                              np.nan_to_num(out.travel.minutes.to_numpy(), posinf=-1))
        rec = next(iter(out.recomputed.values()))
        print(f"  re-plan after closing the {label} ({road}, {int(names[road])} arcs): {dt:.3f} s, "
              f"{rec[0]}/{rec[1]} depots recomputed, {len(out.changes)} routes changed; "
              f"full recompute {t_full:.3f} s; equal: {same}")


def bench_trips(net: RoadNetwork, limit: float) -> None:
    from allocator.network.trips import plan_trips, total_minutes
    from allocator.scenario import from_tables

    rng = np.random.default_rng(3)
    a = net.arrays
    dep_i = rng.choice(a.n_nodes, 1)
    site_i = rng.choice(a.n_nodes, 200, replace=False)
    sites = pd.DataFrame({"site_id": [f"S{i}" for i in range(200)], "name": "s",
                          "kind": rng.choice(["designated_hospital", "backup_hospital", "community"], 200),
                          "lat": a.lat[site_i], "lon": a.lon[site_i], "node_id": a.node_ids[site_i]})
    depots = pd.DataFrame({"depot_id": ["D0"], "name": "d", "lat": a.lat[dep_i], "lon": a.lon[dep_i],
                           "node_id": a.node_ids[dep_i]})
    items = pd.DataFrame({"item_id": ["suit"], "name": "suit", "category": "suit", "unit_weight_kg": [0.5],
                          "unit_volume_l": [4.0]})
    vehicles = pd.DataFrame({"vehicle_id": [f"V{i}" for i in range(20)], "depot_id": "D0",
                             "capacity_kg": 1500.0, "capacity_m3": 12.0,
                             "available_from": "2020-02-10T08:00:00", "available_to": "2020-02-10T20:00:00"})
    ship = pd.DataFrame({"lot_id": "L1", "depot_id": "D0", "site_id": sites.site_id,
                         "item_id": "suit", "quantity": rng.integers(100, 1200, 200)})
    nodes, roads = net.to_tables()
    sc = from_tables({"items": items, "sites": sites, "depots": depots, "vehicles": vehicles,
                      "stock": pd.DataFrame({"lot_id": ["L1"], "depot_id": ["D0"], "item_id": ["suit"],
                                             "quantity": [10**6]}),
                      "road_nodes": nodes, "roads": roads}, as_of="2020-02-10T08:00:00")
    from allocator.network import travel_times

    tr = travel_times(sc)
    res = {}
    for method in ("greedy", "ortools"):
        t0 = time.perf_counter()
        out = plan_trips(sc, ship, tr, method=method, time_limit_s=limit)
        res[method] = (time.perf_counter() - t0, total_minutes(out.trips), len(out.unplanned),
                       out.trips.drop_duplicates(["vehicle_id", "trip"]).shape[0])
    g, o = res["greedy"], res["ortools"]
    print(f"trips: 200 drops, 20 trucks (1,500 kg / 12 m3), one depot; OR-Tools time limit {limit:g} s per wave")
    print(f"  greedy   {g[0]:7.2f} s  total {g[1]:9.1f} min  {g[3]} trips  {g[2]} lines unplanned")
    print(f"  ortools  {o[0]:7.2f} s  total {o[1]:9.1f} min  {o[3]} trips  {o[2]} lines unplanned"
          f"   ({o[1] / g[1]:.3f} of greedy)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-ny", action="store_true")
    ap.add_argument("--trip-limit", type=float, default=5.0)
    args = ap.parse_args()
    data = shared_data()
    if data is None:
        sys.exit("shared data not found: set ALLOCATOR_SHARED or place shared/ beside the repository")
    t0 = time.perf_counter()
    wh = read_roads(data / "wuhan-roads" / "WHroad.shp")
    print(f"read central-Wuhan shapefile in {time.perf_counter() - t0:.2f} s")
    tr = bench_matrix("Wuhan", wh)
    bench_replan(tr)
    if not args.skip_ny:
        t0 = time.perf_counter()
        ny = dimacs(data / "dimacs" / "NY.gr.xz")
        print(f"built DIMACS NY network in {time.perf_counter() - t0:.2f} s")
        bench_matrix("New York (DIMACS, random lengths)", ny, nx_depots=8)
    bench_trips(wh, args.trip_limit)


if __name__ == "__main__":
    main()
