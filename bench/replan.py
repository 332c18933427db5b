"""Benchmark of re-planning after a traffic-control change (not a test).

Run from the repository root::

    python bench/replan.py              # Wuhan scenario, central-Wuhan shapefile (if ../shared), synthetic grid
    python bench/replan.py --repeat 7

For each network and each change (close the busiest named road, close a median
road, lift a rule, add a checkpoint on a road that had none) it times, in one
run and side by side:

- ``replan``: :func:`allocator.network.replan.replan` as the library has it
  (since the measurement below: the full plan plus the diff, with its ``Replan``);
- ``recompute+diff``: the full plan under the new rules
  (:func:`allocator.network.paths.plan`) plus the table of changed routes;
- ``full``: the full plan alone (what a fresh :func:`travel_times` costs after snapping);

and checks that all three give the same minutes. The network's solved-paths
cache is emptied before every timed call, so no variant is served a result
another one computed. Figures are medians of ``--repeat`` runs, with ratios to
``full``.

The incremental ``replan`` this replaced (recompute only the depots whose
shortest-path trees could change) measured, replan / full, on 2 shared cores:
Wuhan scenario 1.05-1.53x, central-Wuhan shapefile 0.58-1.48x, 20,000-node
synthetic grid 0.93-1.53x, against 0.69-1.27x for recompute+diff; over the 11
changes 0.833 s against 0.740 s (commit "bench/replan.py: ..." has the table).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from allocator import scenario as scenario_io  # noqa: E402
from allocator import synth  # noqa: E402
from allocator.network import Rule, read_roads, travel_for, travel_times  # noqa: E402
from allocator.network.paths import Travel, _lru, plan  # noqa: E402
from allocator.network.replan import _changes, replan  # noqa: E402


def shared_data() -> Path | None:
    for p in (os.environ.get("ALLOCATOR_SHARED"), ROOT / ".." / "shared", "/work/shared"):
        if p and (Path(p) / "data" / "wuhan-roads" / "WHroad.shp").is_file():
            return Path(p) / "data"
    return None


def recompute_and_diff(tr: Travel, add: list[Rule], lift: list[str]) -> tuple[Travel, pd.DataFrame]:
    """The candidate: the full plan under the new rules, then the changed routes."""
    new_c = tr.control.with_rules(add=add, lift=lift)
    dids, sids = list(tr.minutes.index), list(tr.minutes.columns)
    new = plan(tr.network, new_c, dids, np.array([tr.depot_nodes[d] for d in dids]), tr.depot_classes, sids,
               np.array([tr.site_nodes[s] for s in sids]), tr.at)
    return new, _changes(tr, new, None, False)


def full(tr: Travel, add: list[Rule], lift: list[str]) -> Travel:
    new_c = tr.control.with_rules(add=add, lift=lift)
    dids, sids = list(tr.minutes.index), list(tr.minutes.columns)
    return plan(tr.network, new_c, dids, np.array([tr.depot_nodes[d] for d in dids]), tr.depot_classes, sids,
                np.array([tr.site_nodes[s] for s in sids]), tr.at)


def timed(fn: Callable[[], object], tr: Travel, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        _lru(tr.network, "solved").clear()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return bool(np.array_equal(np.nan_to_num(a.to_numpy(), posinf=-1), np.nan_to_num(b.to_numpy(), posinf=-1)))


def changes_for(tr: Travel) -> list[tuple[str, list[Rule], list[str]]]:
    net, control = tr.network, tr.control
    names = pd.Series(net.arrays.name)
    names = names[names != ""].value_counts()
    checked = {r.road for r in control.rules if r.kind == "checkpoint"}
    out = [
        (f"close busiest road ({names.index[0]})", [Rule("BENCH", "closure", road=str(names.index[0]))], []),
        (f"close median road ({names.index[len(names) // 2]})",
         [Rule("BENCH", "closure", road=str(names.index[len(names) // 2]))], []),
    ]
    fresh = next((n for n in names.index[1:] if n not in checked), None)
    if fresh is not None:
        out.append((f"checkpoint on {fresh} (graph shape changes)",
                    [Rule("BENCHCP", "checkpoint", road=str(fresh), delay_min=10.0)], []))
    if control.rules:
        r = control.rules[0]
        out.append((f"lift {r.rule_id} ({r.kind} {r.road or r.rule_id})", [], [r.rule_id]))
    return out


def bench(name: str, tr: Travel, repeat: int) -> None:
    g = tr.network.graph
    print(f"{name}: {g.number_of_nodes():,} nodes, {g.number_of_edges():,} arcs; "
          f"{tr.minutes.shape[0]} depots x {tr.minutes.shape[1]} sites; {len(tr.control.rules)} rules")
    print(f"  {'change':58s} {'replan':>9s} {'recompute+diff':>15s} {'full':>9s}  {'replan/full':>11s} "
          f"{'(r+d)/full':>10s}  equal")
    for label, add, lift in changes_for(tr):
        t_r, out = timed(lambda add=add, lift=lift: replan(tr, add=add, lift=lift), tr, repeat)
        t_rd, (new, ch) = timed(lambda add=add, lift=lift: recompute_and_diff(tr, add, lift), tr, repeat)
        t_f, ref = timed(lambda add=add, lift=lift: full(tr, add, lift), tr, repeat)
        ok = same(out.travel.minutes, ref.minutes) and same(new.minutes, ref.minutes) and len(ch) == len(out.changes)
        print(f"  {label[:58]:58s} {t_r:8.3f}s {t_rd:14.3f}s {t_f:8.3f}s  {t_r / t_f:10.2f}x {t_rd / t_f:9.2f}x  {ok}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--grid-nodes", type=int, default=20000)
    args = ap.parse_args()

    sc = scenario_io.load(ROOT / "data" / "scenarios" / "wuhan-2020-02-10")
    bench("Wuhan scenario (data/scenarios/wuhan-2020-02-10)", travel_times(sc), args.repeat)

    data = shared_data()
    if data is not None:
        net = read_roads(data / "wuhan-roads" / "WHroad.shp")
        rng = np.random.default_rng(5)
        a = net.arrays
        di = rng.choice(a.n_nodes, 10, replace=False)
        si = rng.choice(a.n_nodes, 300, replace=False)
        dep = pd.DataFrame({"depot_id": [f"D{i}" for i in range(10)], "lat": 0.0, "lon": 0.0,
                            "node_id": a.node_ids[di]})
        sit = pd.DataFrame({"site_id": [f"S{i}" for i in range(300)], "lat": 0.0, "lon": 0.0,
                            "node_id": a.node_ids[si]})
        tr = travel_for(net, None, dep, sit)
        bench("central-Wuhan shapefile, no rules", tr, args.repeat)
    else:
        print("(../shared/data absent: central-Wuhan shapefile skipped)")

    gen = synth.generate(sites=300, depots=10, items=10, lots=300, road_nodes=args.grid_nodes, seed=3)
    bench(f"synthetic grid (synth.generate, {args.grid_nodes:,} road nodes, its traffic control)",
          travel_times(gen), args.repeat)


if __name__ == "__main__":
    main()
