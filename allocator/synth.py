"""Synthetic scenarios at any scale, with the structure of the Wuhan response.

:func:`generate` builds a valid :class:`~allocator.scenario.Scenario` from a
seed: sites of every kind in realistic proportions (so every tier is
populated), items of every category in medical and civil grade with one-way
substitutes, donations with earmarks, lots that have expired or are
quarantined, needs that exceed supply for some items and not for others,
depots with dispatch capacities, trucks, and a city road grid cut by rivers
that only bridges and a tunnel cross, under the traffic control of the day
(tunnel closed, bridge checkpoints, a central restricted zone).

The same seed always gives the same tables. Everything is built column-wise
with numpy so that thousands of sites and tens of thousands of road nodes take
seconds. :func:`road_grid` is public: benchmarks use it on its own.

Examples
--------
>>> from allocator import synth
>>> from allocator.validate import validate
>>> sc = synth.generate(sites=40, depots=3, items=10, lots=120, road_nodes=300, seed=1)
>>> validate(sc).ok, len(sc.sites), len(sc.road_nodes)
(True, 40, 300)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator import schema
from allocator.errors import InvalidArgumentError
from allocator.geo import haversine_km
from allocator.scenario import Scenario, from_tables
from allocator.speeds import SYNTHETIC_SPEED_KMH

if TYPE_CHECKING:
    from shapely.geometry import LineString

#: The area the synthetic city lies in: (lon_min, lat_min, lon_max, lat_max) around Wuhan.
WUHAN_BBOX: tuple[float, float, float, float] = (114.0, 30.3, 114.6, 30.8)

#: Typical distance between neighbouring road nodes of a city grid, km.
TARGET_SPACING_KM = 0.3

#: Smallest side of a generated city, km (small grids get wider spacing instead).
MIN_EXTENT_KM = 6.0

#: Speed by road kind of the generated grid, km/h (the ``synthetic_kmh`` column of the one
#: road speed table, ``allocator/data/road_speeds.csv``).
SPEED_KMH: dict[str, float] = SYNTHETIC_SPEED_KMH

#: Share of sites by kind (the Wuhan mix: few designated hospitals, many communities).
KIND_SHARE: dict[str, float] = {
    "designated_hospital": 0.03,
    "backup_hospital": 0.04,
    "shelter_hospital": 0.02,
    "fever_clinic": 0.08,
    "quarantine_site": 0.15,
    "elderly_care": 0.10,
    "community": 0.54,
    "staff_support": 0.04,
}

_KIND_LABEL = {
    "designated_hospital": ("Designated Hospital", "定点医院"),
    "backup_hospital": ("Backup Hospital", "后备医院"),
    "shelter_hospital": ("Shelter Hospital", "方舱医院"),
    "fever_clinic": ("Fever Clinic", "发热门诊"),
    "quarantine_site": ("Quarantine Hotel", "隔离点"),
    "elderly_care": ("Elderly Care Home", "养老院"),
    "community": ("Community", "社区"),
    "staff_support": ("Medical Staff Residence", "医护人员驻地"),
}

# beds: lognormal median and sigma (None: no beds); patients and staff as a
# share of beds (uniform range) or, without beds, lognormal median and sigma.
_KIND_SIZE: dict[str, dict[str, tuple[float, float] | None]] = {
    "designated_hospital": {"beds": (600, 0.5), "patients": (0.85, 1.05), "staff": (1.2, 1.8)},
    "backup_hospital": {"beds": (300, 0.5), "patients": (0.6, 0.9), "staff": (0.8, 1.2)},
    "shelter_hospital": {"beds": (1000, 0.4), "patients": (0.6, 0.95), "staff": (0.25, 0.4)},
    "fever_clinic": {"beds": (20, 0.5), "patients_n": (80, 0.6), "staff_n": (30, 0.4)},
    "quarantine_site": {"beds": (150, 0.5), "patients": (0.5, 0.9), "staff_n": (15, 0.4)},
    "elderly_care": {"beds": (200, 0.5), "patients": (0.8, 0.95), "staff": (0.25, 0.35)},
    "community": {"beds": None, "patients_n": (10, 0.8), "staff_n": (30, 0.5)},
    "staff_support": {"beds": (300, 0.5), "patients_n": (0, 0), "staff": (0.8, 1.0)},
}

# Approximate centres of Wuhan's districts (lat, lon), for the district column.
_DISTRICTS = (
    ("Jiang'an", 30.600, 114.300), ("Jianghan", 30.600, 114.270), ("Qiaokou", 30.580, 114.210),
    ("Hanyang", 30.550, 114.220), ("Wuchang", 30.550, 114.310), ("Qingshan", 30.640, 114.390),
    ("Hongshan", 30.500, 114.340), ("Dongxihu", 30.620, 114.140), ("Hannan", 30.310, 114.080),
    ("Caidian", 30.580, 114.030), ("Jiangxia", 30.380, 114.320), ("Huangpi", 30.880, 114.380),
    ("Xinzhou", 30.840, 114.800),
)


@dataclass(frozen=True)
class ItemSpec:
    """One item of the synthetic catalogue with its daily use per person.

    ``per_staff`` and ``per_patient`` apply at clinical sites, ``per_person`` at
    other sites (to staff + patients); ``shelf_days`` is the shelf life of a new
    lot (``None``: never expires).
    """

    item_id: str
    name: str
    name_zh: str
    category: str
    grade: str
    unit: str
    unit_weight_kg: float
    unit_volume_l: float
    pack_size: int
    per_staff: float
    per_patient: float
    per_person: float
    shelf_days: int | None


#: The item catalogue, most important first (``generate(items=k)`` takes the first k).
CATALOGUE: tuple[ItemSpec, ...] = (
    ItemSpec("mask_med", "Medical surgical mask", "医用外科口罩", "mask", "medical", "piece", 0.004, 0.02, 50, 4, 1.5, 1.0, 1095),
    ItemSpec("n95_med", "N95 medical respirator", "医用N95口罩", "respirator", "medical", "piece", 0.012, 0.1, 20, 1, 0, 0.05, 1095),
    ItemSpec("suit_med", "Medical protective suit", "医用防护服", "suit", "medical", "piece", 0.45, 2.0, 10, 0.6, 0, 0.03, 1095),
    ItemSpec("gown", "Isolation gown", "隔离衣", "gown", "medical", "piece", 0.15, 1.0, 20, 1, 0, 0, 1095),
    ItemSpec("gloves", "Examination gloves", "检查手套", "gloves", "medical", "pair", 0.01, 0.03, 100, 12, 0, 0.5, 1095),
    ItemSpec("goggles", "Protective goggles", "护目镜", "eye_protection", "medical", "piece", 0.08, 0.3, 20, 0.1, 0, 0.01, None),
    ItemSpec("mask_civil", "Civil face mask", "民用口罩", "mask", "civil", "piece", 0.003, 0.02, 50, 0, 0, 1.5, 730),
    ItemSpec("kn95_civil", "KN95 respirator (civil)", "民用KN95口罩", "respirator", "civil", "piece", 0.01, 0.08, 20, 0, 0, 0.2, 730),
    ItemSpec("test_kit", "Nucleic acid test kit (48 tests)", "核酸检测试剂盒", "test_kit", "medical", "kit", 0.25, 0.6, 10, 0, 0.03, 0.005, 180),
    ItemSpec("disinfectant", "84 disinfectant, 5 L", "84消毒液", "disinfectant", "medical", "bottle", 5.5, 5.0, 4, 0.02, 0.01, 0.02, 365),
    ItemSpec("suit_civil", "Protective coverall (civil)", "民用防护服", "suit", "civil", "piece", 0.35, 1.8, 10, 0, 0, 0.05, 1095),
    ItemSpec("face_shield", "Face shield", "防护面屏", "eye_protection", "medical", "piece", 0.1, 0.8, 20, 1, 0, 0, None),
    ItemSpec("daily_goods", "Household daily-goods pack", "生活物资包", "daily_goods", "civil", "pack", 10.0, 15.0, 1, 0, 0, 0.05, 60),
    ItemSpec("alcohol", "75% alcohol, 500 ml", "75%酒精", "disinfectant", "medical", "bottle", 0.45, 0.55, 24, 0.2, 0, 0.05, 730),
    ItemSpec("thermometer", "Infrared thermometer", "红外体温计", "device", "medical", "piece", 0.2, 0.5, 10, 0.01, 0, 0.01, None),
    ItemSpec("surgical_gloves", "Sterile surgical gloves", "外科手套", "gloves", "medical", "pair", 0.015, 0.03, 50, 4, 0, 0, 1095),
    ItemSpec("shoe_covers", "Shoe covers", "鞋套", "other", "medical", "pair", 0.01, 0.05, 100, 2, 0, 0.2, None),
    ItemSpec("antiviral", "Antiviral medicine, box", "抗病毒药物", "medicine", "medical", "box", 0.05, 0.1, 50, 0, 0.3, 0, 540),
    ItemSpec("oxygen_conc", "Oxygen concentrator", "制氧机", "device", "medical", "piece", 20.0, 60.0, 1, 0, 0.005, 0, None),
    ItemSpec("hand_sanitizer", "Hand sanitizer, 500 ml", "免洗洗手液", "disinfectant", "civil", "bottle", 0.5, 0.55, 24, 0, 0, 0.05, 730),
)

#: One-way substitutes (need, substitute, ratio): the substitute may be shipped for the need.
SUBSTITUTES: tuple[tuple[str, str, float], ...] = (
    ("mask_med", "n95_med", 1.0),
    ("mask_civil", "mask_med", 1.0),
    ("mask_civil", "kn95_civil", 1.0),
    ("kn95_civil", "n95_med", 1.0),
    ("gown", "suit_med", 1.0),
    ("suit_civil", "suit_med", 1.0),
    ("goggles", "face_shield", 1.0),
    ("gloves", "surgical_gloves", 1.0),
    ("hand_sanitizer", "alcohol", 1.0),
)

_DEPOT_KINDS = ("donation_warehouse", "municipal_reserve", "transfer_hub", "distributor")
_DEPOT_LABEL = {
    "donation_warehouse": "Donation warehouse",
    "municipal_reserve": "Municipal reserve",
    "transfer_hub": "Transfer hub",
    "distributor": "Distributor warehouse",
}

_DONOR_KINDS = (
    "Alumni Association", "Chamber of Commerce", "Charity Foundation", "Trading Co.",
    "Manufacturing Co.", "Overseas Chinese Association", "Volunteer Group", "Hospital Group",
)
_DONOR_PLACES = (
    "Shenzhen", "Hangzhou", "Shanghai", "Guangzhou", "Chengdu", "Milan", "Tokyo", "Singapore",
    "Vancouver", "Frankfurt", "Hong Kong", "Xiamen",
)


# --------------------------------------------------------------------------- geometry


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
        bridge = hits.any(axis=1)
        kind = np.where(bridge, "bridge", "road").astype(object)
        name = np.array(
            [f"Crossing {int(x)}" if br else "" for x, br in zip(a, bridge)], dtype=object
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


# --------------------------------------------------------------------------- tables


def _kind_counts(sites: int) -> dict[str, int]:
    kinds = list(KIND_SHARE)
    if sites < len(kinds):
        order = ["designated_hospital", "fever_clinic", "quarantine_site", "community",
                 "backup_hospital", "elderly_care", "shelter_hospital", "staff_support"]
        return {k: int(k in order[:sites]) for k in kinds}
    share = np.array([KIND_SHARE[k] for k in kinds])
    raw = share / share.sum() * sites
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts), kind="stable")[: sites - counts.sum()]] += 1
    short = counts == 0
    counts[short] = 1
    ci = kinds.index("community")
    counts[ci] -= int(short.sum())
    while counts[ci] < 1:  # pragma: no cover - only for tiny counts
        j = int(np.argmax(counts))
        counts[j] -= 1
        counts[ci] += 1
    return dict(zip(kinds, counts.tolist()))


def _ids(prefix: str, n: int, width: int | None = None) -> np.ndarray:
    w = width or max(len(str(n)), 2)
    return pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(w).radd(prefix).to_numpy(object)


def _sites(
    n: int, nodes_xy: np.ndarray, grid: _Grid, rng: np.random.Generator
) -> pd.DataFrame:
    counts = _kind_counts(n)
    kind = np.concatenate([np.full(c, k, dtype=object) for k, c in counts.items()])
    kind = kind[rng.permutation(n)]
    # hospitals and most sites lean to the centre, like a city's density
    centre = nodes_xy.mean(axis=0)
    d = np.hypot(*(nodes_xy - centre).T)
    w = 0.4 / len(d) + 0.6 * np.exp(-d / max(d.max() / 3, 1e-9)) / np.exp(-d / max(d.max() / 3, 1e-9)).sum()
    at = rng.choice(len(nodes_xy), size=n, p=w / w.sum())
    ang = rng.uniform(0, 2 * np.pi, n)
    rad = rng.uniform(0, 0.3, n) * grid.spacing
    xy = nodes_xy[at] + np.column_stack([np.cos(ang), np.sin(ang)]) * rad[:, None]
    lon, lat = grid.proj.lonlat(xy)

    beds = np.full(n, np.nan)
    patients = np.zeros(n)
    staff = np.zeros(n)
    for k, size in _KIND_SIZE.items():
        m = kind == k
        c = int(m.sum())
        if not c:
            continue
        if size.get("beds"):
            med, sig = size["beds"]
            beds[m] = np.maximum(5, np.round(rng.lognormal(math.log(med), sig, c)))
        for col, arr in (("patients", patients), ("staff", staff)):
            if col in size:
                lo, hi = size[col]
                arr[m] = np.round(beds[m] * rng.uniform(lo, hi, c))
            else:
                med, sig = size[f"{col}_n"]
                arr[m] = np.round(rng.lognormal(math.log(med), sig, c)) if med > 0 else 0
    seq = pd.Series(kind).groupby(kind).cumcount().to_numpy() + 1
    name = [f"{_KIND_LABEL[k][0]} {s:03d}" for k, s in zip(kind, seq)]
    name_zh = [f"{_KIND_LABEL[k][1]}{s}号" for k, s in zip(kind, seq)]
    dlat = np.array([x[1] for x in _DISTRICTS])
    dlon = np.array([x[2] for x in _DISTRICTS])
    di = np.argmin(haversine_km(lat[:, None], lon[:, None], dlat[None, :], dlon[None, :]), axis=1)
    return pd.DataFrame(
        {
            "site_id": _ids("S", n, max(4, len(str(n)))),
            "name": name,
            "name_zh": name_zh,
            "kind": kind,
            "district": np.array([x[0] for x in _DISTRICTS], dtype=object)[di],
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "beds": pd.array(beds, dtype="Int64"),
            "patients": pd.array(patients, dtype="Int64"),
            "staff": pd.array(staff, dtype="Int64"),
        }
    )


def _catalogue(n: int) -> list[ItemSpec]:
    out = list(CATALOGUE[:n])
    k = 2
    while len(out) < n:
        for spec in CATALOGUE:
            if len(out) == n:
                break
            out.append(ItemSpec(
                f"{spec.item_id}_{k}", f"{spec.name} (type {k})", f"{spec.name_zh}（{k}型）",
                spec.category, spec.grade, spec.unit, spec.unit_weight_kg, spec.unit_volume_l,
                spec.pack_size, spec.per_staff, spec.per_patient, spec.per_person, spec.shelf_days,
            ))
        k += 1
    return out


def _needs(
    sites: pd.DataFrame, cat: list[ItemSpec], days: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    clinical = sites.kind.isin(schema.CLINICAL_KINDS).to_numpy()
    staff = sites.staff.to_numpy(float, na_value=0.0)
    patients = sites.patients.to_numpy(float, na_value=0.0)
    civil = np.array([c.grade == "civil" for c in cat])
    per_staff = np.array([c.per_staff for c in cat])
    per_patient = np.array([c.per_patient for c in cat])
    per_person = np.array([c.per_person for c in cat])
    base = np.where(
        clinical[:, None],
        np.where(civil[None, :], 0.0, staff[:, None] * per_staff + patients[:, None] * per_patient),
        (staff + patients)[:, None] * per_person,
    )
    q = np.ceil(base * days * rng.lognormal(0.0, 0.35, base.shape))
    keep = (rng.random(base.shape) < 0.85) & (q > 0)
    si, ii = np.nonzero(keep)
    needs = pd.DataFrame(
        {
            "site_id": sites.site_id.to_numpy(object)[si],
            "item_id": np.array([c.item_id for c in cat], dtype=object)[ii],
            "quantity": q[si, ii].astype(np.int64),
        }
    )
    total = np.bincount(ii, weights=q[si, ii], minlength=len(cat))
    return needs, total


def _lots(
    n: int,
    depots: pd.DataFrame,
    cat: list[ItemSpec],
    need_total: np.ndarray,
    supply_ratio: float,
    civil_share: float,
    as_of: pd.Timestamp,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Lots with sources, depots, items, expiry, status and quantities.

    Returns the stock table, the donation lots' row indices and the per-item supply target.
    """
    n_items = len(cat)
    source = rng.choice(np.array(["reserve", "purchase", "donation"], dtype=object), size=n,
                        p=[0.25, 0.2, 0.55])
    if n and not (source == "donation").any():
        source[0] = "donation"
    civil = np.array([c.grade == "civil" for c in cat])
    demand_w = np.sqrt(np.maximum(need_total, 1.0))
    item = rng.choice(n_items, size=n, p=demand_w / demand_w.sum())
    don = np.flatnonzero(source == "donation")
    if civil.any() and (~civil).any():
        want_civil = rng.random(len(don)) < civil_share
        pc = np.where(civil, demand_w, 0.0)
        pm = np.where(~civil, demand_w, 0.0)
        item[don[want_civil]] = rng.choice(n_items, size=int(want_civil.sum()), p=pc / pc.sum())
        item[don[~want_civil]] = rng.choice(n_items, size=int((~want_civil).sum()), p=pm / pm.sum())
    first = rng.permutation(n)[: min(n, n_items)]
    item[first] = np.arange(len(first))  # every item is stocked somewhere

    # depot by source: donations to warehouses and hubs, reserve to the reserve, purchases to distributors
    dkind = depots["_kind"].to_numpy(object)
    size = depots["_size"].to_numpy(float)
    depot = np.empty(n, dtype=int)
    prefs = {
        "donation": {"donation_warehouse": 3.0, "transfer_hub": 2.0},
        "reserve": {"municipal_reserve": 3.0},
        "purchase": {"distributor": 3.0},
    }
    for src, pref in prefs.items():
        m = source == src
        w = size * np.array([pref.get(k, 0.3) for k in dkind])
        depot[m] = rng.choice(len(dkind), size=int(m.sum()), p=w / w.sum())

    # expiry and status
    shelf = np.array([c.shelf_days or 0 for c in cat])
    day = as_of.normalize()
    r = rng.random(n)
    expired = (r < 0.04) & (shelf[item] > 0)
    status = np.where((r >= 0.04) & (r < 0.07), "quarantined",
                      np.where((r >= 0.07) & (r < 0.085), "rejected", "available")).astype(object)
    if n >= 10:
        has_shelf = np.flatnonzero(shelf[item] > 0)
        if not expired.any() and len(has_shelf):
            expired[has_shelf[0]] = True
            status[has_shelf[0]] = "available"
        if not (status == "quarantined").any():
            j = np.flatnonzero(~expired)[0]
            status[j] = "quarantined"
    ahead = np.floor(rng.uniform(0.05, 1.0, n) * np.maximum(shelf[item], 10)).astype(int) + 1
    offset = np.where(expired, -rng.integers(1, 60, n), ahead)
    expires = pd.Series(day + pd.to_timedelta(offset, unit="D"))
    expires[(shelf[item] == 0) & ~expired] = pd.NaT

    # quantities: usable lots of an item share its supply target
    short = np.zeros(n_items, dtype=bool)
    needed = np.flatnonzero(need_total > 0)
    if len(needed):
        pick = rng.permutation(needed)
        n_short = max(1, len(needed) // 2)
        if len(needed) == 1:
            n_short = 1
        short[pick[:n_short]] = True
    target = np.where(
        short, need_total * supply_ratio, need_total * rng.uniform(1.2, 1.8, n_items)
    )
    pack = np.array([c.pack_size for c in cat])
    usable = (status == "available") & ~expired
    lots_per_item = np.maximum(np.bincount(item[usable], minlength=n_items), 1)
    target = np.where(need_total > 0, target, 200.0 * pack * lots_per_item)
    w = rng.lognormal(0.0, 0.8, n)
    wsum = np.bincount(item[usable], weights=w[usable], minlength=n_items)
    q = np.where(usable, target[item] * w / np.maximum(wsum[item], 1e-12),
                 target[item] / lots_per_item[item] * w)
    units = np.round(q)
    p = pack[item]
    units = np.where(units >= p, np.round(units / p) * p, np.maximum(units, 1))

    stock = pd.DataFrame(
        {
            "lot_id": _ids("L", n, max(5, len(str(n)))),
            "depot_id": depots.depot_id.to_numpy(object)[depot],
            "item_id": np.array([c.item_id for c in cat], dtype=object)[item],
            "quantity": units.astype(np.int64),
            "expires": expires.to_numpy(),
            "status": status,
            "donation_id": np.full(n, "", dtype=object),
            "source": source,
        }
    )
    return stock, don, target


def _donations(
    stock: pd.DataFrame,
    don: np.ndarray,
    sites: pd.DataFrame,
    earmark_share: float,
    as_of: pd.Timestamp,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n_don = max(1, math.ceil(len(don) / 6))
    of_lot = np.concatenate([np.arange(n_don), rng.integers(0, n_don, max(len(don) - n_don, 0))])
    of_lot = of_lot[rng.permutation(len(of_lot))][: len(don)]
    ids = _ids("G", n_don, max(4, len(str(n_don))))
    stock.loc[don, "donation_id"] = ids[of_lot]

    anonymous = rng.random(n_don) < 0.1
    donor = [
        "anonymous" if anon else f"{_DONOR_PLACES[p]} {_DONOR_KINDS[k]}"
        for anon, p, k in zip(anonymous, rng.integers(0, len(_DONOR_PLACES), n_don),
                              rng.integers(0, len(_DONOR_KINDS), n_don))
    ]
    received = as_of.normalize() - pd.to_timedelta(rng.integers(0, 21, n_don), unit="D")

    ear_site: list[tuple[str, ...]] = [()] * n_don
    ear_kind: list[tuple[str, ...]] = [()] * n_don
    notes = np.full(n_don, "", dtype=object)
    n_ear = round(earmark_share * n_don)
    if earmark_share > 0 and n_don >= 2:
        n_ear = max(n_ear, 1)
    hospitals = sites[sites.kind.isin(["designated_hospital", "backup_hospital", "shelter_hospital"])]
    designated = sites[sites.kind == "designated_hospital"]
    hosp_ids = (hospitals if len(hospitals) else sites).site_id.to_numpy(object)
    kind_options = (
        ("designated_hospital",), ("designated_hospital", "backup_hospital"),
        ("elderly_care",), ("community",), ("fever_clinic", "shelter_hospital"),
    )
    chosen = rng.choice(n_don, size=min(n_ear, n_don), replace=False)
    how = rng.random(len(chosen))
    for j, (d, h) in enumerate(zip(chosen, how)):
        if h < 0.5 or (j == 0 and len(chosen) > 1):
            k = int(rng.integers(1, 4))
            ear_site[d] = tuple(sorted(rng.choice(hosp_ids, size=min(k, len(hosp_ids)), replace=False)))
            notes[d] = "earmarked for named hospitals"
        elif h < 0.9 or (j == 1) or not len(designated):
            ear_kind[d] = kind_options[int(rng.integers(0, len(kind_options)))]
            notes[d] = "earmarked for a kind of site"
        else:
            ear_kind[d] = ("designated_hospital",)
            ear_site[d] = tuple(sorted(rng.choice(designated.site_id.to_numpy(object),
                                                  size=min(2, len(designated)), replace=False)))
            notes[d] = "earmarked for named designated hospitals"
    return pd.DataFrame(
        {
            "donation_id": ids,
            "donor": donor,
            "received": received,
            "earmark_site_id": ear_site,
            "earmark_kind": ear_kind,
            "note": notes,
        }
    )


def _depots(n: int, nodes_xy: np.ndarray, grid: _Grid, rng: np.random.Generator) -> pd.DataFrame:
    kinds = np.array(
        list(_DEPOT_KINDS[: min(n, 3)])
        + list(rng.choice(np.array(_DEPOT_KINDS, dtype=object), size=max(n - 3, 0), p=[0.2, 0.15, 0.15, 0.5])),
        dtype=object,
    )
    at = rng.choice(len(nodes_xy), size=n, replace=n > len(nodes_xy))
    lon, lat = grid.proj.lonlat(nodes_xy[at])
    seq = pd.Series(kinds).groupby(kinds).cumcount().to_numpy() + 1
    return pd.DataFrame(
        {
            "depot_id": _ids("D", n),
            "name": [f"{_DEPOT_LABEL[k]} {s}" for k, s in zip(kinds, seq)],
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "_kind": kinds,
            "_size": rng.lognormal(0.0, 0.6, n),
        }
    )


def _capacities(depots: pd.DataFrame, stock: pd.DataFrame, cat: list[ItemSpec],
                rng: np.random.Generator) -> np.ndarray:
    weight = pd.Series({c.item_id: c.unit_weight_kg for c in cat})
    kg = (stock.quantity * stock.item_id.map(weight)).groupby(stock.depot_id).sum()
    held = depots.depot_id.map(kg).fillna(0.0).to_numpy(float)
    n = len(depots)
    cap = np.maximum(500.0, np.round(held * rng.uniform(0.3, 0.9, n) / 100.0) * 100.0)
    unlimited = rng.random(n) < 0.4
    if n >= 1:
        unlimited[0] = True
    if n >= 2 and unlimited.all():
        unlimited[1] = False
    return np.where(unlimited, np.nan, cap)


def _vehicles(depots: pd.DataFrame, as_of: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    per = rng.integers(2, 7, len(depots))
    n = int(per.sum())
    depot = np.repeat(depots.depot_id.to_numpy(object), per)
    cls = rng.choice(4, size=n, p=[0.3, 0.35, 0.25, 0.1])
    kg = np.array([1500.0, 3000.0, 5000.0, 10000.0])[cls]
    m3 = np.array([8.0, 16.0, 30.0, 45.0])[cls]
    r = rng.random(n)
    permits = [("medical", "supply") if x < 0.7 else ("supply",) if x < 0.85 else () for x in r]
    late = rng.random(n) < 0.1
    start = np.where(late, as_of + pd.Timedelta(hours=4), as_of)
    return pd.DataFrame(
        {
            "vehicle_id": _ids("V", n, max(3, len(str(n)))),
            "depot_id": depot,
            "capacity_kg": kg,
            "capacity_m3": m3,
            "permits": permits,
            "available_from": pd.to_datetime(start),
            "available_to": pd.Series(as_of + pd.Timedelta(hours=12), index=range(n)),
        }
    )


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
            tc[col] = [fill] * len(tc)
    tc["road"] = tc.road.fillna("")
    tc["area_wkt"] = tc.area_wkt.fillna("")
    tc["permits"] = [p if isinstance(p, tuple) else () for p in tc.permits]
    if "end" not in tc:
        tc["end"] = pd.NaT
    tc.insert(0, "rule_id", _ids("R", len(tc)))
    return tc[["rule_id", "kind", "road", "area_wkt", "delay_min", "permits", "start", "end"]]


def generate(
    sites: int = 300,
    depots: int = 10,
    items: int = 15,
    lots: int = 1500,
    road_nodes: int = 2000,
    seed: int = 0,
    *,
    as_of: str | pd.Timestamp = "2020-02-10T08:00:00",
    earmark_share: float = 0.1,
    civil_share: float = 0.1,
    supply_ratio: float = 0.7,
    with_roads: bool = True,
    with_traffic_control: bool = True,
    days_of_need: float = 3.0,
) -> Scenario:
    """A valid synthetic scenario with the structure of the Wuhan response, deterministic for a seed.

    Parameters
    ----------
    sites, depots, items, lots, road_nodes : int
        Exact row counts of sites, depots, items, stock and road_nodes.
        ``items`` beyond the 20 of :data:`CATALOGUE` are numbered variants.
    seed : int
        The same seed gives identical tables.
    as_of : str or Timestamp
        The round's date-time; expiry and traffic-control windows are relative to it.
    earmark_share : float
        Share of donations earmarked to named sites or to kinds of site.
    civil_share : float
        Share of donated lots that are civil-grade goods.
    supply_ratio : float
        Usable supply / need of the items that are short (about half of the
        needed items); the others get 1.2 to 1.8 times their need.
    with_roads, with_traffic_control : bool
        Include the road grid (``road_nodes``/``roads``) and the traffic control
        (only with roads: the tunnel closed, checkpoints on every bridge, a lifted
        bridge closure outside its time window, a central restricted zone for
        permits ``medical;supply``).
    days_of_need : float
        Days of consumption that the needs cover.

    Returns
    -------
    Scenario
        Built with :func:`allocator.scenario.from_tables`; ``meta`` records the
        generator, the seed and the rivers (``rivers_wkt``, see :func:`rivers_of`).

    Examples
    --------
    >>> sc = generate(sites=30, depots=2, items=8, lots=60, road_nodes=200, seed=5)
    >>> sorted(set(sc.sites.tier))
    [1, 2, 3, 4]
    """
    for label, value, low in (("sites", sites, 1), ("depots", depots, 1), ("items", items, 1),
                              ("lots", lots, 1), ("road_nodes", road_nodes, 16)):
        if int(value) < low:
            raise InvalidArgumentError(f"{label} must be at least {low} (got {value})")
    if supply_ratio < 0 or not 0 <= earmark_share <= 1 or not 0 <= civil_share <= 1:
        raise InvalidArgumentError("supply_ratio must be >= 0 and the shares between 0 and 1")
    as_of = pd.Timestamp(as_of)
    r_geo, r_sites, r_depots, r_needs, r_lots, r_don, r_cap, r_veh, r_tc = (
        np.random.default_rng(seed).spawn(9)
    )

    bbox = city_bbox(road_nodes)
    rivers = default_rivers(bbox, 2 if road_nodes >= 100 else 1, r_geo)
    grid = _build_grid(road_nodes, bbox, rivers, r_geo)
    nodes, roads = _grid_tables(grid)
    nodes_xy = grid.xy

    cat = _catalogue(items)
    site_df = _sites(sites, nodes_xy, grid, r_sites)
    depot_df = _depots(depots, nodes_xy, grid, r_depots)
    needs, need_total = _needs(site_df, cat, days_of_need, r_needs)
    stock, don, _ = _lots(lots, depot_df, cat, need_total, supply_ratio, civil_share, as_of, r_lots)
    donations = _donations(stock, don, site_df, earmark_share, as_of, r_don)
    depot_df["dispatch_capacity_kg"] = _capacities(depot_df, stock, cat, r_cap)
    depot_df = depot_df.drop(columns=["_kind", "_size"])

    item_df = pd.DataFrame(
        {
            "item_id": [c.item_id for c in cat],
            "name": [c.name for c in cat],
            "name_zh": [c.name_zh for c in cat],
            "category": [c.category for c in cat],
            "grade": [c.grade for c in cat],
            "unit": [c.unit for c in cat],
            "unit_weight_kg": [c.unit_weight_kg for c in cat],
            "unit_volume_l": [c.unit_volume_l for c in cat],
            "pack_size": [c.pack_size for c in cat],
        }
    )
    ids = set(item_df.item_id)
    subs = pd.DataFrame(
        [s for s in SUBSTITUTES if s[0] in ids and s[1] in ids]
        + [(f"{a}_{k}", f"{b}_{k}", r) for a, b, r in SUBSTITUTES for k in range(2, 10)
           if f"{a}_{k}" in ids and f"{b}_{k}" in ids],
        columns=["item_id", "substitute_id", "ratio"],
    )

    tables: dict[str, pd.DataFrame] = {
        "items": item_df,
        "sites": site_df,
        "depots": depot_df,
        "stock": stock,
        "needs": needs,
        "donations": donations,
        "vehicles": _vehicles(depot_df, as_of, r_veh),
    }
    if len(subs):
        tables["substitutes"] = subs
    if with_roads:
        tables["road_nodes"] = nodes
        tables["roads"] = roads
        if with_traffic_control:
            tables["traffic_control"] = _traffic_control(roads, grid, as_of, r_tc)
    return from_tables(
        tables,
        name=f"synth-{sites}s-{depots}d-{items}i-{lots}l-{road_nodes}n-seed{seed}",
        description=(
            f"Synthetic scenario (allocator.synth, seed {seed}): {sites} sites, {depots} depots, "
            f"{items} items, {lots} lots, {road_nodes} road nodes; supply ratio of short items "
            f"{supply_ratio:g}."
        ),
        as_of=as_of,
        meta={"generator": "allocator.synth", "seed": str(seed), "rivers_wkt": rivers_wkt(rivers)},
    )
