"""Benchmark of the scale generator: time to generate, write and re-validate big scenarios.

Run: ``python bench/synth.py`` (add ``--quick`` for the brief's size only). Prints, per
size, the seconds of each phase and the ratio of the generation time to its target
(10 s at 30,000 road nodes, 60 s at the issue's 80,000).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from allocator import synth
from allocator.scenario import save
from allocator.validate import validate

SIZES = [
    ("brief", dict(sites=2000, depots=40, items=20, lots=10000, road_nodes=30000), 10.0),
    ("issue", dict(sites=2000, depots=40, items=20, lots=10000, road_nodes=80000), 60.0),
]


def _time(f):  # noqa: ANN001, ANN202
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    try:
        for label, size, target in SIZES[:1] if args.quick else SIZES:
            _, t_grid = _time(lambda s=size: synth.road_grid(s["road_nodes"], rng=1))
            sc, t_gen = _time(lambda s=size: synth.generate(**s, seed=1))
            path, t_save = _time(lambda sc=sc, label=label: save(sc, tmp / label))
            report, t_val = _time(lambda path=path: validate(path))
            mb = sum(f.stat().st_size for f in path.iterdir()) / 1e6
            rows.append((label, size["road_nodes"], len(sc.roads), t_grid, t_gen, t_save, t_val,
                         report.ok, mb, t_gen / target))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    head = f"{'size':6} {'nodes':>7} {'roads':>7} {'grid s':>7} {'generate s':>10} {'save s':>7} {'validate s':>10} {'valid':>5} {'MB':>6} {'gen/target':>10}"
    print(head)
    for r in rows:
        print(f"{r[0]:6} {r[1]:7d} {r[2]:7d} {r[3]:7.2f} {r[4]:10.2f} {r[5]:7.2f} {r[6]:10.2f} {r[7]!s:>5} {r[8]:6.1f} {r[9]:10.2f}")
    if len(rows) > 1:
        print(f"80k / 30k generate time: {rows[1][4] / rows[0][4]:.2f}x for {rows[1][1] / rows[0][1]:.2f}x the nodes")


if __name__ == "__main__":
    main()
