"""The Wuhan demo scenario is valid, round-trips, and its road files regenerate byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import networkx as nx
import pandas as pd

from allocator.cli import main
from allocator.scenario import load, save
from allocator.validate import usable_lots, validate

ROOT = Path(__file__).resolve().parents[1]


def test_demo_is_valid(demo_path: Path, capsys):
    assert main(["validate", str(demo_path)]) == 0
    report = validate(demo_path)
    assert report.ok and not report.errors
    assert all(w.file == "stock.csv" for w in report.warnings)


def test_demo_has_the_documented_shape(demo_path: Path):
    sc = load(demo_path)
    assert len(sc.sites) >= 40 and len(sc.items) >= 12 and len(sc.donations) >= 30
    assert set(sc.sites.kind) >= {
        "designated_hospital", "backup_hospital", "shelter_hospital", "fever_clinic",
        "quarantine_site", "elderly_care", "community",
    }
    names = " ".join(sc.sites.name)
    for must in ("Jinyintan", "Huoshenshan", "Leishenshan", "Union", "Tongji", "Central", "Hongshan Gymnasium"):
        assert must in names
    assert (sc.items.grade == "civil").any()
    assert (sc.stock.status != "available").any()
    # needs exceed usable supply for several items (priorities matter)
    supply = usable_lots(sc).groupby("item_id").quantity.sum()
    need = sc.needs.groupby("item_id").quantity.sum()
    short = [i for i in need.index if need[i] > supply.get(i, 0)]
    assert len(short) >= 3
    # the road graph is connected and crosses rivers only on named bridges and tunnels
    g = nx.Graph()
    g.add_edges_from(zip(sc.roads.u, sc.roads.v))
    assert nx.is_connected(g) and 2000 <= g.number_of_nodes() <= 5000
    crossings = sc.roads[sc.roads.kind.isin(["bridge", "tunnel"])]
    assert (crossings.name != "").all() and crossings.name.nunique() >= 10
    closed = sc.traffic_control[sc.traffic_control.kind == "closure"]
    assert set(closed.road) & set(sc.roads.loc[sc.roads.kind == "tunnel", "name"])


def test_demo_round_trips(demo_path: Path, tmp_path: Path):
    sc = load(demo_path)
    for target in (tmp_path / "csv", tmp_path / "demo.xlsx"):
        back = load(save(sc, target))
        for name, df in sc.tables.items():
            pd.testing.assert_frame_equal(df, back.tables[name], obj=name)


def test_demo_roads_regenerate_byte_for_byte(demo_path: Path, tmp_path: Path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_demo_roads.py"), "--out", str(tmp_path)],
        check=True, capture_output=True,
    )
    for f in ("road_nodes.csv", "roads.csv"):
        assert (tmp_path / f).read_bytes() == (demo_path / f).read_bytes(), f


def test_demo_traffic_control_matters(demo_path: Path):
    """Some sites are reachable only through a checkpoint, and the tunnel closures cost time."""
    import numpy as np

    from allocator.network import travel_times

    sc = load(demo_path)
    base = travel_times(sc).minutes
    assert np.isfinite(base.to_numpy()).all()
    tc = sc.traffic_control
    # turn every checkpoint into a closure: sites across the Yangtze become unreachable
    no_checkpoints = sc.replace(traffic_control=tc.assign(kind=tc.kind.replace("checkpoint", "closure")))
    cut = travel_times(no_checkpoints).minutes
    only_via_checkpoint = [s for s in cut.columns if np.isinf(cut[s]).all()]
    assert only_via_checkpoint, "no site depends on a checkpointed crossing"
    assert "H09" in only_via_checkpoint  # Leishenshan, in Wuchang, across the Yangtze from every depot
    # lifting the tunnel closures shortens some routes
    tunnels = set(sc.roads.loc[sc.roads.kind == "tunnel", "name"])
    open_tunnels = sc.replace(traffic_control=tc[~((tc.kind == "closure") & tc.road.isin(tunnels))])
    faster = travel_times(open_tunnels).minutes
    assert (faster <= base + 1e-9).all().all() and (faster < base - 1).to_numpy().any()
