"""``allocator routes SCENARIO --out OUT [--at]`` and ``allocator roads import FILE --out DIR``.

``routes`` writes ``routes.csv`` (the contract's columns plus ``permits_used``)
for every depot-site pair that ships — the pairs of the round's allocation when
:func:`allocator.allocate` is available, else every pair — and ``trips.csv``
(truck trips for those shipments; without an allocation, none) with
``trip_manifest.csv``. ``roads import`` converts any supported road file to the
contract's ``road_nodes.csv`` + ``roads.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from allocator.scenario import load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("routes", help="travel routes and truck trips under the traffic control in force")
    p.add_argument("scenario", help="folder of CSV files or .xlsx workbook")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--at", default=None, help="evaluate traffic control at this time (default: as_of)")
    p.add_argument("--time-limit", type=float, default=10.0, help="OR-Tools seconds per depot and wave")
    p.set_defaults(func=run)
    r = sub.add_parser("roads", help="road network files")
    rs = r.add_subparsers(dest="roads_command", metavar="ACTION", required=True)
    imp = rs.add_parser("import", help="convert a road file (.shp, .geojson, .osm, .osm.pbf, .graphml, CSV) to the CSV pair")
    imp.add_argument("file")
    imp.add_argument("--out", required=True, help="folder for road_nodes.csv and roads.csv")
    imp.add_argument("--tolerance-m", type=float, default=0.5, help="join line vertices closer than this")
    imp.add_argument("--name-field", default=None, help="shapefile attribute holding the road name")
    imp.set_defaults(func=run_import)


def _fmt_list(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda x: isinstance(x, tuple)).any():
            out[c] = out[c].map(lambda x: ";".join(map(str, x)) if isinstance(x, tuple) else x)
    return out


def _write(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    _fmt_list(df).to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(path)


def run(args: argparse.Namespace) -> int:
    from allocator.network import travel_times
    from allocator.network.trips import plan_trips

    sc = load(args.scenario, as_of=args.at)
    at = pd.Timestamp(args.at) if args.at else None
    travel = travel_times(sc, at=at)
    shipments = None
    try:
        from allocator import allocate  # provided by the allocation issue once merged
    except ImportError:
        allocate = None
    if allocate is not None:
        result = allocate(sc, travel=travel.minutes)
        shipments = result.allocations
        pairs = shipments[["depot_id", "site_id"]].drop_duplicates().itertuples(index=False)
    else:
        pairs = None
    routes = travel.routes(pairs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(routes, out / "routes.csv")
    n_trips = 0
    if shipments is not None and len(shipments):
        tr = plan_trips(sc, shipments, travel, time_limit_s=args.time_limit)
        _write(tr.trips, out / "trips.csv")
        _write(tr.manifest, out / "trip_manifest.csv")
        if len(tr.unplanned):
            _write(tr.unplanned, out / "unplanned.csv")
        n_trips = len(tr.trips.drop_duplicates(["vehicle_id", "trip"]))
    else:
        from allocator.network.trips import TRIP_COLUMNS

        _write(pd.DataFrame(columns=TRIP_COLUMNS), out / "trips.csv")
    unreachable = int((~routes.travel_min.map(lambda x: x < float("inf"))).sum())
    note = " (great-circle fallback: the scenario has no roads)" if travel.fallback else ""
    print(f"wrote {len(routes)} route(s), {unreachable} unreachable, {n_trips} trip(s) to {out}{note}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from allocator.network import read_roads, write_csv_pair
    from allocator.network.io import RoadFileError

    try:
        net = read_roads(args.file, tolerance_m=args.tolerance_m, name_field=args.name_field)
    except RoadFileError as exc:
        for p in exc.report.problems:
            print(p, file=sys.stderr)
        print(f"{len(exc.report.errors)} error(s): the road file is invalid", file=sys.stderr)
        return 2
    a, b = write_csv_pair(net, args.out)
    for w in net.warnings:
        print(f"warning: {w}")
    print(f"wrote {net.graph.number_of_nodes()} nodes to {a} and {net.graph.number_of_edges()} arcs to {b}")
    return 0
