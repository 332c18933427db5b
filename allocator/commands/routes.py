"""``allocator routes SCENARIO --out OUT [--at]`` and ``allocator roads import FILE --out DIR``.

``routes`` writes ``routes.csv`` (the contract's columns plus ``permits_used``)
for every depot-site pair the round's allocation ships, and the truck trips of
those shipments (:func:`allocator.network.trips.round_trips`, the plan
``rounds dispatch`` and the app use too) as ``trips.csv``, ``trip_manifest.csv``
and ``unplanned.csv`` (:func:`~allocator.network.trips.trip_sheets`: times to
the second, ``item=quantity;...`` manifests), printing its progress per depot
and wave on standard error. ``roads import`` converts any supported road file to the
contract's ``road_nodes.csv`` + ``roads.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when the command runs, not when the CLI starts
    import pandas as pd


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("routes", help="travel routes and truck trips under the traffic control in force")
    p.add_argument("scenario", help="folder of CSV files or .xlsx workbook")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--at", default=None, help="evaluate traffic control at this time (default: as_of)")
    p.add_argument("--time-limit", type=float, default=5.0,
                   help="longest OR-Tools search per depot and wave, in seconds (default 5)")
    p.add_argument("--patience", type=float, default=None, metavar="S",
                   help="stop a wave's search after S seconds without improvement "
                        "(default: allocator.network.trips.PATIENCE_S; 0: search until --time-limit)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
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
    from allocator.cells import escape_frame
    from allocator.fsutil import write_csv

    write_csv(escape_frame(_fmt_list(df)), path)


def language() -> str:
    """The console's language: ``$ALLOCATOR_LANG`` when it names one of the catalogue's, else the default."""
    import os

    from allocator.i18n import DEFAULT_LANGUAGE, LANGUAGES

    lang = os.environ.get("ALLOCATOR_LANG", "").strip().lower()
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def console_progress(stream=None, lang: str | None = None):  # noqa: ANN001, ANN201
    """A ``progress(code, params)`` for :func:`~allocator.network.trips.plan_trips` printing to standard error.

    Prints each depot and each wave planned (not every improvement) in the console's language.
    """
    from allocator.i18n import t

    lang = lang or language()
    out = stream or sys.stderr

    def progress(code: str, params: dict) -> None:
        if code != "trips.progress.improved":
            print(t(code, lang, **params), file=out, flush=True)

    return progress


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from allocator.i18n import t
    from allocator.network import travel_times
    from allocator.network.trips import PATIENCE_S, Trips, round_trips, write_trip_sheets
    from allocator.scenario import load

    sc = load(args.scenario, as_of=args.at)
    at = pd.Timestamp(args.at) if args.at else None
    travel = travel_times(sc, at=at)
    from allocator import allocate

    result = allocate(sc, travel=travel.minutes)
    shipments = result.allocations
    pairs = shipments[["depot_id", "site_id"]].drop_duplicates().itertuples(index=False)
    routes = travel.routes(pairs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(routes, out / "routes.csv")
    if len(shipments):
        patience = PATIENCE_S if args.patience is None else (args.patience if args.patience > 0 else None)
        tr = round_trips(sc, shipments, travel, time_limit_s=args.time_limit, patience_s=patience,
                         progress=None if args.quiet else console_progress())
    else:
        from allocator.network.trips import MANIFEST_COLUMNS, TRIP_COLUMNS

        tr = Trips(pd.DataFrame(columns=TRIP_COLUMNS), pd.DataFrame(columns=MANIFEST_COLUMNS),
                   pd.DataFrame(columns=["lot_id", "depot_id", "site_id", "item_id", "quantity", "reason"]), {})
    write_trip_sheets(tr, out)
    unreachable = int((~routes.travel_min.map(lambda x: x < float("inf"))).sum())
    lang = language()
    note = t("trips.summary.fallback", lang) if travel.fallback else ""
    print(t("trips.summary.routes", lang, routes=len(routes), unreachable=unreachable, trips=tr.n_trips,
            stops=len(tr.trips), out=out) + note)
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
