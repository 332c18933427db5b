"""Build the synthetic road network of the Wuhan 2020-02-10 demo scenario.

Writes ``road_nodes.csv`` and ``roads.csv`` into
``data/scenarios/wuhan-2020-02-10/``. The network is synthetic but
geographically faithful: a jittered grid of local streets over
114.05-114.50 E, 30.40-30.80 N, cut by the Yangtze and the Han near their
real courses (drawn by hand, approximate), so that Hankou, Hanyang and
Wuchang are joined only by named bridges and tunnels placed near their real
positions. Ring roads, a few named arterials and the airport expressway are
laid over the grid and linked to it.

The script is deterministic: rerunning it reproduces both files byte for
byte. It uses only numpy, shapely and networkx.

Usage::

    python scripts/build_demo_roads.py [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import networkx as nx
import numpy as np
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import split

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "data" / "scenarios" / "wuhan-2020-02-10"

SEED = 20200210
WEST, SOUTH, EAST, NORTH = 114.05, 30.40, 114.50, 30.80
GRID_DLON, GRID_DLAT = 0.0085, 0.0075  # about 815 m x 830 m
JITTER = 0.22  # fraction of the spacing

# Local metric projection (equirectangular around the centre of the box).
LAT0, LON0 = 30.60, 114.275
MX = 111_320.0 * math.cos(math.radians(LAT0))
MY = 110_574.0

SPEED = {"street": 30, "arterial": 50, "highway": 70, "bridge": 50, "tunnel": 50}

# River centre-lines (lon, lat), hand-drawn near the real courses. Both
# extend beyond the box so that they split it; the Han ends on a Yangtze
# vertex (the confluence at Longwangmiao / Guishan).
CONFLUENCE = (114.2925, 30.5670)
YANGTZE = [
    (114.130, 30.370), (114.167, 30.405), (114.195, 30.440), (114.215, 30.464),
    (114.228, 30.479), (114.240, 30.493), (114.251, 30.504), (114.259, 30.511),
    (114.268, 30.521), (114.274, 30.528), (114.278, 30.537), (114.281, 30.547),
    (114.285, 30.554), (114.289, 30.561), CONFLUENCE, (114.299, 30.576),
    (114.303, 30.582), (114.307, 30.588), (114.311, 30.594), (114.315, 30.600),
    (114.319, 30.605), (114.326, 30.615), (114.334, 30.625), (114.344, 30.634),
    (114.353, 30.643), (114.360, 30.655), (114.370, 30.669), (114.384, 30.679),
    (114.400, 30.685), (114.430, 30.688), (114.460, 30.688), (114.490, 30.687),
    (114.513, 30.684), (114.540, 30.672),
]
HAN = [
    (114.020, 30.602), (114.056, 30.592), (114.071, 30.599), (114.095, 30.597),
    (114.122, 30.594), (114.145, 30.602), (114.160, 30.609), (114.169, 30.605),
    (114.173, 30.598), (114.173, 30.590), (114.180, 30.587), (114.191, 30.584),
    (114.201, 30.586), (114.208, 30.583), (114.222, 30.575), (114.235, 30.5735),
    (114.243, 30.569), (114.257, 30.566), (114.270, 30.5635), (114.279, 30.5655),
    CONFLUENCE,
]
RIVER_HALF_WIDTH_M = {"Yangtze": 550.0, "Han": 160.0}

# East Lake (Donghu), a rough outline: no street runs across it.
EAST_LAKE = [
    (114.372, 30.566), (114.386, 30.586), (114.410, 30.591), (114.430, 30.577),
    (114.434, 30.553), (114.416, 30.537), (114.392, 30.541), (114.377, 30.551),
]

# Crossings: (name, river, kind, (lon, lat) of the crossing near its real
# position). The end points are placed across the river automatically.
CROSSINGS = [
    ("Baishazhou Yangtze River Bridge", "Yangtze", "bridge", (114.2405, 30.4935)),
    ("Yangsigang Yangtze River Bridge", "Yangtze", "bridge", (114.2620, 30.5145)),
    ("Yingwuzhou Yangtze River Bridge", "Yangtze", "bridge", (114.2755, 30.5310)),
    ("Wuhan Yangtze River Bridge", "Yangtze", "bridge", (114.2830, 30.5505)),
    ("Wuhan Yangtze River Tunnel", "Yangtze", "tunnel", (114.3030, 30.5820)),
    ("Sanyang Road Yangtze River Tunnel", "Yangtze", "tunnel", (114.3130, 30.5970)),
    ("Wuhan Yangtze River Second Bridge", "Yangtze", "bridge", (114.3206, 30.6044)),
    ("Erqi Yangtze River Bridge", "Yangtze", "bridge", (114.3440, 30.6340)),
    ("Tianxingzhou Yangtze River Bridge", "Yangtze", "bridge", (114.3920, 30.6820)),
    ("Jianghan Bridge", "Han", "bridge", (114.2700, 30.5635)),
    ("Yuehu Bridge", "Han", "bridge", (114.2570, 30.5660)),
    ("Zhiyin Bridge", "Han", "bridge", (114.2390, 30.5712)),
    ("Changfeng Bridge", "Han", "bridge", (114.2045, 30.5846)),
    ("Duoluokou Bridge", "Han", "bridge", (114.1645, 30.6069)),
]

# Public Chinese names of the named crossings and roads (roads.csv ``name_zh``;
# a traffic-control rule may name a road by either name).
NAME_ZH = {
    "Baishazhou Yangtze River Bridge": "白沙洲长江大桥",
    "Yangsigang Yangtze River Bridge": "杨泗港长江大桥",
    "Yingwuzhou Yangtze River Bridge": "鹦鹉洲长江大桥",
    "Wuhan Yangtze River Bridge": "武汉长江大桥",
    "Wuhan Yangtze River Tunnel": "武汉长江隧道",
    "Sanyang Road Yangtze River Tunnel": "三阳路长江隧道",
    "Wuhan Yangtze River Second Bridge": "武汉长江二桥",
    "Erqi Yangtze River Bridge": "二七长江大桥",
    "Tianxingzhou Yangtze River Bridge": "天兴洲长江大桥",
    "Jianghan Bridge": "江汉桥",
    "Yuehu Bridge": "月湖桥",
    "Zhiyin Bridge": "知音桥",
    "Changfeng Bridge": "长丰桥",
    "Duoluokou Bridge": "舵落口大桥",
    "3rd Ring Road": "三环线",
    "2nd Ring Road": "二环线",
    "Airport Expressway": "机场高速",
    "Jiefang Avenue": "解放大道",
    "Zhongshan Avenue": "中山大道",
    "Jianshe Avenue": "建设大道",
    "Heping Avenue": "和平大道",
    "Wuluo Road - Luoyu Road": "武珞路—珞喻路",
    "Hanyang Avenue": "汉阳大道",
    "Wenhua Avenue": "文化大道",
    "Zhiyinhu Avenue": "知音湖大道",
}

# Named roads: (name, kind, waypoints). A string waypoint is a crossing: the
# road runs over that bridge (the bridge edge keeps the bridge's name).
ROADS = [
    ("3rd Ring Road", "highway", [
        "Tianxingzhou Yangtze River Bridge",
        (114.350, 30.691), (114.310, 30.689), (114.280, 30.682), (114.250, 30.672),
        (114.225, 30.662), (114.200, 30.648), (114.178, 30.632),
        "Duoluokou Bridge",
        (114.160, 30.585), (114.162, 30.560), (114.170, 30.530), (114.185, 30.507),
        (114.210, 30.497),
        "Baishazhou Yangtze River Bridge",
        (114.275, 30.477), (114.310, 30.470), (114.350, 30.471), (114.385, 30.482),
        (114.412, 30.500), (114.448, 30.528), (114.455, 30.568), (114.446, 30.608),
        (114.422, 30.640), (114.404, 30.658),
        "Tianxingzhou Yangtze River Bridge",
    ]),
    ("2nd Ring Road", "highway", [
        "Erqi Yangtze River Bridge",
        (114.310, 30.650), (114.280, 30.643), (114.252, 30.627), (114.228, 30.607),
        (114.214, 30.594),
        "Changfeng Bridge",
        (114.203, 30.566), (114.214, 30.541), (114.234, 30.527),
        "Yangsigang Yangtze River Bridge",
        (114.295, 30.500), (114.330, 30.504), (114.356, 30.522), (114.362, 30.556),
        (114.362, 30.590), (114.360, 30.615),
        "Erqi Yangtze River Bridge",
    ]),
    ("Airport Expressway", "highway", [
        (114.2081, 30.7838), (114.214, 30.760), (114.228, 30.732), (114.242, 30.702),
        (114.250, 30.672),
    ]),
    ("Jiefang Avenue", "arterial", [
        (114.215, 30.589), (114.245, 30.581), (114.272, 30.590), (114.293, 30.607),
        (114.310, 30.627), (114.326, 30.648),
    ]),
    ("Jianshe Avenue", "arterial", [
        (114.235, 30.600), (114.262, 30.604), (114.285, 30.615), (114.303, 30.636),
    ]),
    ("Zhongshan Avenue", "arterial", [
        (114.262, 30.569), (114.281, 30.577), (114.292, 30.592), (114.303, 30.610),
    ]),
    ("Hanyang Avenue", "arterial", [
        "Wuhan Yangtze River Bridge",
        (114.250, 30.556), (114.222, 30.556), (114.190, 30.551), (114.162, 30.560),
    ]),
    ("Zhiyinhu Avenue", "arterial", [
        (114.162, 30.560), (114.135, 30.548), (114.108, 30.538), (114.085, 30.531),
    ]),
    ("Wuluo Road - Luoyu Road", "arterial", [
        "Wuhan Yangtze River Bridge",
        (114.318, 30.543), (114.345, 30.535), (114.370, 30.525), (114.400, 30.508),
        (114.430, 30.503),
    ]),
    ("Heping Avenue", "arterial", [
        (114.306, 30.560), (114.330, 30.588), (114.352, 30.612), (114.385, 30.632),
        (114.425, 30.640), (114.470, 30.650),
    ]),
    ("Wenhua Avenue", "arterial", [
        (114.320, 30.520), (114.312, 30.490), (114.303, 30.462), (114.292, 30.436),
    ]),
]


def proj(lon, lat):
    """(lon, lat) in degrees to local metres (x east, y north)."""
    return ((np.asarray(lon) - LON0) * MX, (np.asarray(lat) - LAT0) * MY)


def unproj(x, y):
    return (LON0 + np.asarray(x) / MX, LAT0 + np.asarray(y) / MY)


def haversine_m(lon1, lat1, lon2, lat2):
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def pline(coords):
    x, y = proj([c[0] for c in coords], [c[1] for c in coords])
    return LineString(list(zip(x, y)))


class Network:
    def __init__(self):
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.edges: dict[tuple[int, int], dict] = {}
        self.by_coord: dict[tuple[float, float], int] = {}

    def node(self, lon, lat, share=False):
        lon, lat = round(float(lon), 6), round(float(lat), 6)
        if share and (lon, lat) in self.by_coord:
            return self.by_coord[(lon, lat)]
        self.lon.append(lon)
        self.lat.append(lat)
        i = len(self.lon) - 1
        if share:
            self.by_coord[(lon, lat)] = i
        return i

    def xy(self, i):
        x, y = proj(self.lon[i], self.lat[i])
        return float(x), float(y)

    def seg(self, u, v):
        return LineString([self.xy(u), self.xy(v)])

    def edge(self, u, v, kind, speed, name=""):
        if u == v:
            return
        key = (min(u, v), max(u, v))
        if key in self.edges:
            return
        self.edges[key] = {"kind": kind, "speed": speed, "name": name}


def main(out: Path) -> None:
    rng = np.random.default_rng(SEED)
    rivers = {"Yangtze": pline(YANGTZE), "Han": pline(HAN)}
    river_union = rivers["Yangtze"].union(rivers["Han"])
    water = rivers["Yangtze"].buffer(RIVER_HALF_WIDTH_M["Yangtze"]).union(
        rivers["Han"].buffer(RIVER_HALF_WIDTH_M["Han"])
    )
    lake = pline(EAST_LAKE + EAST_LAKE[:1])
    lake = Polygon(lake.coords)
    bx0, by0 = proj(WEST - 0.01, SOUTH - 0.01)
    bx1, by1 = proj(EAST + 0.01, NORTH + 0.01)
    west_bank, wuchang = sorted(
        split(box(bx0, by0, bx1, by1), rivers["Yangtze"]).geoms,
        key=lambda g: g.centroid.x,
    )
    hanyang, hankou = sorted(split(west_bank, rivers["Han"]).geoms, key=lambda g: g.centroid.y)
    regions = {"Hankou": hankou, "Hanyang": hanyang, "Wuchang": wuchang}

    def region_of(x, y):
        p = Point(x, y)
        for name, poly in regions.items():
            if poly.contains(p):
                return name
        return None

    net = Network()

    # 1. Jittered street grid.
    lons = np.arange(WEST, EAST + 1e-9, GRID_DLON)
    lats = np.arange(SOUTH, NORTH + 1e-9, GRID_DLAT)
    jit = rng.uniform(-JITTER, JITTER, size=(len(lats), len(lons), 2))
    grid = -np.ones((len(lats), len(lons)), dtype=int)
    for r, lat in enumerate(lats):
        for c, lon in enumerate(lons):
            glon = min(max(lon + jit[r, c, 0] * GRID_DLON, WEST), EAST)
            glat = min(max(lat + jit[r, c, 1] * GRID_DLAT, SOUTH), NORTH)
            p = Point(*proj(glon, glat))
            if water.contains(p) or lake.contains(p):
                continue
            grid[r, c] = net.node(glon, glat)
    n_grid = len(net.lon)

    def street_ok(u, v):
        s = net.seg(u, v)
        return not s.intersects(river_union) and not s.intersects(lake)

    for r in range(len(lats)):
        for c in range(len(lons)):
            u = grid[r, c]
            if u < 0:
                continue
            for dr, dc in ((0, 1), (1, 0)):
                rr, cc = r + dr, c + dc
                if rr < len(lats) and cc < len(lons) and grid[rr, cc] >= 0:
                    v = grid[rr, cc]
                    if street_ok(u, v):
                        net.edge(u, v, "road", SPEED["street"])

    grid_xy = np.array([net.xy(i) for i in range(n_grid)])
    grid_region = [region_of(x, y) for x, y in grid_xy]

    def link_to_grid(i, k=1, max_m=1500.0):
        """Join node i to its k nearest grid nodes on the same bank."""
        x, y = net.xy(i)
        reg = region_of(x, y)
        d = np.hypot(grid_xy[:, 0] - x, grid_xy[:, 1] - y)
        made = 0
        for j in np.argsort(d, kind="stable")[:12]:
            if d[j] > max_m or made >= k:
                break
            if grid_region[j] != reg or not street_ok(i, int(j)):
                continue
            net.edge(i, int(j), "road", SPEED["street"])
            made += 1
        assert made > 0, f"node {i} could not be linked to the grid"

    # 2. Bridges and tunnels: one edge each, ends placed across the river.
    crossing_ends = {}
    for name, river, kind, (lon, lat) in CROSSINGS:
        line = rivers[river]
        p = Point(*proj(lon, lat))
        t = line.project(p)
        a, b = line.interpolate(max(t - 50, 0)), line.interpolate(t + 50)
        dx, dy = b.x - a.x, b.y - a.y
        norm = math.hypot(dx, dy)
        nx_, ny_ = -dy / norm, dx / norm
        half = RIVER_HALF_WIDTH_M[river] + 250.0
        ends = []
        for sgn in (1, -1):
            ex, ey = p.x + sgn * half * nx_, p.y + sgn * half * ny_
            assert not water.contains(Point(ex, ey)), name
            elon, elat = unproj(ex, ey)
            ends.append(net.node(elon, elat, share=True))
        u, v = ends
        regs = {region_of(*net.xy(u)), region_of(*net.xy(v))}
        expected = {"Yangtze": [{"Hankou", "Wuchang"}, {"Hanyang", "Wuchang"}],
                    "Han": [{"Hankou", "Hanyang"}]}[river]
        assert regs in expected, (name, regs)
        net.edge(u, v, kind, SPEED[kind], name)
        crossing_ends[name] = (u, v)
        link_to_grid(u, k=2)
        link_to_grid(v, k=2)

    # 3. Rings, arterials and the airport expressway.
    waypoint_nodes = set()
    for name, kind, waypoints in ROADS:
        chain: list[int] = []
        for k, w in enumerate(waypoints):
            if isinstance(w, str):
                u, v = crossing_ends[w]
                if chain:  # enter the crossing at the end nearer the road so far
                    ref, nearer_first = chain[-1], True
                else:  # a road that starts with a crossing runs towards the next point
                    nxt = waypoints[k + 1]
                    ref, nearer_first = net.node(nxt[0], nxt[1], share=True), False
                du = math.dist(net.xy(ref), net.xy(u))
                dv = math.dist(net.xy(ref), net.xy(v))
                if (dv < du) == nearer_first:
                    u, v = v, u
                chain += [u, v]
            else:
                i = net.node(w[0], w[1], share=True)
                waypoint_nodes.add(i)
                chain.append(i)
        speed = SPEED[kind]
        edge_kind = "highway" if kind == "highway" else "road"
        step = 0
        for a, b in zip(chain[:-1], chain[1:]):
            if net.edges.get((min(a, b), max(a, b)), {}).get("kind") in ("bridge", "tunnel"):
                continue
            ax, ay = net.xy(a)
            bx, by = net.xy(b)
            n_seg = max(1, round(math.dist((ax, ay), (bx, by)) / 700.0))
            prev = a
            for s in range(1, n_seg + 1):
                if s == n_seg:
                    cur = b
                else:
                    f = s / n_seg
                    lon, lat = unproj(ax + f * (bx - ax), ay + f * (by - ay))
                    cur = net.node(lon, lat)
                    step += 1
                    if kind != "highway" or step % 3 == 0:
                        link_to_grid(cur)
                seg = net.seg(prev, cur)
                assert not seg.intersects(river_union), (name, prev, cur)
                assert not seg.intersects(lake), (name, prev, cur)
                net.edge(prev, cur, edge_kind, speed, name)
                prev = cur
    for i in sorted(waypoint_nodes):
        link_to_grid(i)

    # 4. Keep the largest connected component; renumber compactly.
    g = nx.Graph()
    g.add_nodes_from(range(len(net.lon)))
    g.add_edges_from(net.edges)
    keep = max(nx.connected_components(g), key=len)
    for u, v in crossing_ends.values():
        assert u in keep and v in keep
    order = sorted(keep)
    new_id = {old: f"n{k + 1:04d}" for k, old in enumerate(order)}

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "road_nodes.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["node_id", "lat", "lon"])
        for old in order:
            w.writerow([new_id[old], f"{net.lat[old]:.6f}", f"{net.lon[old]:.6f}"])
    n_edges = 0
    with open(out / "roads.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["u", "v", "length_m", "speed_kmh", "oneway", "name", "name_zh", "kind"])
        for (u, v) in sorted(net.edges):
            if u not in keep:
                continue
            e = net.edges[(u, v)]
            length = haversine_m(net.lon[u], net.lat[u], net.lon[v], net.lat[v])
            length = max(round(length, 1), 0.1)
            w.writerow([new_id[u], new_id[v], f"{length:.1f}", e["speed"], "false",
                        e["name"], NAME_ZH.get(e["name"], ""), e["kind"]])
            n_edges += 1
    print(f"wrote {len(order)} nodes and {n_edges} edges to {out} "
          f"(dropped {len(net.lon) - len(order)} stranded nodes)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    main(ap.parse_args().out)
