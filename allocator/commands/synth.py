"""``allocator synth OUT``: write a synthetic scenario of any size (deterministic for a seed)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="write a synthetic scenario (sites, depots, items, lots, roads) for tests and benchmarks",
        description="Write a valid synthetic scenario with the structure of the Wuhan response: "
        "every tier of site, substitutes, earmarked donations, expired and quarantined lots, "
        "a road grid cut by rivers that only bridges and a tunnel cross, and the day's traffic control.",
    )
    p.add_argument("out", help="folder to write the CSV files to (or .xlsx workbook with --xlsx)")
    p.add_argument("--sites", type=int, default=300, help="number of sites (default 300)")
    p.add_argument("--depots", type=int, default=10, help="number of depots (default 10)")
    p.add_argument("--items", type=int, default=15, help="number of items (default 15)")
    p.add_argument("--lots", type=int, default=1500, help="number of stock lots (default 1500)")
    p.add_argument("--road-nodes", type=int, default=2000, help="number of road nodes (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--as-of", default="2020-02-10T08:00:00", help="date-time of the round")
    p.add_argument("--supply-ratio", type=float, default=0.7,
                   help="usable supply / need of the short items (default 0.7)")
    p.add_argument("--earmark-share", type=float, default=0.1,
                   help="share of donations that are earmarked (default 0.1)")
    p.add_argument("--civil-share", type=float, default=0.1,
                   help="share of donated lots that are civil grade (default 0.1)")
    p.add_argument("--no-roads", action="store_true", help="leave out the road network")
    p.add_argument("--no-traffic-control", action="store_true", help="leave out traffic control")
    p.add_argument("--xlsx", action="store_true",
                   help="write one .xlsx workbook (OUT gets the .xlsx suffix when it has none)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from allocator import synth
    from allocator.scenario import save

    t0 = time.perf_counter()
    sc = synth.generate(
        sites=args.sites,
        depots=args.depots,
        items=args.items,
        lots=args.lots,
        road_nodes=args.road_nodes,
        seed=args.seed,
        as_of=args.as_of,
        earmark_share=args.earmark_share,
        civil_share=args.civil_share,
        supply_ratio=args.supply_ratio,
        with_roads=not args.no_roads,
        with_traffic_control=not args.no_traffic_control,
    )
    t1 = time.perf_counter()
    out = Path(args.out)
    if args.xlsx and out.suffix.lower() != ".xlsx":
        out = out.with_name(out.name + ".xlsx")
    save(sc, out)
    t2 = time.perf_counter()
    counts = ", ".join(f"{k} {v:,}" for k, v in sc.summary().items())
    print(f"wrote {out}: {counts}")
    print(f"generated in {t1 - t0:.1f} s, written in {t2 - t1:.1f} s ({len(sc.warnings)} warning(s))")
    return 0
