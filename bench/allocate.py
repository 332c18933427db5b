"""Benchmark allocation rounds on the scale generator: a city round and a province round.

Run:  python bench/allocate.py [--repeat N] [--only city|province] [--solver highs|cbc]

For each round it prints seconds per phase (validate, build, solve, extract,
explain), the share of the time spent inside HiGHS, the model size (variables,
constraints, independent parts), and the peak memory (the process's maximum
resident set size, ``resource.getrusage``), side by side with the targets as
ratios. Scenarios come from :func:`allocator.synth.generate` without roads (travel
times are the contract's great-circle fallback, so the figures are the
allocation's alone, not the road model's). The machine is shared: take the
median of several repeats and read the ratios rather than the absolute seconds.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

ROUNDS = {
    "city": dict(sites=300, depots=10, items=15, lots=1500, target_s=2.0, target_gb=None),
    "province": dict(sites=2000, depots=40, items=20, lots=10000, target_s=20.0, target_gb=2.0),
}


def scenario(sites: int, depots: int, items: int, lots: int, seed: int = 1):
    from allocator.synth import generate

    return generate(sites=sites, depots=depots, items=items, lots=lots, seed=seed, with_roads=False)


def peak_rss_gb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024**2 if sys.platform != "darwin" else kb / 1024**3


def bench(name: str, repeat: int, solver: str) -> dict:
    from allocator import allocate

    spec = ROUNDS[name]
    t0 = time.perf_counter()
    sc = scenario(spec["sites"], spec["depots"], spec["items"], spec["lots"])
    gen_s = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        r = allocate(sc, solver=solver)
        total = time.perf_counter() - t
        runs.append((total, r.summary))
    total, summary = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
    sec = summary["seconds"]
    return {
        "round": name, "generate_s": gen_s, "total_s": total, "all_s": [round(x[0], 2) for x in runs],
        "phases": {k: sec[k] for k in ("validate", "build", "solve", "extract", "explain")},
        "in_solver_s": sec["in_solver"], "solver_share": sec["in_solver"] / total,
        "stages": summary.get("stage_seconds", {}), "model": summary["model"],
        "needs": summary["counts"]["needs"], "filled": summary["totals"]["filled"] / max(summary["totals"]["need"], 1),
        "peak_gb": peak_rss_gb(), "target_s": spec["target_s"], "target_gb": spec["target_gb"],
    }


def report(b: dict) -> None:
    print(f"\n== {b['round']} round: {b['needs']} needs, model {b['model']['variables']:,} variables x "
          f"{b['model']['constraints']:,} constraints in {b['model']['components']} part(s); "
          f"{100 * b['filled']:.1f}% of need filled (scenario generated in {b['generate_s']:.1f} s)")
    print(f"   runs (s): {b['all_s']}  median {b['total_s']:.2f} s")
    ph = b["phases"]
    print("   phase     " + "".join(f"{k:>10}" for k in ph) + f"{'HiGHS':>10}")
    print("   seconds   " + "".join(f"{v:>10.2f}" for v in ph.values()) + f"{b['in_solver_s']:>10.2f}")
    print("   share     " + "".join(f"{v / b['total_s']:>10.0%}" for v in ph.values()) + f"{b['solver_share']:>10.0%}")
    st = b["stages"]
    if st:
        print("   stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in st.items()))
    line = f"   vs target: time {b['total_s']:.2f} / {b['target_s']:.0f} s = {b['total_s'] / b['target_s']:.2f}x"
    line += f"; HiGHS share {b['solver_share']:.0%} (target >= 50%)"
    if b["target_gb"]:
        line += f"; peak RSS {b['peak_gb']:.2f} / {b['target_gb']:.0f} GB = {b['peak_gb'] / b['target_gb']:.2f}x"
    else:
        line += f"; peak RSS {b['peak_gb']:.2f} GB"
    print(line)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", choices=list(ROUNDS))
    p.add_argument("--solver", default="highs", choices=["highs", "cbc"])
    a = p.parse_args(argv)
    out = []
    for name in ROUNDS:
        if a.only and name != a.only:
            continue
        b = bench(name, a.repeat if name == "city" else max(1, a.repeat // 2), a.solver)
        report(b)
        out.append(b)
    if len(out) == 2:
        c, p_ = out
        print(f"\nprovince / city: {p_['model']['variables'] / c['model']['variables']:.1f}x variables, "
              f"{p_['total_s'] / c['total_s']:.1f}x time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
