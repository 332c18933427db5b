"""The scale generator: valid, deterministic, realistic structure, and a road grid rivers cut."""

from __future__ import annotations

import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pandas.testing import assert_frame_equal

from allocator import schema, synth
from allocator.cli import main
from allocator.geo import haversine_km, nearest
from allocator.scenario import Scenario, load, save
from allocator.validate import usable_lots, validate

SIZE = dict(sites=120, depots=5, items=15, lots=600, road_nodes=1500)


@pytest.fixture(scope="module")
def sc() -> Scenario:
    return synth.generate(**SIZE, seed=11)


def _assert_same(a: Scenario, b: Scenario) -> None:
    assert sorted(a.tables) == sorted(b.tables)
    for name in a.tables:
        assert_frame_equal(a.tables[name], b.tables[name], check_dtype=True, obj=name)
    assert (a.name, a.description, a.as_of, a.meta) == (b.name, b.description, b.as_of, b.meta)


def _digraph(sc: Scenario) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(sc.road_nodes.node_id)
    r = sc.roads
    g.add_edges_from(zip(r.u, r.v))
    g.add_edges_from(zip(r.v[~r.oneway], r.u[~r.oneway]))
    return g


# --------------------------------------------------------------------------- determinism, validity


def test_same_seed_gives_identical_tables_and_another_seed_differs(sc: Scenario) -> None:
    _assert_same(sc, synth.generate(**SIZE, seed=11))
    other = synth.generate(**SIZE, seed=12)
    assert not other.sites[["lat", "lon"]].equals(sc.sites[["lat", "lon"]])
    assert not other.stock.quantity.equals(sc.stock.quantity)
    assert not other.road_nodes[["lat", "lon"]].equals(sc.road_nodes[["lat", "lon"]])


def test_valid_and_reloads_identically_from_csv(sc: Scenario, tmp_path: Path) -> None:
    report = validate(sc)
    assert report.ok, report.errors[:5]
    _assert_same(sc, load(save(sc, tmp_path / "s")))


def test_reloads_identically_from_xlsx(tmp_path: Path) -> None:
    small = synth.generate(sites=20, depots=2, items=8, lots=40, road_nodes=100, seed=3)
    _assert_same(small, load(save(small, tmp_path / "s.xlsx")))


@pytest.mark.parametrize(
    "size",
    [
        dict(sites=4, depots=1, items=1, lots=1, road_nodes=16),
        dict(sites=9, depots=2, items=3, lots=10, road_nodes=50),
        dict(sites=333, depots=7, items=27, lots=1234, road_nodes=2345),
    ],
)
def test_requested_counts_are_met(size: dict) -> None:
    s = synth.generate(**size, seed=2)
    assert validate(s).ok
    for table, n in (("sites", "sites"), ("depots", "depots"), ("items", "items"),
                     ("stock", "lots"), ("road_nodes", "road_nodes")):
        assert len(s.tables[table]) == size[n], table
        key = schema.tables()[table].key
        assert s.tables[table][key].is_unique
    # every item is stocked by at least one lot
    assert set(s.stock.item_id) == set(s.items.item_id)


def test_without_roads_or_traffic_control() -> None:
    s = synth.generate(**SIZE, seed=11, with_roads=False)
    assert not s.has("roads") and not s.has("road_nodes") and not s.has("traffic_control")
    t = synth.generate(**SIZE, seed=11, with_traffic_control=False)
    assert t.has("roads") and not t.has("traffic_control")
    # the switches leave the other tables unchanged
    base = synth.generate(**SIZE, seed=11)
    assert_frame_equal(s.stock, base.stock)
    assert_frame_equal(t.sites, base.sites)


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError):
        synth.generate(sites=0)
    with pytest.raises(ValueError):
        synth.generate(road_nodes=5)


# --------------------------------------------------------------------------- sites, items, stock


def test_every_tier_populated_in_realistic_proportions(sc: Scenario) -> None:
    tiers = sc.sites.tier.value_counts()
    assert set(tiers.index) == {1, 2, 3, 4}
    kinds = sc.sites.kind.value_counts()
    assert set(kinds.index) == set(synth.KIND_SHARE)
    assert kinds["designated_hospital"] < kinds["fever_clinic"] < kinds["community"]
    assert tiers[1] < tiers[4]
    # beds, patients and staff follow the kind: hospitals are bigger than fever clinics
    med = sc.sites.groupby("kind").beds.median()
    assert med["designated_hospital"] > med["fever_clinic"]
    assert sc.sites.beds[sc.sites.kind == "community"].isna().all()
    assert (sc.sites.staff.fillna(0) >= 0).all()
    assert sorted(set(synth.generate(sites=4, depots=1, items=2, lots=4, road_nodes=16).sites.tier)) == [1, 2, 3, 4]


def test_items_substitutes_are_one_way_and_grouped(sc: Scenario) -> None:
    items = sc.items.set_index("item_id")
    assert set(items.grade) == {"medical", "civil"}
    assert (items.pack_size >= 1).all() and (items.unit_weight_kg > 0).all()
    subs = sc.substitutes
    pairs = set(zip(subs.item_id, subs.substitute_id))
    assert pairs, "no substitutes"
    assert not {(b, a) for a, b in pairs} & pairs, "a substitution goes both ways"
    assert ("mask_med", "n95_med") in pairs and ("gown", "suit_med") in pairs
    # some substitute serves several needs, and some items stand alone
    assert subs.substitute_id.value_counts().max() >= 2
    assert set(items.index) - set(subs.item_id) - set(subs.substitute_id)


def test_civil_goods_are_never_needed_by_clinical_sites(sc: Scenario) -> None:
    n = sc.needs.merge(sc.sites[["site_id", "clinical"]]).merge(sc.items[["item_id", "grade"]])
    assert not (n.clinical & (n.grade == "civil")).any()
    assert (n.quantity > 0).all()


def test_earmarks_reference_existing_sites_and_kinds(sc: Scenario) -> None:
    d = sc.donations
    sites = set(sc.sites.site_id)
    to_sites = d.earmark_site_id.map(len) > 0
    to_kinds = d.earmark_kind.map(len) > 0
    assert to_sites.any() and to_kinds.any()
    assert all(set(t) <= sites for t in d.earmark_site_id)
    assert all(set(t) <= set(synth.KIND_SHARE) for t in d.earmark_kind)
    share = (to_sites | to_kinds).mean()
    assert 0.05 <= share <= 0.2, share
    # donated lots point at existing donations, others have none
    don = sc.stock.source == "donation"
    assert set(sc.stock.donation_id[don]) <= set(d.donation_id)
    assert (sc.stock.donation_id[~don] == "").all()
    assert set(sc.stock.source) == {"reserve", "purchase", "donation"}


def test_some_lots_are_expired_or_quarantined(sc: Scenario) -> None:
    s = sc.stock
    expired = s.expires.notna() & (s.expires <= sc.at)
    assert expired.any()
    assert (s.status == "quarantined").any() and (s.status == "rejected").any()
    assert (s.expires.dropna() > sc.at).any()
    assert s.expires.isna().any()  # devices and goggles never expire
    usable = usable_lots(sc)
    assert len(usable) < len(s)
    assert set(usable.lot_id).isdisjoint(s.lot_id[expired | (s.status != "available")])


def test_supply_short_for_some_items_and_ample_for_others(sc: Scenario) -> None:
    supply = usable_lots(sc).groupby("item_id").quantity.sum()
    need = sc.needs.groupby("item_id").quantity.sum()
    ratio = (supply.reindex(need.index, fill_value=0) / need).dropna()
    assert (ratio < 0.9).any() and (ratio > 1.1).any(), ratio
    # short items sit near the requested ratio
    assert ratio.min() == pytest.approx(0.7, abs=0.15)


def test_supply_ratio_moves_the_short_items() -> None:
    def short_ratio(r: float) -> float:
        s = synth.generate(**SIZE, seed=4, supply_ratio=r)
        supply = usable_lots(s).groupby("item_id").quantity.sum()
        need = s.needs.groupby("item_id").quantity.sum()
        return float((supply.reindex(need.index, fill_value=0) / need).min())

    assert short_ratio(0.3) < 0.45 < short_ratio(0.7)


def test_depots_capacities_and_vehicles(sc: Scenario) -> None:
    cap = sc.depots.dispatch_capacity_kg
    assert cap.isna().any() and cap.notna().any() and (cap.dropna() > 0).all()
    v = sc.vehicles
    assert set(v.depot_id) == set(sc.depots.depot_id)
    assert (v.capacity_kg > 0).all() and (v.available_to > v.available_from).all()
    assert any(p == ("medical", "supply") for p in v.permits)


# --------------------------------------------------------------------------- roads


def test_road_graph_is_strongly_connected_and_lengths_are_great_circle(sc: Scenario) -> None:
    g = _digraph(sc)
    assert nx.is_strongly_connected(g)
    r = sc.roads
    assert (r.u != r.v).all()
    assert not pd.concat([r.u + ">" + r.v, r.v + ">" + r.u]).duplicated().any()
    pos = sc.road_nodes.set_index("node_id")
    a, b = pos.loc[r.u], pos.loc[r.v]
    km = haversine_km(a.lat.to_numpy(), a.lon.to_numpy(), b.lat.to_numpy(), b.lon.to_numpy())
    assert np.allclose(r.length_m.to_numpy(), km * 1000, atol=0.06)
    assert (r.length_m > 0).all()
    assert (r.speed_kmh == r.kind.map(synth.SPEED_KMH)).all()
    # realistic spacing: a typical street is a few hundred metres
    assert 100 < r.length_m[r.kind == "road"].median() < 800


def test_only_bridges_and_tunnels_cross_the_rivers(sc: Scenario) -> None:
    rivers = synth.rivers_of(sc)
    assert len(rivers) == 2
    cross = synth.river_crossings(sc.road_nodes, sc.roads, rivers)
    kinds = sc.roads.kind[cross]
    assert set(kinds) <= {"bridge", "tunnel"}
    assert (kinds == "tunnel").sum() == 1 and (kinds == "bridge").sum() >= 4
    # every bridge and tunnel does cross a river, and without them the city falls apart
    assert cross[sc.roads.kind.isin(["bridge", "tunnel"]).to_numpy()].all()
    g = nx.Graph()
    g.add_nodes_from(sc.road_nodes.node_id)
    g.add_edges_from(zip(sc.roads.u[~cross], sc.roads.v[~cross]))
    assert nx.number_connected_components(g) == 3  # Hankou, Hanyang, Wuchang
    # no node lies in a river
    pts = shapely.points(sc.road_nodes[["lon", "lat"]].to_numpy())
    assert not shapely.intersects(pts, shapely.MultiLineString(rivers).buffer(1e-4)).any()


def test_sites_and_depots_lie_on_the_grid(sc: Scenario) -> None:
    n = sc.road_nodes
    lo, hi = n[["lat", "lon"]].min(), n[["lat", "lon"]].max()
    for t in (sc.sites, sc.depots):
        _, km = nearest(t.lat, t.lon, n.lat, n.lon)
        assert km.max() < 5.0
        assert t.lat.between(lo.lat - 0.01, hi.lat + 0.01).all()
        assert t.lon.between(lo.lon - 0.01, hi.lon + 0.01).all()
        assert t.lon.between(114.0, 114.6).all() and t.lat.between(30.3, 30.8).all()


def test_traffic_control_of_the_day(sc: Scenario) -> None:
    tc, at = sc.traffic_control, sc.at
    in_force = (tc.start.isna() | (tc.start <= at)) & (tc.end.isna() | (at < tc.end))
    tunnels = set(sc.roads.name[sc.roads.kind == "tunnel"])
    bridges = set(sc.roads.name[sc.roads.kind == "bridge"])
    closures = tc[(tc.kind == "closure") & in_force]
    assert set(closures.road) == tunnels and all(p == () for p in closures.permits)
    checks = tc[tc.kind == "checkpoint"]
    assert set(checks.road) == bridges and (checks.delay_min > 0).all()
    assert (~in_force).sum() == 1  # one rule outside its time window
    zone = tc[tc.kind == "restricted_zone"]
    assert len(zone) == 1 and zone.permits.iloc[0] == ("medical", "supply")
    poly = shapely.from_wkt(zone.area_wkt.iloc[0])
    inside = shapely.contains(poly, shapely.points(sc.sites[["lon", "lat"]].to_numpy()))
    assert 0 < inside.sum() < len(sc.sites)


@pytest.mark.parametrize("n", [16, 137, 1000])
def test_road_grid_exact_size_and_connected(n: int) -> None:
    bbox = synth.city_bbox(n)
    rivers = synth.default_rivers(bbox, 2 if n >= 100 else 1, np.random.default_rng(n))
    nodes, roads = synth.road_grid(n, bbox, rivers, np.random.default_rng(n))
    assert len(nodes) == n and nodes.node_id.is_unique
    g = nx.Graph()
    g.add_nodes_from(nodes.node_id)
    g.add_edges_from(zip(roads.u, roads.v))
    assert nx.is_connected(g)
    cross = synth.river_crossings(nodes, roads, rivers)
    assert set(roads.kind[cross]) <= {"bridge", "tunnel"} and cross.any()
    plain_nodes, plain = synth.road_grid(n, bbox, (), 1)
    assert len(plain_nodes) == n and not plain.kind.isin(["bridge", "tunnel"]).any()


def test_road_grid_scales() -> None:
    t = time.perf_counter()
    nodes, roads = synth.road_grid(30000, rng=1)
    seconds = time.perf_counter() - t
    assert len(nodes) == 30000 and len(roads) > 55000
    assert seconds < 10, seconds


# --------------------------------------------------------------------------- command line


def test_cli_writes_a_scenario_that_validate_accepts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "syn"
    args = ["--sites", "60", "--depots", "3", "--items", "12", "--lots", "200",
            "--road-nodes", "400", "--seed", "1"]
    assert main(["synth", *args, str(out)]) == 0
    assert "sites 60" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0
    _assert_same(load(out), synth.generate(sites=60, depots=3, items=12, lots=200, road_nodes=400, seed=1))
    assert main(["synth", *args, "--xlsx", str(tmp_path / "book")]) == 0
    assert main(["validate", str(tmp_path / "book.xlsx")]) == 0
