"""``allocator.synth`` gives byte-identical tables for a seed, compared with hashes saved from main.

``tests/data/synth_hashes.json`` was written by the same hashing code on main before
``synth.py`` was split into roads and tables (commit message says which); a change of
any generated cell, dtype, column order, name, description or meta key fails here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from allocator import synth

FIXTURE = json.loads((Path(__file__).parent / "data" / "synth_hashes.json").read_text(encoding="utf-8"))


def frame_hash(df: pd.DataFrame) -> str:
    text = df.to_csv(index=False, lineterminator="\n", float_format="%.17g", date_format="%Y-%m-%dT%H:%M:%S.%f")
    dt = ",".join(f"{c}:{t}" for c, t in df.dtypes.astype(str).items())
    return hashlib.sha256((dt + "\n" + text).encode()).hexdigest()


@pytest.mark.parametrize("key", ["small", "mid", "tiny", "noroads", "notc"])
def test_generate_matches_saved_hashes(key: str) -> None:
    want = FIXTURE[key]
    sc = synth.generate(**want["kwargs"])
    assert sc.name == want["name"]
    assert sc.description == want["description"]
    meta = hashlib.sha256(json.dumps(dict(sc.meta), sort_keys=True, default=str).encode()).hexdigest()
    assert meta == want["meta"]
    got = {n: frame_hash(sc.table(n)) for n in sorted(sc.tables)}
    assert got == want["tables"]


def test_road_grid_matches_saved_hashes() -> None:
    want = FIXTURE["road_grid_500_1"]
    nodes, roads = synth.road_grid(500, rng=1)
    assert (frame_hash(nodes), frame_hash(roads)) == (want["road_nodes"], want["roads"])


def test_rivers_and_crossings_match_saved_hashes() -> None:
    want = FIXTURE["road_grid_400_3"]
    bbox = synth.city_bbox(400)
    rivers = synth.default_rivers(bbox)
    assert list(bbox) == want["bbox"]
    assert synth.rivers_wkt(rivers) == want["rivers_wkt"]
    nodes, roads = synth.road_grid(400, bbox, rivers, 3)
    assert (frame_hash(nodes), frame_hash(roads)) == (want["road_nodes"], want["roads"])
    hit = synth.river_crossings(nodes, roads, rivers)
    assert hashlib.sha256(hit.tobytes()).hexdigest() == want["crossings"]
