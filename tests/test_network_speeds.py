"""One road speed table (``allocator/data/road_speeds.csv``) used by every module that assumes a speed."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import numpy as np

from allocator import geo, speeds, synth
from allocator.network import read_roads

ROOT = Path(__file__).resolve().parents[1]


def _table() -> dict[str, dict[str, str]]:
    return {r["kind"]: r for r in speeds.read_table()}


def test_table_gives_every_speed() -> None:
    t = _table()
    assert speeds.FALLBACK_SPEED_KMH == float(t["(no roads)"]["default_kmh"]) == geo.FALLBACK_SPEED_KMH
    assert speeds.OTHER_KIND_SPEED_KMH == float(t["*"]["default_kmh"])
    for kind, row in t.items():
        if row["default_kmh"] and kind not in ("*", "(no roads)"):
            assert speeds.default_speed(kind) == float(row["default_kmh"])
            assert speeds.default_speed(kind + "_link") == float(row["default_kmh"])
        if row["synthetic_kmh"]:
            assert synth.SPEED_KMH[kind] == float(row["synthetic_kmh"])
    assert speeds.default_speed("no-such-kind") == speeds.OTHER_KIND_SPEED_KMH
    assert synth.SPEED_KMH is speeds.SYNTHETIC_SPEED_KMH


def test_fallback_minutes_use_the_table() -> None:
    km = float(geo.haversine_km(30.5, 114.3, 30.6, 114.3))
    want = km * speeds.FALLBACK_DETOUR / float(_table()["(no roads)"]["default_kmh"]) * 60
    assert np.isclose(float(geo.fallback_minutes(30.5, 114.3, 30.6, 114.3)), want)


def test_readers_and_grid_use_the_table(tmp_path: Path) -> None:
    g = nx.DiGraph()
    g.add_node("a", lat=30.5, lon=114.3)
    g.add_node("b", lat=30.51, lon=114.3)
    g.add_edge("a", "b", length_m=1000.0, kind="residential")
    g.add_edge("b", "a", length_m=1000.0, kind="track")
    nx.write_graphml(g, tmp_path / "g.graphml")
    net = read_roads(tmp_path / "g.graphml")
    assert net.graph["a"]["b"]["speed_kmh"] == float(_table()["residential"]["default_kmh"])
    assert net.graph["b"]["a"]["speed_kmh"] == float(_table()["*"]["default_kmh"])
    _, roads = synth.road_grid(300, rng=2)
    syn = {k: float(r["synthetic_kmh"]) for k, r in _table().items() if r["synthetic_kmh"]}
    assert (roads.speed_kmh == roads.kind.map(syn)).all()


def test_no_other_speed_table_in_the_package() -> None:
    """No module but allocator/speeds.py binds a *SPEED* name to a literal number or dict of numbers."""
    offenders = []
    for path in (ROOT / "allocator").rglob("*.py"):
        if path.name == "speeds.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if any("SPEED" in n.upper() for n in names) and isinstance(node.value, ast.Constant | ast.Dict):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
