"""Reading and writing road networks.

Readers (:func:`read_roads` picks one by the file's name):

- the contract's CSV pair ``road_nodes.csv`` + ``roads.csv`` (a folder, or the
  path of ``roads.csv``); a ``roads.csv`` with a ``wkt``/``geometry`` column of
  LINESTRINGs instead of ``u``/``v`` is read as lines;
- GeoJSON (``.geojson``/``.json``): LineString and MultiLineString features;
- OSM XML (``.osm``): ways with a drivable ``highway`` tag, ``oneway`` and ``maxspeed``;
- OSM PBF (``.osm.pbf``) through the optional ``osmium`` package;
- ESRI shapefiles (``.shp``) of road centre-lines, through ``pyshp``;
- GraphML (``.graphml``) as written by :func:`write_graphml`.

Line formats (GeoJSON, shapefile, WKT) become arcs between consecutive
vertices; lines that share a vertex join there, and vertices closer than
``tolerance_m`` (default 0.5 m) are merged into one node (a KD-tree finds them),
which joins near-misses of digitised centre-lines.

Writers: :func:`write_csv_pair` and :func:`write_graphml`; reading what they
wrote gives the same network.

Every problem in a file is collected and raised together as a
:class:`RoadFileError`, whose report prints in the contract's format
``FILE:ROW: COLUMN: what is wrong (got VALUE)``. ROW is the line number for CSV
files (header = line 1) and the 1-based feature / record number for GeoJSON and
shapefiles; OSM problems name the element in COLUMN.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.errors import NetworkError
from allocator.geo import EARTH_RADIUS_KM, haversine_km, unit_vectors
from allocator.network.model import RoadNetwork
from allocator.network.tables import (
    RoadFileError,
    add_problem,
    check_tables,
    parse_tables,
    raise_errors,
)
from allocator.report import Problem, Report
from allocator.scenario import decode_text, read_csv_text
from allocator.speeds import default_speed

__all__ = [
    "TOLERANCE_M", "OSM_EXCLUDED", "RoadFileError", "read_roads", "read_csv_pair", "write_csv_pair",
    "write_graphml", "read_graphml", "from_lines", "read_geojson", "read_shapefile", "read_osm", "read_pbf",
]

#: Default snapping tolerance for line formats, metres.
TOLERANCE_M = 0.5

#: OSM highway values that are not for trucks.
OSM_EXCLUDED = {
    "footway", "path", "cycleway", "steps", "pedestrian", "bridleway", "track", "corridor",
    "proposed", "construction", "abandoned", "platform", "raceway", "bus_guideway", "elevator",
    "via_ferrata", "escape", "emergency_bay", "rest_area", "services",
}
_TRUE = {"yes", "true", "1", "y", "t"}


def _one(file: str, row: int | None, column: str | None, code: str, value: Any = None, **params: Any) -> RoadFileError:
    """A :class:`RoadFileError` with one problem."""
    r = Report()
    add_problem(r, file, row, column, code, value, **params)
    return RoadFileError(r)


# --------------------------------------------------------------------------- dispatch


def read_roads(path: str | Path, *, tolerance_m: float = TOLERANCE_M, name_field: str | None = None) -> RoadNetwork:
    """Read a road network from any supported file.

    Parameters
    ----------
    path : str or Path
        A folder with ``road_nodes.csv`` and ``roads.csv``, or a ``roads.csv``,
        ``.geojson``/``.json``, ``.osm``, ``.osm.pbf``, ``.shp`` or ``.graphml`` file.
    tolerance_m : float
        Line formats: vertices closer than this are joined.
    name_field : str, optional
        Shapefiles: the attribute holding the road name (default: the first
        field whose name contains ``name`` or ``street``).

    Raises
    ------
    RoadFileError
        Listing every problem of a malformed file.
    NetworkError
        When the file is of no supported kind.

    Examples
    --------
    >>> net = read_roads("../shared/data/wuhan-roads/WHroad.shp")  # doctest: +SKIP
    >>> net.graph.number_of_nodes()  # doctest: +SKIP
    30521
    """
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        return read_csv_pair(p / "road_nodes.csv", p / "roads.csv")
    if not p.exists():
        raise NetworkError(f"{p}: no such file or folder")
    if name.endswith(".osm.pbf") or name.endswith(".pbf"):
        return read_pbf(p)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return read_csv_pair(p.with_name("road_nodes.csv"), p, tolerance_m=tolerance_m)
    if suffix in (".geojson", ".json"):
        return read_geojson(p, tolerance_m=tolerance_m)
    if suffix in (".osm", ".xml"):
        return read_osm(p)
    if suffix == ".shp":
        return read_shapefile(p, tolerance_m=tolerance_m, name_field=name_field)
    if suffix == ".graphml":
        return read_graphml(p)
    raise NetworkError(
        f"{p}: unsupported road file (use a road_nodes.csv + roads.csv folder, .geojson, .osm, .osm.pbf, .shp or .graphml)"
    )


# --------------------------------------------------------------------------- CSV pair


def _read_text(path: Path, label: str, problems: list[Problem]) -> pd.DataFrame | None:
    """A CSV file as text cells with the scenario readers (index = line - 2); problems appended."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        r = Report()
        r.problem(label, None, None, "file_unreadable", error=exc.strerror or str(exc))
        problems.extend(r.problems)
        return None
    text, problem = decode_text(data, label)
    if problem is not None:
        problems.append(problem)
        return None
    assert text is not None
    df, found = read_csv_text(text, label)
    problems.extend(found)
    return df


def read_csv_pair(nodes_path: str | Path, roads_path: str | Path, *, tolerance_m: float = TOLERANCE_M) -> RoadNetwork:
    """Read the contract's ``road_nodes.csv`` + ``roads.csv``.

    The files are read by the scenario readers and checked by the scenario
    validator (:func:`allocator.network.tables.parse_tables`), exactly as the
    same files in a scenario folder are. A ``roads.csv`` that has a ``wkt`` or
    ``geometry`` column (LINESTRING in lon lat) and no ``u``/``v`` columns is
    read as lines and needs no nodes file.

    Raises
    ------
    RoadFileError
        Missing files or columns, values that do not parse, unknown node ids,
        lengths or speeds <= 0, self-loops: every problem, each with its code.
    """
    nodes_path, roads_path = Path(nodes_path), Path(roads_path)
    nl, rl = nodes_path.name, roads_path.name
    if not roads_path.is_file():
        raise _one(rl, None, None, "road_file_not_found")
    problems: list[Problem] = []
    roads = _read_text(roads_path, rl, problems)
    if roads is None:
        raise RoadFileError(Report(problems=problems))
    geom_col = next((c for c in ("wkt", "geometry") if c in roads.columns), None)
    if geom_col and not {"u", "v"} <= set(roads.columns):
        return _read_wkt_roads(roads, geom_col, rl, tolerance_m)
    if not nodes_path.is_file():
        raise _one(nl, None, None, "road_nodes_not_found", other=rl)
    nodes = _read_text(nodes_path, nl, problems)
    texts = {"roads": roads} if nodes is None else {"road_nodes": nodes, "roads": roads}
    typed, report = parse_tables(texts, {"road_nodes": nl, "roads": rl}, problems)
    raise_errors(report)
    return RoadNetwork.from_tables(typed["road_nodes"], typed["roads"], source=str(roads_path), checked=True)


def write_csv_pair(net: RoadNetwork, folder: str | Path) -> tuple[Path, Path]:
    """Write ``road_nodes.csv`` and ``roads.csv`` into ``folder`` (created if needed).

    Examples
    --------
    >>> from allocator import examples
    >>> import tempfile
    >>> sc = examples.ring_road()
    >>> a, b = write_csv_pair(RoadNetwork.from_tables(sc.road_nodes, sc.roads), tempfile.mkdtemp())
    >>> read_csv_pair(a, b).graph.number_of_edges()
    12
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    nodes, roads = net.to_tables()
    a, b = out / "road_nodes.csv", out / "roads.csv"
    nodes.to_csv(a, index=False, lineterminator="\n", float_format="%.9g")
    r = roads.copy()
    r["oneway"] = r["oneway"].map({True: "true", False: "false"})
    r.to_csv(b, index=False, lineterminator="\n", float_format="%.10g")
    return a, b


# --------------------------------------------------------------------------- GraphML


def write_graphml(net: RoadNetwork, path: str | Path) -> Path:
    """Write the graph as GraphML (node ``lat``/``lon``; arc ``length_m``, ``speed_kmh``, ``name``, ``kind``)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from((n, {"lat": float(d["lat"]), "lon": float(d["lon"])}) for n, d in net.graph.nodes(data=True))
    g.add_edges_from(
        (a, b, {"length_m": float(d["length_m"]), "speed_kmh": float(d["speed_kmh"]),
                "name": str(d.get("name", "")), "kind": str(d.get("kind", "road"))})
        for a, b, d in net.graph.edges(data=True)
    )
    p = Path(path)
    nx.write_graphml(g, p)
    return p


def read_graphml(path: str | Path) -> RoadNetwork:
    """Read a GraphML file written by :func:`write_graphml` (or with the same attributes)."""
    import networkx as nx

    p = Path(path)
    try:
        g = nx.read_graphml(p, node_type=str)
    except (ET.ParseError, nx.NetworkXError, ValueError, KeyError) as exc:
        raise _one(p.name, None, None, "road_graphml_unreadable", error=str(exc)) from None
    report = Report()
    ids = list(g.nodes)
    lat = [g.nodes[n].get("lat") for n in ids]
    lon = [g.nodes[n].get("lon") for n in ids]
    for n, a, b in zip(ids, lat, lon):
        if a is None or b is None:
            add_problem(report, p.name, None, f"node {n}", "road_node_needs_lat_lon")
    rows = []
    for a, b, d in g.edges(data=True):
        if "length_m" not in d:
            add_problem(report, p.name, None, f"edge {a}-{b}", "road_arc_needs_length")
            continue
        rows.append((a, b, float(d["length_m"]), float(d.get("speed_kmh", default_speed(d.get("kind", "road")))),
                     str(d.get("name", "")), str(d.get("kind", "road"))))
    raise_errors(report)
    tn = pd.DataFrame({"node_id": ids, "lat": lat, "lon": lon})
    tr = pd.DataFrame(rows, columns=["u", "v", "length_m", "speed_kmh", "name", "kind"])
    tr["oneway"] = True  # GraphML keeps both arcs of a two-way road
    # the schema's checks, each problem named by its node or edge (GraphML has no rows)
    for prob in check_tables({"road_nodes": tn, "roads": tr}).problems:
        i = (prob.row or 2) - 2
        where = f"node {tn.node_id[i]}" if prob.file == "road_nodes.csv" else f"edge {tr.u[i]}-{tr.v[i]}"
        report.problems.append(dataclasses.replace(prob, file=p.name, row=None, column=f"{where}: {prob.column}"))
    raise_errors(report)
    return RoadNetwork.from_arrays(
        tn.node_id.to_numpy(object), tn.lat.to_numpy(float), tn.lon.to_numpy(float),
        tr.u.to_numpy(object), tr.v.to_numpy(object), tr.length_m.to_numpy(float),
        tr.speed_kmh.to_numpy(float), tr.oneway.to_numpy(bool), tr.name.to_numpy(object),
        tr.kind.to_numpy(object), source=str(p),
    )


# --------------------------------------------------------------------------- lines


def from_lines(
    lines: list[np.ndarray],
    attrs: list[dict[str, Any]],
    *,
    tolerance_m: float = TOLERANCE_M,
    source: str = "",
) -> RoadNetwork:
    """Build a network from polylines: arcs between consecutive vertices.

    Parameters
    ----------
    lines : list of ndarray
        Each an (n, 2) array of (lon, lat) vertices, n >= 2.
    attrs : list of dict
        Per line: ``name``, ``kind``, ``speed_kmh`` (None: by kind) and
        ``oneway`` (``True``; ``"-1"`` for reversed; else two-way).
    tolerance_m : float
        Vertices closer than this become one node (shared vertices always do).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    lens = np.array([len(x) for x in lines], dtype=np.int64)
    xy = np.concatenate(lines) if lines else np.empty((0, 2))
    # exact joins: vertices equal to ~1 cm
    key = np.round(xy * 1e7).astype(np.int64)
    uniq, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    pts = xy[first]
    label = np.arange(len(pts))
    merged = 0
    if tolerance_m > 0 and len(pts) > 1:
        tree = cKDTree(unit_vectors(pts[:, 1], pts[:, 0]))
        chord = 2 * math.sin(tolerance_m / 1000.0 / EARTH_RADIUS_KM / 2)
        pairs = tree.query_pairs(chord, output_type="ndarray")
        if len(pairs):
            adj = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(pts), len(pts)))
            _, label = connected_components(adj, directed=False)
            merged = len(pts) - (label.max() + 1)
    # relabel nodes in order of first appearance
    _, node_first, node_of_pt = np.unique(label, return_index=True, return_inverse=True)
    node_xy = pts[node_first]
    node = node_of_pt[inv]  # node of every vertex
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    # arcs: vertex k -> k+1 inside each line
    is_last = np.zeros(len(xy), bool)
    is_last[starts + lens - 1] = True
    k = np.nonzero(~is_last)[0]
    a, b = node[k], node[k + 1]
    line_of = np.repeat(np.arange(len(lines)), lens)[k]
    length = haversine_km(xy[k, 1], xy[k, 0], xy[k + 1, 1], xy[k + 1, 0]) * 1000.0
    keep = (a != b) & (length > 0)
    dropped = int((~keep).sum())
    a, b, line_of, length = a[keep], b[keep], line_of[keep], length[keep]
    names = np.array([str(at.get("name", "") or "") for at in attrs], dtype=object)
    kinds = np.array([str(at.get("kind", "") or "road") for at in attrs], dtype=object)
    speeds = np.array(
        [float(at["speed_kmh"]) if at.get("speed_kmh") else default_speed(str(at.get("kind", "road"))) for at in attrs]
    )
    ow = [at.get("oneway") for at in attrs]
    rev = np.array([o == "-1" for o in ow], bool)[line_of]
    oneway = np.array([o is True or o == "-1" for o in ow], bool)[line_of]
    a, b = np.where(rev, b, a), np.where(rev, a, b)
    warn = []
    if merged:
        warn.append(f"{merged} vertex/vertices within {tolerance_m:g} m of another joined")
    if dropped:
        warn.append(f"{dropped} zero-length segment(s) dropped")
    ids = np.array([f"n{i}" for i in range(len(node_xy))], dtype=object)
    return RoadNetwork.from_arrays(
        ids, node_xy[:, 1], node_xy[:, 0], ids[a], ids[b], length, speeds[line_of], oneway,
        names[line_of], kinds[line_of], source=source, warnings=warn,
    )


def _coords(obj: Any) -> np.ndarray | None:
    try:
        arr = np.asarray(obj, dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2 or not np.isfinite(arr[:, :2]).all():
        return None
    arr = arr[:, :2]
    if (np.abs(arr[:, 0]) > 180).any() or (np.abs(arr[:, 1]) > 90).any():
        return None
    return arr


def _speed(value: Any) -> float | None:
    """Parse a speed such as ``50``, ``"50 km/h"`` or ``"30 mph"``; None when not given or invalid."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(km/h|kmh|kph|mph)?\s*$", str(value).lower())
    if not m:
        return None
    x = float(m.group(1))
    return x * 1.609344 if m.group(2) == "mph" else (x if x > 0 else None)


def _oneway(value: Any) -> bool | str:
    s = str(value).strip().lower() if value is not None else ""
    if s == "-1" or s == "reverse":
        return "-1"
    return s in _TRUE or value is True


def read_geojson(path: str | Path, *, tolerance_m: float = TOLERANCE_M) -> RoadNetwork:
    """Read LineString / MultiLineString features of a GeoJSON file (lon, lat).

    Properties used: ``name``; ``kind`` or ``highway``; ``speed_kmh`` or ``maxspeed``;
    ``oneway`` (true / yes / 1; -1 for reversed).
    """
    p = Path(path)
    report = Report()
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        add_problem(report, p.name, getattr(exc, "lineno", None), None, "road_json_invalid", error=str(getattr(exc, "msg", exc)))
        raise RoadFileError(report) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        feats = [doc]
    else:
        feats = None
    if not isinstance(feats, list):
        add_problem(report, p.name, None, "type", "road_geojson_not_collection",
                   doc.get("type") if isinstance(doc, dict) else type(doc).__name__)
        raise RoadFileError(report)
    lines, attrs = [], []
    for i, f in enumerate(feats, start=1):
        if not isinstance(f, dict):
            add_problem(report, p.name, i, "feature", "road_geojson_not_feature", type(f).__name__)
            continue
        geom = f.get("geometry") or {}
        props = f.get("properties") or {}
        gtype = geom.get("type") if isinstance(geom, dict) else None
        if gtype == "LineString":
            parts = [geom.get("coordinates")]
        elif gtype == "MultiLineString":
            parts = geom.get("coordinates") or []
        else:
            add_problem(report, p.name, i, "geometry", "road_not_a_line", gtype, severity="warning")
            continue
        kind = str(props.get("kind") or props.get("highway") or "road")
        sp_raw = props.get("speed_kmh", props.get("maxspeed"))
        sp = _speed(sp_raw)
        if sp_raw not in (None, "") and sp is None:
            add_problem(report, p.name, i, "speed_kmh", "road_speed_not_positive", sp_raw)
        at = {"name": props.get("name") or "", "kind": kind, "speed_kmh": sp, "oneway": _oneway(props.get("oneway"))}
        for part in parts:
            c = _coords(part)
            if c is None:
                add_problem(report, p.name, i, "coordinates", "road_line_too_short",
                           json.dumps(part)[:60])
                continue
            lines.append(c)
            attrs.append(at)
    if not lines and not report.errors:
        add_problem(report, p.name, None, "geometry", "road_no_linestrings")
    raise_errors(report)
    return from_lines(lines, attrs, tolerance_m=tolerance_m, source=str(p))


def _read_wkt_roads(roads: pd.DataFrame, col: str, label: str, tolerance_m: float) -> RoadNetwork:
    from shapely import wkt
    from shapely.errors import ShapelyError

    report = Report()
    lines: list[np.ndarray] = []
    attrs: list[dict[str, Any]] = []
    index: list[int] = [int(i) for i in roads.index]
    for i, row in zip(index, roads.to_dict("records")):
        text = str(row[col])
        try:
            g = wkt.loads(text)
        except (ShapelyError, ValueError, TypeError):
            add_problem(report, label, i + 2, col, "wkt_invalid", text[:60])
            continue
        if g.geom_type == "LineString":
            parts = [g]
        elif g.geom_type == "MultiLineString":
            parts = list(g.geoms)
        else:
            add_problem(report, label, i + 2, col, "road_wkt_not_linestring", g.geom_type)
            continue
        speed_text = str(row["speed_kmh"]) if "speed_kmh" in row else None
        sp = _speed(speed_text) if speed_text is not None else None
        if speed_text is not None and speed_text.strip() and sp is None:
            add_problem(report, label, i + 2, "speed_kmh", "road_speed_not_positive", speed_text)
        at = {
            "name": str(row["name"]) if "name" in row else "",
            "kind": (str(row["kind"]) if "kind" in row else "") or "road",
            "speed_kmh": sp,
            "oneway": _oneway(row["oneway"]) if "oneway" in row else False,
        }
        for part in parts:
            c = _coords(np.asarray(part.coords))
            if c is None:
                add_problem(report, label, i + 2, col, "road_line_too_short", text[:60])
                continue
            lines.append(c)
            attrs.append(at)
    if not lines and not report.errors:
        add_problem(report, label, None, col, "road_no_lines")
    raise_errors(report)
    return from_lines(lines, attrs, tolerance_m=tolerance_m, source=label)


# --------------------------------------------------------------------------- shapefile


def read_shapefile(path: str | Path, *, tolerance_m: float = TOLERANCE_M, name_field: str | None = None) -> RoadNetwork:
    """Read an ESRI shapefile of road centre-lines (polylines in WGS-84 degrees)."""
    import shapefile

    p = Path(path)
    report = Report()
    try:
        sf = shapefile.Reader(str(p))
    except (shapefile.ShapefileException, OSError, ValueError, struct_error()) as exc:
        add_problem(report, p.name, None, None, "road_shapefile_unreadable", error=str(exc))
        raise RoadFileError(report) from None
    with sf:
        if sf.shapeType not in (shapefile.POLYLINE, shapefile.POLYLINEZ, shapefile.POLYLINEM):
            add_problem(report, p.name, None, "shape type", "road_shapefile_not_lines", sf.shapeTypeName)
            raise RoadFileError(report)
        if len(sf) == 0:
            add_problem(report, p.name, None, None, "road_shapefile_empty")
            raise RoadFileError(report)
        bbox = sf.bbox
        if abs(bbox[0]) > 180 or abs(bbox[2]) > 180 or abs(bbox[1]) > 90 or abs(bbox[3]) > 90:
            add_problem(report, p.name, None, "coordinates", "road_shapefile_not_degrees",
                       ", ".join(f"{x:.0f}" for x in bbox))
            raise RoadFileError(report)
        fields = [f[0] for f in sf.fields[1:]]
        if name_field is None:
            name_field = next((f for f in fields if "name" in f.lower()), None) or next(
                (f for f in fields if "street" in f.lower()), None)
        elif name_field not in fields:
            add_problem(report, p.name, None, name_field, "road_shapefile_no_field", ", ".join(fields))
            raise RoadFileError(report)
        kind_field = next((f for f in fields if f.lower() in ("highway", "kind", "fclass", "type")), None)
        lines, attrs = [], []
        for i, sr in enumerate(sf.iterShapeRecords(), start=1):
            shp, rec = sr.shape, sr.record
            if shp.shapeType == shapefile.NULL:
                continue
            pts = np.asarray(shp.points, dtype=float)
            bounds = list(shp.parts) + [len(pts)]
            nm = rec[name_field] if name_field else ""
            at = {"name": "" if nm is None else str(nm), "kind": str(rec[kind_field]) if kind_field else "road",
                  "speed_kmh": None, "oneway": False}
            for s, e in zip(bounds[:-1], bounds[1:]):
                c = _coords(pts[s:e])
                if c is None:
                    add_problem(report, p.name, i, "geometry", "road_line_too_short", e - s)
                    continue
                lines.append(c)
                attrs.append(at)
    if not lines and not report.errors:
        add_problem(report, p.name, None, None, "road_shapefile_empty")
    raise_errors(report)
    return from_lines(lines, attrs, tolerance_m=tolerance_m, source=str(p))


def struct_error() -> type[Exception]:
    import struct

    return struct.error


# --------------------------------------------------------------------------- OSM


def _osm_way(tags: dict[str, str], refs: list[str]) -> tuple[str, float | None, bool | str, str] | None:
    hw = tags.get("highway")
    if not hw or hw in OSM_EXCLUDED or len(refs) < 2:
        return None
    kind = "tunnel" if tags.get("tunnel", "no") not in ("no", "") else (
        "bridge" if tags.get("bridge", "no") not in ("no", "") else hw)
    ow: bool | str = _oneway(tags.get("oneway"))
    if ow is False and (tags.get("junction") == "roundabout" or hw == "motorway") and tags.get("oneway") != "no":
        ow = True
    sp = _speed(tags.get("maxspeed"))
    if sp is None:
        sp = default_speed(hw)
    return kind, sp, ow, tags.get("name", "")


def _osm_network(nodes: dict[str, tuple[float, float]], ways: list[tuple[str, list[str], dict[str, str]]],
                 label: str, report: Report) -> RoadNetwork:
    us, vs, sp, ow, nm, kd = [], [], [], [], [], []
    for wid, refs, tags in ways:
        parsed = _osm_way(tags, refs)
        if parsed is None:
            continue
        kind, speed, oneway, name = parsed
        missing = [r for r in refs if r not in nodes]
        if missing:
            add_problem(report, label, None, f"way {wid}", "road_osm_unknown_node", missing[0])
            continue
        seq = refs[::-1] if oneway == "-1" else refs
        for a, b in zip(seq[:-1], seq[1:]):
            if a == b:
                continue
            us.append(a)
            vs.append(b)
            sp.append(speed)
            ow.append(bool(oneway))
            nm.append(name)
            kd.append(kind)
    if not us and not report.errors:
        add_problem(report, label, None, "highway", "road_osm_no_ways")
    raise_errors(report)
    used = sorted(set(us) | set(vs))
    lat = np.array([nodes[n][0] for n in used])
    lon = np.array([nodes[n][1] for n in used])
    idx = {n: i for i, n in enumerate(used)}
    ia = np.array([idx[a] for a in us])
    ib = np.array([idx[b] for b in vs])
    length = haversine_km(lat[ia], lon[ia], lat[ib], lon[ib]) * 1000.0
    keep = length > 0
    return RoadNetwork.from_arrays(
        np.array(used, object), lat, lon, np.array(us, object)[keep], np.array(vs, object)[keep], length[keep],
        np.array(sp)[keep], np.array(ow)[keep], np.array(nm, object)[keep], np.array(kd, object)[keep],
        source=label,
        warnings=[f"{int((~keep).sum())} zero-length segment(s) dropped"] if (~keep).any() else [],
    )


def read_osm(path: str | Path) -> RoadNetwork:
    """Read an OpenStreetMap XML file: ways with a drivable ``highway`` tag.

    ``oneway=yes/true/1`` (and roundabouts, motorways) give one-way arcs,
    ``oneway=-1`` reverses the way; ``maxspeed`` (km/h or mph) sets the speed,
    else a default by highway class. Bridges and tunnels get that kind.
    """
    p = Path(path)
    report = Report()
    nodes: dict[str, tuple[float, float]] = {}
    ways: list[tuple[str, list[str], dict[str, str]]] = []
    saw_root = False
    try:
        for event, el in ET.iterparse(p, events=("start", "end")):
            if event == "start":
                if not saw_root:
                    saw_root = True
                    if el.tag != "osm":
                        add_problem(report, p.name, None, None, "road_osm_not_osm", el.tag)
                        raise RoadFileError(report)
                continue
            if el.tag == "node":
                nid = el.get("id")
                try:
                    la, lo = float(el.get("lat")), float(el.get("lon"))
                    if not (-90 <= la <= 90 and -180 <= lo <= 180):
                        raise ValueError
                    nodes[nid] = (la, lo)
                except (TypeError, ValueError):
                    add_problem(report, p.name, None, f"node {nid}", "road_osm_bad_lat_lon", f"{el.get('lat')}, {el.get('lon')}")
                el.clear()
            elif el.tag == "way":
                refs = [nd.get("ref") for nd in el.iter("nd")]
                tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                if "highway" in tags:
                    ways.append((el.get("id"), refs, tags))
                el.clear()
            elif el.tag == "relation":
                el.clear()
    except ET.ParseError as exc:
        add_problem(report, p.name, exc.position[0], None, "road_osm_malformed", error=str(exc))
        raise RoadFileError(report) from None
    return _osm_network(nodes, ways, p.name, report)


def read_pbf(path: str | Path) -> RoadNetwork:
    """Read an OpenStreetMap ``.osm.pbf`` extract (needs the optional ``osmium`` package)."""
    p = Path(path)
    try:
        import osmium
    except ImportError:
        raise NetworkError(
            f"{p}: reading .osm.pbf needs the osmium package (pip install 'supply-allocator[pbf]')"
        ) from None
    nodes: dict[str, tuple[float, float]] = {}
    ways: list[tuple[str, list[str], dict[str, str]]] = []
    try:
        fp = osmium.FileProcessor(str(p)).with_filter(osmium.filter.KeyFilter("highway")).with_locations()
        for obj in fp:
            if obj.is_way():
                refs = []
                for n in obj.nodes:
                    if n.location.valid():
                        nodes[str(n.ref)] = (n.location.lat, n.location.lon)
                    refs.append(str(n.ref))
                ways.append((str(obj.id), refs, {t.k: t.v for t in obj.tags}))
    except RuntimeError as exc:
        raise _one(p.name, None, None, "road_pbf_unreadable", error=str(exc)) from None
    return _osm_network(nodes, ways, p.name, Report())
