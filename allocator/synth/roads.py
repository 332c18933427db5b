"""The synthetic city's roads: a jittered grid cut by rivers, bridges and a tunnel, and its traffic control.

Part of :mod:`allocator.synth` (which re-exports every public name); the other
tables (sites, items, lots, donations, depots, vehicles) are built in
:mod:`allocator.synth.tables`. Speeds come from the one road speed table
(``allocator/data/road_speeds.csv``, column ``synthetic_kmh``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allocator.errors import InvalidArgumentError
from allocator.geo import haversine_km
from allocator.speeds import SYNTHETIC_SPEED_KMH

if TYPE_CHECKING:
    from shapely.geometry import LineString

    from allocator.scenario import Scenario

#: The area the synthetic city lies in: (lon_min, lat_min, lon_max, lat_max) around Wuhan.
WUHAN_BBOX: tuple[float, float, float, float] = (114.0, 30.3, 114.6, 30.8)

#: Typical distance between neighbouring road nodes of a city grid, km.
TARGET_SPACING_KM = 0.3

#: Smallest side of a generated city, km (small grids get wider spacing instead).
MIN_EXTENT_KM = 6.0

#: Speed by road kind of the generated grid, km/h (the ``synthetic_kmh`` column of the one
#: road speed table, ``allocator/data/road_speeds.csv``).
SPEED_KMH: dict[str, float] = SYNTHETIC_SPEED_KMH


def _ids(prefix: str, n: int, width: int | None = None) -> np.ndarray:
    w = width or max(len(str(n)), 2)
    return pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(w).radd(prefix).to_numpy(object)


@dataclass(frozen=True)
class River:
    """A river that only bridges and tunnels cross.

    Attributes
    ----------
    name : str
    lonlat : ndarray, shape (k, 2)
        The centre line as (lon, lat) vertices.
    half_width_km : float
        No road node lies closer to the centre line than this (the grid may widen it).
    bridges : tuple of (name, position)
        Crossings to build, as a name and a position along the line (0 to 1).
    tunnels : tuple of (name, position)
        Tunnels, likewise.
    """

    name: str
    lonlat: np.ndarray
    half_width_km: float
    bridges: tuple[tuple[str, float], ...] = ()
    tunnels: tuple[tuple[str, float], ...] = ()

    @property
    def line(self) -> LineString:
        """The centre line as a shapely ``LineString`` in lon lat."""
        from shapely.geometry import LineString

        return LineString(self.lonlat)


def city_bbox(
    n_nodes: int,
    spacing_km: float = TARGET_SPACING_KM,
    bounds: tuple[float, float, float, float] = WUHAN_BBOX,
) -> tuple[float, float, float, float]:
    """The bbox of a city grid of ``n_nodes`` with realistic spacing, centred in ``bounds``.

    The side is ``sqrt(n_nodes) * spacing_km``, at least :data:`MIN_EXTENT_KM` and
    at most the size of ``bounds`` (large grids get denser instead).

    Examples
    --------
    >>> lon0, lat0, lon1, lat1 = city_bbox(2000)
    >>> 114.0 < lon0 < lon1 < 114.6 and 30.3 < lat0 < lat1 < 30.8
    True
    """
    lon0, lat0, lon1, lat1 = bounds
    latc, lonc = (lat0 + lat1) / 2, (lon0 + lon1) / 2
    kx, ky = _km_per_degree(latc)
    side = max(MIN_EXTENT_KM, math.sqrt(max(n_nodes, 1)) * spacing_km)
    half_lon = min(side / kx, lon1 - lon0) / 2
    half_lat = min(side / ky, lat1 - lat0) / 2
    return (lonc - half_lon, latc - half_lat, lonc + half_lon, latc + half_lat)


def default_rivers(
    bbox: tuple[float, float, float, float],
    n_rivers: int = 2,
    rng: np.random.Generator | None = None,
) -> tuple[River, ...]:
    """A Yangtze running south-west to north-east through ``bbox`` and a Han joining it from the west.

    Their shapes follow Wuhan's (three towns: Hankou north of the Han, Hanyang
    between the rivers, Wuchang across the Yangtze), scaled to the bbox and
    jittered by ``rng``. The Yangtze gets four bridges and one tunnel, the Han
    three bridges.

    Examples
    --------
    >>> rs = default_rivers(city_bbox(2000))
    >>> [r.name for r in rs]
    ['Yangtze River', 'Han River']
    """
    if not 1 <= n_rivers <= 2:
        raise InvalidArgumentError("n_rivers must be 1 or 2")
    rng = rng if rng is not None else np.random.default_rng(0)
    lon0, lat0, lon1, lat1 = bbox
    yz = np.array([(0.22, -0.02), (0.33, 0.22), (0.45, 0.42), (0.52, 0.52),
                   (0.62, 0.64), (0.78, 0.80), (0.92, 1.02)])
    yz[1:-1] += rng.uniform(-0.03, 0.03, size=(len(yz) - 2, 2))
    han = np.array([(-0.02, 0.62), (0.15, 0.66), (0.30, 0.60), (0.42, 0.57)])
    han[1:] += rng.uniform(-0.03, 0.03, size=(len(han) - 1, 2))
    han = np.vstack([han, yz[3]])  # the Han ends where it meets the Yangtze

    def to_lonlat(f: np.ndarray) -> np.ndarray:
        return np.column_stack([lon0 + f[:, 0] * (lon1 - lon0), lat0 + f[:, 1] * (lat1 - lat0)])

    rivers = [
        River(
            "Yangtze River",
            to_lonlat(yz),
            0.6,
            bridges=(
                ("Baishazhou Yangtze River Bridge", 0.22),
                ("Wuhan Yangtze River Bridge", 0.40),
                ("Second Yangtze River Bridge", 0.64),
                ("Tianxingzhou Yangtze River Bridge", 0.84),
            ),
            tunnels=(("Wuhan Yangtze River Tunnel", 0.74),),
        ),
        River(
            "Han River",
            to_lonlat(han),
            0.15,
            bridges=(
                ("Changfeng Bridge", 0.25),
                ("Yuehu Bridge", 0.50),
                ("Jianghan Bridge", 0.72),
            ),
        ),
    ]
    return tuple(rivers[:n_rivers])


def _km_per_degree(lat: float) -> tuple[float, float]:
    return 111.320 * math.cos(math.radians(lat)), 110.574


@dataclass
class _Proj:
    """A local equirectangular projection to km (linear, so it keeps intersections)."""

    lon0: float
    lat0: float
    kx: float
    ky: float

    @classmethod
    def of(cls, bbox: tuple[float, float, float, float]) -> _Proj:
        kx, ky = _km_per_degree((bbox[1] + bbox[3]) / 2)
        return cls(bbox[0], bbox[1], kx, ky)

    def xy(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.column_stack([(np.asarray(lon) - self.lon0) * self.kx,
                                (np.asarray(lat) - self.lat0) * self.ky])

    def lonlat(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.lon0 + xy[:, 0] / self.kx, self.lat0 + xy[:, 1] / self.ky


def _dist_to_polyline(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance from each point (n, 2) to a polyline (k, 2), same units."""
    best = np.full(len(p), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-18), 0.0, 1.0)
        d = np.hypot(*(p - (a + t[:, None] * ab)).T)
        np.minimum(best, d, out=best)
    return best


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (b[..., 0] - o[..., 0])


def _segments_cross_polyline(p: np.ndarray, q: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Whether each segment p[i]-q[i] intersects the polyline (proper or touching)."""
    hit = np.zeros(len(p), dtype=bool)
    for a, b in zip(line[:-1], line[1:]):
        a_, b_ = np.broadcast_to(a, p.shape), np.broadcast_to(b, p.shape)
        d1, d2 = _cross(a_, b_, p), _cross(a_, b_, q)
        d3, d4 = _cross(p, q, a_), _cross(p, q, b_)
        hit |= (d1 * d2 <= 0) & (d3 * d4 <= 0) & ~((d1 == 0) & (d2 == 0))
    return hit


def _point_along(line: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """The point at fraction ``t`` of a polyline's length and the unit normal there."""
    seg = np.diff(line, axis=0)
    lens = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(lens)])
    s = t * cum[-1]
    i = int(np.clip(np.searchsorted(cum, s) - 1, 0, len(seg) - 1))
    f = (s - cum[i]) / lens[i]
    tangent = seg[i] / lens[i]
    return line[i] + f * seg[i], np.array([-tangent[1], tangent[0]])


@dataclass
class _Grid:
    xy: np.ndarray
    spacing: float
    u: np.ndarray
    v: np.ndarray
    kind: np.ndarray
    name: np.ndarray
    proj: _Proj
    rivers_xy: list[np.ndarray]
    half_widths: list[float]


def _build_grid(
    n_nodes: int,
    bbox: tuple[float, float, float, float],
    rivers: Sequence[River],
    rng: np.random.Generator,
    jitter: float = 0.25,
) -> _Grid:
    if n_nodes < 16:
        raise InvalidArgumentError("a road grid needs at least 16 nodes")
    proj = _Proj.of(bbox)
    width = (bbox[2] - bbox[0]) * proj.kx
    height = (bbox[3] - bbox[1]) * proj.ky
    if width <= 0 or height <= 0:
        raise InvalidArgumentError(f"empty bbox {bbox}")
    rivers_xy = [proj.xy(r.lonlat[:, 0], r.lonlat[:, 1]) for r in rivers]

    def layout(s: float) -> tuple[int, int, np.ndarray, list[float]]:
        cols = int(width // s) + 1
        rows = int(height // s) + 1
        gx = (width - (cols - 1) * s) / 2 + np.arange(cols) * s
        gy = (height - (rows - 1) * s) / 2 + np.arange(rows) * s
        xx, yy = np.meshgrid(gx, gy)  # row-major: row = y index
        return rows, cols, np.column_stack([xx.ravel(), yy.ravel()]), [max(r.half_width_km, 0.8 * s) for r in rivers]

    def land(pts: np.ndarray, hws: list[float]) -> np.ndarray:
        ok = np.ones(len(pts), dtype=bool)
        for line, hw in zip(rivers_xy, hws):
            ok &= _dist_to_polyline(pts, line) > hw
        return ok

    s = math.sqrt(width * height / n_nodes)
    for _ in range(400):
        rows, cols, pts, hws = layout(s)
        if land(pts, hws).sum() >= n_nodes * 1.005 + 2:
            pts = pts + rng.uniform(-jitter, jitter, size=pts.shape) * s
            pts[:, 0] = np.clip(pts[:, 0], 0, width)
            pts[:, 1] = np.clip(pts[:, 1], 0, height)
            ok = land(pts, hws)
            if ok.sum() >= n_nodes:
                break
        s *= 0.99
    else:  # pragma: no cover - the loop always finds a spacing
        raise RuntimeError("could not lay out the road grid")

    # keep the first n_nodes land points in row-major order: the top row may be partial
    keep = np.flatnonzero(ok)[:n_nodes]
    node_of = np.full(rows * cols, -1)
    node_of[keep] = np.arange(n_nodes)
    xy = pts[keep]
    g = np.arange(rows * cols).reshape(rows, cols)
    r_idx, c_idx = np.divmod(np.arange(rows * cols), cols)

    # horizontal edges (along rows) and vertical edges (along columns)
    hu, hv = g[:, :-1].ravel(), g[:, 1:].ravel()
    vu, vv = g[:-1, :].ravel(), g[1:, :].ravel()
    hrow, vcol = r_idx[hu], c_idx[vu]
    u = np.concatenate([node_of[hu], node_of[vu]])
    v = np.concatenate([node_of[hv], node_of[vv]])
    line_no = np.concatenate([hrow, vcol])
    horizontal = np.concatenate([np.ones(len(hu), bool), np.zeros(len(vu), bool)])
    both = (u >= 0) & (v >= 0)
    u, v, line_no, horizontal = u[both], v[both], line_no[both], horizontal[both]

    mid_row, mid_col = rows // 2, cols // 2
    highway = np.where(horizontal, line_no == mid_row, line_no == mid_col)
    arterial = ~highway & (line_no % 6 == 3)
    kind = np.where(highway, "highway", np.where(arterial, "arterial", "road")).astype(object)
    labels = line_no.astype(str).astype(object)
    name = np.where(
        highway,
        np.where(horizontal, "Central Expressway (east-west)", "Central Expressway (north-south)"),
        np.where(arterial, np.where(horizontal, "Avenue ", "Street ") + labels, ""),
    ).astype(object)

    # drop every grid edge that crosses a river (few do: no node lies in a river band)
    cross = np.zeros(len(u), dtype=bool)
    mid = (xy[u] + xy[v]) / 2
    for line, hw in zip(rivers_xy, hws):
        near = _dist_to_polyline(mid, line) < hw + 2 * s
        idx = np.flatnonzero(near)
        cross[idx] |= _segments_cross_polyline(xy[u[idx]], xy[v[idx]], line)
    u, v, kind, name = u[~cross], v[~cross], kind[~cross], name[~cross]

    grid = _Grid(xy, s, u, v, kind, name, proj, rivers_xy, hws)
    _add_crossings(grid, rivers)
    _connect(grid)
    return grid


def _crosses(grid: _Grid, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Which rivers each segment crosses: a bool array (n_segments, n_rivers)."""
    out = np.zeros((len(p), len(grid.rivers_xy)), dtype=bool)
    for j, line in enumerate(grid.rivers_xy):
        out[:, j] = _segments_cross_polyline(p, q, line)
    return out


def _add_crossings(grid: _Grid, rivers: Sequence[River]) -> None:
    from scipy.spatial import cKDTree

    tree = cKDTree(grid.xy)
    new_u, new_v, new_kind, new_name = [], [], [], []
    used: set[tuple[int, int]] = set()
    for j, river in enumerate(rivers):
        line, hw = grid.rivers_xy[j], grid.half_widths[j]
        specs = [(n, t, "bridge") for n, t in river.bridges] + [(n, t, "tunnel") for n, t in river.tunnels]
        for cname, t0, ckind in specs:
            for dt in (0.0, 0.03, -0.03, 0.06, -0.06, 0.1, -0.1):
                t = float(np.clip(t0 + dt, 0.02, 0.98))
                p, nrm = _point_along(line, t)
                off = hw + 0.6 * grid.spacing
                _, (a, b) = tree.query(np.vstack([p + nrm * off, p - nrm * off]))
                if a == b or (min(a, b), max(a, b)) in used:
                    continue
                hits = _crosses(grid, grid.xy[[a]], grid.xy[[b]])[0]
                if hits[j] and hits.sum() == 1:
                    used.add((min(a, b), max(a, b)))
                    new_u.append(a)
                    new_v.append(b)
                    new_kind.append(ckind)
                    new_name.append(cname)
                    break
    if new_u:
        grid.u = np.concatenate([grid.u, new_u])
        grid.v = np.concatenate([grid.v, new_v])
        grid.kind = np.concatenate([grid.kind, np.array(new_kind, dtype=object)])
        grid.name = np.concatenate([grid.name, np.array(new_name, dtype=object)])


def _connect(grid: _Grid) -> None:
    """Join every component to the largest one by its shortest link (a bridge if it crosses a river)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(grid.xy)
    for _ in range(3):
        m = coo_matrix((np.ones(len(grid.u)), (grid.u, grid.v)), shape=(n, n))
        k, labels = connected_components(m, directed=False)
        if k == 1:
            return
        main = np.bincount(labels).argmax()
        in_main = np.flatnonzero(labels == main)
        others = np.flatnonzero(labels != main)
        dist, j = cKDTree(grid.xy[in_main]).query(grid.xy[others])
        order = np.lexsort((dist, labels[others]))
        first = order[np.r_[True, np.diff(labels[others][order]) != 0]]
        a, b = others[first], in_main[j[first]]
        hits = _crosses(grid, grid.xy[a], grid.xy[b])
        bridge: np.ndarray = np.asarray(hits.any(axis=1), dtype=bool)
        kind = np.array(np.where(bridge, "bridge", "road"), dtype=object)
        name = np.array(
            [f"Crossing {int(x)}" if br else "" for x, br in zip(a, bridge.tolist())], dtype=object
        )
        grid.u = np.concatenate([grid.u, a])
        grid.v = np.concatenate([grid.v, b])
        grid.kind = np.concatenate([grid.kind, kind])
        grid.name = np.concatenate([grid.name, name])
    raise RuntimeError("the road grid could not be connected")  # pragma: no cover


def _grid_tables(grid: _Grid, id_prefix: str = "N") -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(grid.xy)
    width = len(str(n - 1))
    ids = pd.Series(np.arange(n)).astype(str).str.zfill(width).radd(id_prefix).to_numpy(object)
    lon, lat = grid.proj.lonlat(grid.xy)
    lon, lat = np.round(lon, 6), np.round(lat, 6)
    nodes = pd.DataFrame({"node_id": ids, "lat": lat, "lon": lon})
    length = np.round(haversine_km(lat[grid.u], lon[grid.u], lat[grid.v], lon[grid.v]) * 1000.0, 1)
    if (length <= 0).any():  # pragma: no cover - jittered distinct points
        raise RuntimeError("zero-length road")
    kind = grid.kind.astype(str)
    speed = pd.Series(kind).map(SPEED_KMH).to_numpy(float)
    roads = pd.DataFrame(
        {
            "u": ids[grid.u],
            "v": ids[grid.v],
            "length_m": length,
            "speed_kmh": speed,
            "oneway": np.zeros(len(kind), dtype=bool),
            "name": grid.name.astype(str),
            "kind": kind,
        }
    )
    return nodes, roads


def road_grid(
    n_nodes: int,
    bbox: tuple[float, float, float, float] | None = None,
    rivers: Sequence[River] | None = None,
    rng: np.random.Generator | int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A connected, jittered city road grid of exactly ``n_nodes`` nodes, cut by rivers.

    No node lies in a river; only the rivers' bridges and tunnels (and, rarely,
    a bridge named ``Crossing N`` that joins a stranded pocket) cross them.
    Every road is two-way, its length is the great-circle distance between its
    ends (> 0) and its speed comes from its kind (:data:`SPEED_KMH`): local
    ``road``, ``arterial`` every sixth grid line (named ``Avenue N`` /
    ``Street N``), a central ``highway`` cross, ``bridge`` and ``tunnel``.

    Parameters
    ----------
    n_nodes : int
        Number of road nodes (at least 16).
    bbox : (lon_min, lat_min, lon_max, lat_max), optional
        Default :func:`city_bbox` ``(n_nodes)``.
    rivers : sequence of River, optional
        Default :func:`default_rivers` ``(bbox)``; pass ``()`` for none.
    rng : Generator or int, optional
        Randomness for the jitter (a seed or a generator); default seed 0.

    Returns
    -------
    road_nodes, roads : DataFrame
        The contract's ``road_nodes.csv`` and ``roads.csv`` columns.

    Examples
    --------
    >>> nodes, roads = road_grid(500, rng=1)
    >>> len(nodes), bool((roads.length_m > 0).all()), sorted(set(roads.kind))[:2]
    (500, True, ['arterial', 'bridge'])
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
    bbox = bbox if bbox is not None else city_bbox(n_nodes)
    rivers = default_rivers(bbox) if rivers is None else tuple(rivers)
    return _grid_tables(_build_grid(n_nodes, bbox, rivers, rng))


def river_crossings(
    road_nodes: pd.DataFrame, roads: pd.DataFrame, rivers: Sequence
) -> np.ndarray:
    """Which roads cross any of the rivers (shapely, in lon lat): a bool array aligned with ``roads``.

    ``rivers`` holds :class:`River` objects or shapely lines in lon lat (as
    :func:`rivers_of` returns them).

    Examples
    --------
    >>> bbox = city_bbox(400); rivers = default_rivers(bbox)
    >>> nodes, roads = road_grid(400, bbox, rivers, 3)
    >>> set(roads.kind[river_crossings(nodes, roads, rivers)]) <= {"bridge", "tunnel"}
    True
    """
    import shapely

    pos = road_nodes.set_index("node_id")[["lon", "lat"]]
    a = pos.loc[roads.u].to_numpy(float)
    b = pos.loc[roads.v].to_numpy(float)
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    hit = np.zeros(len(roads), dtype=bool)
    for r in rivers:
        hit |= shapely.intersects(lines, getattr(r, "line", r))
    return hit


def rivers_wkt(rivers: Sequence[River]) -> str:
    """The rivers' centre lines as one WKT ``MULTILINESTRING`` (lon lat)."""
    parts = ", ".join(
        "(" + ", ".join(f"{x:.6f} {y:.6f}" for x, y in r.lonlat) + ")" for r in rivers
    )
    return f"MULTILINESTRING ({parts})" if rivers else "MULTILINESTRING EMPTY"


def rivers_of(scenario: Scenario) -> list[LineString]:
    """The river centre lines a generated scenario records in its ``rivers_wkt`` meta key.

    Returns a list of shapely ``LineString`` (empty when the scenario has none).
    """
    from shapely import wkt

    text = scenario.meta.get("rivers_wkt", "")
    if not text:
        return []
    return list(wkt.loads(text).geoms)


def _traffic_control(
    roads: pd.DataFrame, grid: _Grid, as_of: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    lockdown = as_of.normalize() - pd.Timedelta(days=16)  # bridges and tunnels: 25 Jan 2020
    rows = []
    for t in sorted(set(roads.name[roads.kind == "tunnel"])):
        rows.append({"kind": "closure", "road": t, "start": lockdown, "note": "tunnel closed"})
    bridges = sorted(set(roads.name[roads.kind == "bridge"]))
    for b in bridges:
        rows.append({"kind": "checkpoint", "road": b, "delay_min": float(rng.integers(5, 21)),
                     "permits": ("medical", "supply"), "start": lockdown})
    if bridges:  # a closure lifted before the round: out of its time window
        rows.append({"kind": "closure", "road": bridges[-1], "start": lockdown,
                     "end": as_of.normalize() - pd.Timedelta(days=5)})
    # the central restricted zone: an octagon around the centre of the grid
    cx, cy = grid.xy.mean(axis=0)
    span = grid.xy.max(axis=0) - grid.xy.min(axis=0)
    rad = 0.15 * float(min(span))
    ang = np.linspace(0, 2 * np.pi, 9)[:-1] + np.pi / 8
    ring = np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)])
    lon, lat = grid.proj.lonlat(ring)
    pts = ", ".join(f"{x:.6f} {y:.6f}" for x, y in zip([*lon, lon[0]], [*lat, lat[0]]))
    rows.append({"kind": "restricted_zone", "area_wkt": f"POLYGON (({pts}))",
                 "permits": ("medical", "supply"), "start": lockdown + pd.Timedelta(days=1)})
    tc = pd.DataFrame(rows)
    for col, fill in (("road", ""), ("area_wkt", ""), ("delay_min", np.nan), ("permits", ())):
        if col not in tc:
            fills: list[Any] = [fill] * len(tc)
            tc[col] = fills
    tc["road"] = tc.road.fillna("")
    tc["area_wkt"] = tc.area_wkt.fillna("")
    tc["permits"] = [p if isinstance(p, tuple) else () for p in tc.permits]
    if "end" not in tc:
        tc["end"] = pd.NaT
    tc.insert(0, "rule_id", _ids("R", len(tc)))
    return tc[["rule_id", "kind", "road", "area_wkt", "delay_min", "permits", "start", "end"]]
