"""Benchmark the tier stages on need classes against today's tier stages, side by side in one run.

Run:  python bench/classes.py [--only city|province]

For each round (the scenarios of ``bench/allocate.py``, no roads) it runs today's
``allocate()`` once, timing its tier and own-item stages as the wall time from the
start of a component's first ``tier[...]`` solve to the end of its last ``tier`` or
``own`` solve (solves, pricing and holds in between; measured by wrapping
``Driver.solve`` here, the library is unchanged), then
:func:`allocator.allocate.classes.solve_tiers` on every component of the same
prepared data. It prints the needs, classes, candidates and class columns, both
times and their ratio, the share of ``solve_tiers`` inside HiGHS, and the largest
relative difference between the two runs' stage optima. The province round needs
about 1.4 GB; the machine is shared, read the ratio rather than the seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from bench.allocate import ROUNDS, peak_rss_gb, scenario  # noqa: E402

#: (driver id, stage, start, end) of every Driver.solve call of the last round.
CALLS: list[tuple[int, str, float, float]] = []


def instrument() -> None:
    from allocator.allocate import solver as S

    if getattr(S.Driver.solve, "_classes_bench", False):
        return
    inner = S.Driver.solve

    def solve(self, prob, stage):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        try:
            return inner(self, prob, stage)
        finally:
            CALLS.append((id(self), stage, t, time.perf_counter()))

    solve._classes_bench = True  # type: ignore[attr-defined]
    S.Driver.solve = solve


def tier_wall(calls: list[tuple[int, str, float, float]]) -> float:
    """Per driver (component): first tier solve's start to last tier/own solve's end, summed."""
    out = 0.0
    for d in dict.fromkeys(c[0] for c in calls):
        mine = [c for c in calls if c[0] == d and (c[1].startswith("tier[") or c[1] == "own")]
        if mine:
            out += max(c[3] for c in mine) - min(c[2] for c in mine)
    return out


def bench(name: str) -> None:
    from allocator import allocate
    from allocator.allocate.classes import solve_tiers
    from allocator.allocate.model import components

    instrument()
    spec = ROUNDS[name]
    sc = scenario(spec["sites"], spec["depots"], spec["items"], spec["lots"])
    CALLS.clear()
    t = time.perf_counter()
    r = allocate(sc)
    round_s = time.perf_counter() - t
    today = tier_wall(CALLS)
    want = {k: v for k, v in r.summary["objectives"].items() if k.startswith("tier[") or k == "own"}
    data = r.extra["data"]
    del r
    parts = components(data)
    t = time.perf_counter()
    got: dict[str, float] = {}
    needs = classes = cols = cands = iters = 0
    in_solver = 0.0
    for rows in parts:
        th = solve_tiers(data, rows)
        th.holds  # noqa: B018 (map the holds back to candidates, as the engine will)
        for k, v in th.objectives.items():
            got[k] = got.get(k, 0.0) + v
        needs += len(th.classes.needs)
        classes += th.classes.n_classes
        cols += th.classes.n_cols
        cands += len(rows)
        iters += th.iterations
        in_solver += th.in_solver
    ours = time.perf_counter() - t
    diff = max((abs(got[k] - want[k]) / max(1.0, abs(want[k])) for k in want), default=0.0)
    print(f"\n== {name} round ({spec['sites']} sites, {spec['items']} items, {spec['lots']} lots; "
          f"whole round today {round_s:.1f} s, peak RSS {peak_rss_gb():.2f} GB)")
    print(f"   needs {needs:,} -> classes {classes:,} ({needs / max(classes, 1):.0f} needs a class); "
          f"candidates {cands:,} -> class columns {cols:,} ({cands / max(cols, 1):.0f}x fewer)")
    print(f"   {'':<34}{'today':>10}{'classes':>10}{'ratio':>10}")
    print(f"   {'tier + own stages (s)':<34}{today:>10.2f}{ours:>10.2f}{today / ours if ours else 0:>9.1f}x")
    print(f"   classes: {in_solver:.2f} s inside HiGHS ({in_solver / ours if ours else 0:.0%}), "
          f"{iters:,} simplex iterations, building classes and mapping holds back in the rest")
    print(f"   stage optima: {len(want)} stages, largest relative difference {diff:.1e} "
          + ("(equal)" if diff <= 1e-6 else "(DIFFERENT)"))
    if got.keys() != want.keys():
        print(f"   stages differ: today {sorted(want)}, classes {sorted(got)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=list(ROUNDS))
    a = p.parse_args(argv)
    for name in ROUNDS:
        if not a.only or name == a.only:
            bench(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
