"""Benchmark allocation rounds on the scale generator: a city round and a province round.

Run:  python bench/allocate.py [--repeat N] [--only city|province] [--solver highs|cbc] [--full-model]
      python bench/allocate.py --compare ../other-checkout [--repeat N] [--only city|province]

For each round it prints seconds per phase (validate, build, solve, extract,
explain), the share of the time spent inside HiGHS, per stage (tier 1 ...,
fairness, transport, FEFO, ...) the seconds of its solves and the share of those
inside HiGHS (measured by wrapping the drivers' ``solve`` in this script, the library
is unchanged; a fairness round's freezing tests count with their round), the model size (variables,
constraints, independent parts), and the peak memory (the process's maximum
resident set size, ``resource.getrusage``), side by side with the targets as
ratios, and how many of the round's candidate shipments the column generation
built (``--full-model`` builds them all up front, as CBC does). Scenarios come from :func:`allocator.synth.generate` without roads (travel
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
    "city": dict(sites=300, depots=10, items=15, lots=1500, target_s=0.5, target_gb=None),
    "province": dict(sites=2000, depots=40, items=20, lots=10000, target_s=10.0, target_gb=1.0),
}


def scenario(sites: int, depots: int, items: int, lots: int, seed: int = 1):
    from allocator.synth import generate

    return generate(sites=sites, depots=depots, items=items, lots=lots, seed=seed, with_roads=False)


def peak_rss_gb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024**2 if sys.platform != "darwin" else kb / 1024**3


#: Per stage of the last round: [seconds in Driver.solve, seconds inside HiGHS, solves].
STAGE_LOG: dict[str, list[float]] = {}


def instrument() -> None:
    """Wrap every driver's ``solve`` to log, per stage, its seconds and the seconds inside the solver."""
    from allocator.allocate import solver as S

    for cls in (S.HighsDriver, S.PulpDriver):
        if getattr(cls.solve, "_bench", False):
            continue
        inner = cls.solve

        def solve(self, stage, method="primal", inner=inner):  # noqa: ANN001, ANN202
            t, before = time.perf_counter(), self.seconds_in_solver
            try:
                return inner(self, stage, method)
            finally:
                key = stage.split(".test")[0]
                rec = STAGE_LOG.setdefault(key, [0.0, 0.0, 0])
                rec[0] += time.perf_counter() - t
                rec[1] += self.seconds_in_solver - before
                rec[2] += 1

        solve._bench = True  # type: ignore[attr-defined]
        cls.solve = solve


def bench(name: str, repeat: int, solver: str, column_generation: bool = True) -> dict:
    from allocator import allocate

    instrument()
    spec = ROUNDS[name]
    t0 = time.perf_counter()
    sc = scenario(spec["sites"], spec["depots"], spec["items"], spec["lots"])
    gen_s = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        gc.collect()
        STAGE_LOG.clear()
        t = time.perf_counter()
        r = allocate(sc, solver=solver, column_generation=column_generation)
        total = time.perf_counter() - t
        runs.append((total, r.summary, {k: list(v) for k, v in STAGE_LOG.items()}))
    total, summary, stage_log = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
    sec = summary["seconds"]
    return {
        "round": name, "generate_s": gen_s, "total_s": total, "all_s": [round(x[0], 2) for x in runs],
        "phases": {k: sec[k] for k in ("validate", "build", "solve", "extract", "explain")},
        "in_solver_s": sec["in_solver"], "solver_share": sec["in_solver"] / total,
        "stages": summary.get("stage_seconds", {}), "stage_log": stage_log, "model": summary["model"],
        "needs": summary["counts"]["needs"], "filled": summary["totals"]["filled"] / max(summary["totals"]["need"], 1),
        "peak_gb": peak_rss_gb(), "target_s": spec["target_s"], "target_gb": spec["target_gb"],
    }


def report(b: dict) -> None:
    print(f"\n== {b['round']} round: {b['needs']} needs, model {b['model']['variables']:,} variables x "
          f"{b['model']['constraints']:,} constraints in {b['model']['components']} part(s); "
          f"{100 * b['filled']:.1f}% of need filled (scenario generated in {b['generate_s']:.1f} s)")
    cg = b["model"].get("column_generation") or {}
    if cg.get("candidates"):
        print(f"   column generation: {b['model']['candidates']:,} candidate shipments, "
              f"{b['model']['variables'] / b['model']['candidates']:.1%} built "
              f"({cg['generated']:,} generated by pricing, {cg['banned']:,} priced out for good)")
    print(f"   runs (s): {b['all_s']}  median {b['total_s']:.2f} s")
    ph = b["phases"]
    print("   phase     " + "".join(f"{k:>10}" for k in ph) + f"{'HiGHS':>10}")
    print("   seconds   " + "".join(f"{v:>10.2f}" for v in ph.values()) + f"{b['in_solver_s']:>10.2f}")
    print("   share     " + "".join(f"{v / b['total_s']:>10.0%}" for v in ph.values()) + f"{b['solver_share']:>10.0%}")
    log = b.get("stage_log") or {}
    if log:
        print(f"   {'stage':<22}{'solves':>7}{'seconds':>9}{'HiGHS s':>9}{'in HiGHS':>10}{'of round':>10}")
        for k, (sec, hs, n) in log.items():
            print(f"   {k:<22}{n:>7d}{sec:>9.2f}{hs:>9.2f}{hs / sec if sec else 0:>10.0%}{sec / b['total_s']:>10.0%}")
        sec = sum(v[0] for v in log.values())
        hs = sum(v[1] for v in log.values())
        print(f"   {'all stages':<22}{sum(v[2] for v in log.values()):>7d}{sec:>9.2f}{hs:>9.2f}"
              f"{hs / sec if sec else 0:>10.0%}{sec / b['total_s']:>10.0%}"
              f"   (outside the stage solves: {b['total_s'] - sec:.2f} s)")
    elif b["stages"]:
        print("   stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in b["stages"].items()))
    line = f"   vs target: time {b['total_s']:.2f} / {b['target_s']:g} s = {b['total_s'] / b['target_s']:.2f}x"
    line += f"; HiGHS share {b['solver_share']:.0%} (target >= 50%)"
    if b["target_gb"]:
        line += f"; peak RSS {b['peak_gb']:.2f} / {b['target_gb']:.0f} GB = {b['peak_gb'] / b['target_gb']:.2f}x"
    else:
        line += f"; peak RSS {b['peak_gb']:.2f} GB"
    print(line)


_ONE_ROUND = """
import json, resource, sys, time
sys.path.insert(0, {tree!r})
from allocator.synth import generate
from allocator import allocate
sc = generate(sites={sites}, depots={depots}, items={items}, lots={lots}, seed=1, with_roads=False)
t = time.perf_counter()
r = allocate(sc)
total = time.perf_counter() - t
print(json.dumps({{"total": total, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
                  "objectives": r.summary["objectives"]}}))
"""


def compare(name: str, other: str, repeat: int) -> None:
    """The round in this checkout and in ``other``, as fresh processes, alternating; medians and ratios."""
    import json
    import statistics
    import subprocess

    spec = ROUNDS[name]
    here = str(Path(__file__).resolve().parents[1])
    runs: dict[str, list[dict]] = {here: [], other: []}
    for _ in range(repeat):
        for tree in (here, other):
            code = _ONE_ROUND.format(tree=str(Path(tree).resolve()), **{k: spec[k] for k in ("sites", "depots", "items", "lots")})
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            runs[tree].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {t: statistics.median(r["total"] for r in rs) for t, rs in runs.items()}
    rss = {t: max(r["rss"] for r in rs) for t, rs in runs.items()}
    print(f"\n== {name} round, {repeat} alternating runs each (allocate() only, fresh process each)")
    for t, label in ((here, "this checkout"), (other, other)):
        print(f"   {label:<28} median {med[t]:7.2f} s  runs {[round(r['total'], 2) for r in runs[t]]}  "
              f"peak RSS {rss[t]:.2f} GB")
    print(f"   ratio this / other: {med[here] / med[other]:.3f}  (target {spec['target_s']:g} s: "
          f"{med[here] / spec['target_s']:.2f}x)")
    a, b = runs[here][-1]["objectives"], runs[other][-1]["objectives"]
    for k in ("transport",) + tuple(k for k in a if k.startswith("tier[")):
        if k in a and k in b:
            print(f"   {k:<12} this {a[k]:.6f}  other {b[k]:.6f}  rel. diff {abs(a[k] - b[k]) / max(1.0, abs(b[k])):.1e}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", choices=list(ROUNDS))
    p.add_argument("--solver", default="highs", choices=["highs", "cbc"])
    p.add_argument("--full-model", action="store_true", help="build every candidate (no column generation)")
    p.add_argument("--compare", metavar="CHECKOUT", help="time allocate() here and in another checkout, alternating")
    a = p.parse_args(argv)
    if a.compare:
        for name in ROUNDS:
            if not a.only or name == a.only:
                compare(name, a.compare, a.repeat if name == "city" else max(1, a.repeat // 2))
        return 0
    out = []
    for name in ROUNDS:
        if a.only and name != a.only:
            continue
        b = bench(name, a.repeat if name == "city" else max(1, a.repeat // 2), a.solver, not a.full_model)
        report(b)
        out.append(b)
    if len(out) == 2:
        c, p_ = out
        print(f"\nprovince / city: {p_['model']['variables'] / c['model']['variables']:.1f}x variables, "
              f"{p_['total_s'] / c['total_s']:.1f}x time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
