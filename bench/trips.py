"""Benchmark of truck trip planning against a long OR-Tools run (not a test).

Run from the repository root::

    python bench/trips.py                 # the demo's trips and 200 drops / 20 trucks, vs 60 s runs
    python bench/trips.py --long 20       # a shorter reference search
    python bench/trips.py --skip-demo     # the 200-drop case only
    python bench/trips.py --compare ../main   # also `allocator routes DEMO` as a process, both checkouts

Cases, each planned three ways in the same run and printed side by side:

- ``planner``: :func:`allocator.network.trips.plan_trips` as the commands call it
  (savings start, guided local search stopped after ``PATIENCE_S`` s without improvement);
- ``greedy``: the construction heuristic alone (``method="greedy"``);
- ``long``: the same OR-Tools model searched for ``--long`` seconds per depot and wave,
  without the improvement stop and without the local search across waves (the
  reference for truck-minutes: what a long OR-Tools run reaches).

The 200-drop case is one depot, 200 random sites and 20 trucks (1,500 kg / 12 m3,
08:00-20:00) on the central-Wuhan road shapefile of ``../shared/data`` (or a
synthetic 30,000-node road grid when that is absent). The demo case is the
round of ``data/scenarios/wuhan-2020-02-10`` (allocation computed once, outside
the timing). With ``--compare``, the whole ``allocator routes data/scenarios/wuhan-2020-02-10``
command is also timed as a process (wall and CPU seconds, median of
``--repeat``), in this checkout and the other one, alternating. The machine is
shared: read the ratios, not the seconds alone.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from allocator.network import RoadNetwork, read_roads, travel_times  # noqa: E402
from allocator.network.trips import PATIENCE_S, plan_trips  # noqa: E402
from allocator.scenario import from_tables, load  # noqa: E402


def shared_data() -> Path | None:
    for p in (os.environ.get("ALLOCATOR_SHARED"), ROOT / ".." / "shared", "/work/shared"):
        if p and (Path(p) / "data" / "wuhan-roads" / "WHroad.shp").is_file():
            return Path(p) / "data"
    return None


def network() -> tuple[RoadNetwork, str]:
    data = shared_data()
    if data is not None:
        return read_roads(data / "wuhan-roads" / "WHroad.shp"), "central-Wuhan shapefile"
    from allocator import synth

    nodes, roads = synth.road_grid(30_000, rng=1)
    return RoadNetwork.from_tables(nodes, roads), "synthetic 30,000-node grid"


def drops_case(net: RoadNetwork, n_sites: int = 200, n_trucks: int = 20, seed: int = 3):
    """(scenario, shipments): one depot, ``n_sites`` drops of suits, ``n_trucks`` trucks."""
    rng = np.random.default_rng(seed)
    a = net.arrays
    dep_i = rng.choice(a.n_nodes, 1)
    site_i = rng.choice(a.n_nodes, n_sites, replace=False)
    sites = pd.DataFrame({"site_id": [f"S{i}" for i in range(n_sites)], "name": "s",
                          "kind": rng.choice(["designated_hospital", "backup_hospital", "community"], n_sites),
                          "lat": a.lat[site_i], "lon": a.lon[site_i], "node_id": a.node_ids[site_i]})
    depots = pd.DataFrame({"depot_id": ["D0"], "name": "d", "lat": a.lat[dep_i], "lon": a.lon[dep_i],
                           "node_id": a.node_ids[dep_i]})
    items = pd.DataFrame({"item_id": ["suit"], "name": "suit", "category": "suit", "unit_weight_kg": [0.5],
                          "unit_volume_l": [4.0]})
    vehicles = pd.DataFrame({"vehicle_id": [f"V{i:02d}" for i in range(n_trucks)], "depot_id": "D0",
                             "capacity_kg": 1500.0, "capacity_m3": 12.0,
                             "available_from": "2020-02-10T08:00:00", "available_to": "2020-02-10T20:00:00"})
    ship = pd.DataFrame({"lot_id": "L1", "depot_id": "D0", "site_id": sites.site_id,
                         "item_id": "suit", "quantity": rng.integers(100, 1200, n_sites)})
    nodes, roads = net.to_tables()
    sc = from_tables({"items": items, "sites": sites, "depots": depots, "vehicles": vehicles,
                      "stock": pd.DataFrame({"lot_id": ["L1"], "depot_id": ["D0"], "item_id": ["suit"],
                                             "quantity": [10**6]}),
                      "road_nodes": nodes, "roads": roads}, as_of="2020-02-10T08:00:00")
    return sc, ship


def demo_case():
    from allocator import allocate

    sc = load(ROOT / "data" / "scenarios" / "wuhan-2020-02-10")
    tr = travel_times(sc)
    return sc, allocate(sc, travel=tr.minutes).allocations, tr


def run_case(label: str, sc, ship, tr, long_s: float) -> None:
    res = {}
    for name, kw in (("greedy", dict(method="greedy")),
                     ("planner", dict()),
                     ("long", dict(time_limit_s=long_s, patience_s=None, improve=False))):
        tr.network.cache.clear()  # every method pays for its travel matrices
        t0, c0 = time.perf_counter(), time.process_time()
        out = plan_trips(sc, ship, tr, **kw)
        res[name] = (time.perf_counter() - t0, out, time.process_time() - c0)
    ref = res["long"][1].truck_minutes
    print(f"{label}: {len(ship)} shipment lines")
    for name, (dt, out, cpu) in res.items():
        print(f"  {name:8s} {dt:7.2f} s (cpu {cpu:6.2f} s)  {out.truck_minutes:9.1f} truck-min  "
              f"({out.truck_minutes / ref:.4f} of long)"
              f"  {out.n_trips:3d} trips  {len(out.trips):3d} stops  {len(out.unplanned)} lines unplanned  "
              f"{out.stats.get('waves', 0)} waves, {out.stats.get('solutions', 0)} solutions")
    p, lg = res["planner"], res["long"]
    print(f"  planner vs long: {p[0] / lg[0]:.3f} of the time, {p[1].truck_minutes / ref - 1:+.2%} truck-minutes; "
          f"planner vs target 5 s: wall {p[0] / 5:.2f}x, cpu {p[2] / 5:.2f}x")


def routes_command(checkouts: list[Path], repeat: int) -> None:
    """Wall and CPU seconds of ``allocator routes DEMO`` as a process, per checkout (alternating)."""
    demo = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"
    res: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
    for _ in range(repeat):
        for c in checkouts:
            with tempfile.TemporaryDirectory() as d:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "allocator", "routes", str(demo), "--out", d], cwd=c,
                               env={**os.environ, "PYTHONPATH": str(c)}, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wall = time.perf_counter() - t
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                res[c].append((wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))
    print(f"`allocator routes {demo.relative_to(ROOT)}` as a process, median of {repeat} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    base = None
    for c in checkouts:
        wall = statistics.median(x[0] for x in res[c])
        cpu = statistics.median(x[1] for x in res[c])
        base = base or wall
        print(f"  {str(c):40s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  ({wall / base:.2f} of this checkout; "
              f"target 5 s: {wall / 5:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--long", type=float, default=60.0, help="seconds per depot and wave of the reference run")
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--skip-drops", action="store_true")
    ap.add_argument("--compare", type=Path, default=None, help="another checkout: time `allocator routes` in both")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the routes command per checkout")
    args = ap.parse_args()
    if args.compare:
        routes_command([ROOT, args.compare.resolve()], args.repeat)
    print(f"patience {PATIENCE_S} s without improvement (planner); reference: {args.long:g} s per depot and wave; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.skip_demo:
        sc, ship, tr = demo_case()
        run_case("demo wuhan-2020-02-10 (3 depots, 8 trucks)", sc, ship, tr, args.long)
    if not args.skip_drops:
        net, what = network()
        sc, ship = drops_case(net)
        run_case(f"200 drops, 20 trucks (1,500 kg / 12 m3), one depot, {what}", sc, ship, travel_times(sc), args.long)


if __name__ == "__main__":
    main()
