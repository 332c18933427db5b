"""Road network, traffic control, travel times, re-planning and trips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from allocator import examples
from allocator.network import (
    RoadFileError,
    RoadNetwork,
    Rule,
    TrafficControl,
    read_roads,
    travel_for,
    travel_times,
    write_csv_pair,
    write_graphml,
)
from allocator.network.replan import replan
from allocator.network.trips import plan_trips

ROOT = Path(__file__).resolve().parents[1]


def _shared() -> Path | None:
    for p in (os.environ.get("ALLOCATOR_SHARED"), ROOT / ".." / "shared", "/work/shared"):
        if p and (Path(p) / "data" / "wuhan-roads" / "WHroad.shp").is_file():
            return Path(p) / "data"
    return None


DATA = _shared()
needs_data = pytest.mark.skipif(DATA is None, reason="../shared/data (central-Wuhan shapefile) is absent")


@pytest.fixture(scope="module")
def wuhan() -> RoadNetwork:
    if DATA is None:
        pytest.skip("../shared/data is absent")
    return read_roads(DATA / "wuhan-roads" / "WHroad.shp")


def _nx_reference(net: RoadNetwork, blocked: set[tuple[str, str]], src: str, targets: list[str]) -> np.ndarray:
    g = nx.DiGraph()
    g.add_nodes_from(net.graph.nodes)
    g.add_weighted_edges_from(
        ((a, b, d["length_m"] / 1000 / d["speed_kmh"] * 60) for a, b, d in net.graph.edges(data=True)
         if (a, b) not in blocked), weight="w")
    dist = nx.single_source_dijkstra_path_length(g, src, weight="w")
    return np.array([dist.get(t, np.inf) for t in targets])


# --------------------------------------------------------------------------- real data


@needs_data
def test_wuhan_shapefile_reads_as_one_connected_graph(wuhan):
    g = wuhan.graph
    assert 30_000 <= g.number_of_nodes() <= 31_000
    assert nx.is_strongly_connected(g)
    km = sum(d["length_m"] for _, _, d in g.edges(data=True)) / 2000
    assert 2_300 < km < 2_500


@needs_data
def test_travel_times_equal_networkx_dijkstra_under_random_closures(wuhan):
    rng = np.random.default_rng(42)
    a = wuhan.arrays
    names = pd.Series(a.name).value_counts()
    closed_roads = list(rng.choice(names.index[:200], 3, replace=False))
    eu = rng.choice(a.n_arcs, 20, replace=False)
    rules = [Rule(f"R{i}", "closure", road=str(r)) for i, r in enumerate(closed_roads)]
    rules += [Rule(f"E{i}", "closure", u=a.node_ids[a.u[k]], v=a.node_ids[a.v[k]]) for i, k in enumerate(eu)]
    tc = TrafficControl(rules)
    di = rng.choice(a.n_nodes, 4, replace=False)
    si = rng.choice(a.n_nodes, 60, replace=False)
    dep = pd.DataFrame({"depot_id": [f"D{i}" for i in range(4)], "lat": 0.0, "lon": 0.0, "node_id": a.node_ids[di]})
    sit = pd.DataFrame({"site_id": [f"S{i}" for i in range(60)], "lat": 0.0, "lon": 0.0, "node_id": a.node_ids[si]})
    tr = travel_for(wuhan, tc, dep, sit, vehicle=[])
    blocked = set()
    for r in rules:
        for k in tc.arcs(wuhan, r):
            blocked.add((a.node_ids[a.u[k]], a.node_ids[a.v[k]]))
    assert blocked
    for i, d in enumerate(dep.node_id):
        ref = _nx_reference(wuhan, blocked, d, list(sit.node_id))
        np.testing.assert_allclose(tr.minutes.iloc[i].to_numpy(), ref, rtol=1e-12, atol=1e-9)
    # no route of a vehicle without the permit uses a closed arc
    routes = tr.routes([(d, s) for d in dep.depot_id for s in sit.site_id[:15]])
    for path in routes.path:
        assert not blocked & set(zip(path[:-1], path[1:]))
    # route times equal the sum of their arcs
    r = routes.iloc[0]
    assert r.travel_min == pytest.approx(sum(wuhan.graph[x][y]["minutes"] for x, y in zip(r.path[:-1], r.path[1:])))


@needs_data
def test_replan_after_closure_equals_full_recompute(wuhan):
    rng = np.random.default_rng(5)
    a = wuhan.arrays
    di = rng.choice(a.n_nodes, 6, replace=False)
    si = rng.choice(a.n_nodes, 80, replace=False)
    dep = pd.DataFrame({"depot_id": [f"D{i}" for i in range(6)], "lat": 0.0, "lon": 0.0, "node_id": a.node_ids[di]})
    sit = pd.DataFrame({"site_id": [f"S{i}" for i in range(80)], "lat": 0.0, "lon": 0.0, "node_id": a.node_ids[si]})
    tr = travel_for(wuhan, None, dep, sit)
    road = pd.Series(a.name).value_counts().index[3]
    out = replan(tr, add=[Rule("C", "closure", road=str(road))])
    full = travel_for(wuhan, TrafficControl([Rule("C", "closure", road=str(road))]), dep, sit)
    np.testing.assert_array_equal(out.travel.minutes.to_numpy(), full.minutes.to_numpy())
    before, after = tr.minutes.to_numpy(), full.minutes.to_numpy()
    assert len(out.changes) == int((before != after).sum())
    back = replan(out.travel, lift=["C"])
    np.testing.assert_array_equal(back.travel.minutes.to_numpy(), before)


# --------------------------------------------------------------------------- traffic control (ring_road)


def test_ring_road_times_by_hand():
    tr = travel_times(examples.ring_road())
    assert not tr.fallback
    assert tr.minutes.loc["D1"].to_dict() == {"H1": 4.0, "H2": 18.0, "Q1": 4.0}


def test_closed_tunnel_and_future_rule():
    sc = examples.ring_road()
    # T1 closed at as_of; before its start the tunnel is open (1.5 min)
    assert travel_times(sc).minutes.at["D1", "H1"] == 4.0
    assert travel_times(sc, at="2020-01-20").minutes.at["D1", "H1"] == 1.5
    # R1 (ring road) only from 2020-02-20: then H1 and Q1 are cut off (the tunnel stays closed)
    pinned = sc.replace(depots=sc.depots.assign(node_id="N0"))  # keep the depot at N0, cut off
    later = travel_times(pinned, at="2020-02-21").minutes.loc["D1"]
    assert np.isinf(later["H1"]) and np.isinf(later["Q1"])
    # end is exclusive
    tc = sc.traffic_control.copy()
    tc.loc[tc.rule_id == "T1", "end"] = pd.Timestamp(sc.at)
    assert travel_times(sc.replace(traffic_control=tc)).minutes.at["D1", "H1"] == 1.5


def test_closed_road_never_on_route_without_permit_but_with_it():
    sc = examples.ring_road()
    tc = sc.traffic_control.copy()
    tc.at[tc.index[tc.rule_id == "T1"][0], "permits"] = ("police",)
    veh = sc.vehicles.copy()
    sc2 = sc.replace(traffic_control=tc)
    tr = travel_times(sc2)  # no vehicle holds "police"
    assert "River Tunnel" not in _names(sc2, tr.routes([("D1", "H1")]).path[0])
    veh.at[veh.index[veh.vehicle_id == "V2"][0], "permits"] = ("police",)
    tr = travel_times(sc2.replace(vehicles=veh))
    r = tr.routes([("D1", "H1")]).iloc[0]
    assert r.travel_min == 1.5 and "police" in r.permits_used


def _names(sc, path):
    roads = sc.roads
    names = set()
    for a, b in zip(path[:-1], path[1:]):
        m = ((roads.u == a) & (roads.v == b)) | ((roads.u == b) & (roads.v == a))
        names |= set(roads.loc[m, "name"])
    return names


def test_restricted_zone_needs_permit():
    sc = examples.ring_road()
    net = RoadNetwork.from_tables(sc.road_nodes, sc.roads)
    tc = TrafficControl.from_frame(sc.traffic_control)
    without = travel_for(net, tc, sc.depots, sc.sites, at=sc.at, vehicle=[]).minutes
    with_ = travel_for(net, tc, sc.depots, sc.sites, at=sc.at, vehicle=["medical"]).minutes
    assert np.isinf(without.at["D1", "Q1"]) and with_.at["D1", "Q1"] == 4.0
    # the depot's minutes are the min over its vehicles (V1 holds the permit)
    assert travel_times(sc).minutes.at["D1", "Q1"] == 4.0
    only_v2 = sc.replace(vehicles=sc.vehicles[sc.vehicles.vehicle_id == "V2"])
    assert np.isinf(travel_times(only_v2).minutes.at["D1", "Q1"])


def test_checkpoint_delay_once_per_pass():
    sc = examples.ring_road()
    r = travel_times(sc).routes([("D1", "H2")]).iloc[0]
    driving = 4 + 2 + 2
    assert r.travel_min == driving + 10  # two checkpointed segments, one pass
    assert r.checkpoints == ("CP1",)
    # leaving the checkpointed road and coming back is a second pass: put H2 behind a
    # detour N4 -> N6 (not checkpointed) -> N7 -> N2 where N7 -> N2 is on the Bridge again
    roads = sc.roads.copy()
    roads = roads[~((roads.u == "N4") & (roads.v == "N2"))]
    cols = ["u", "v", "length_m", "speed_kmh", "oneway", "name", "kind"]
    extra = pd.DataFrame([("N4", "N6", 1000.0, 30.0, False, "Side", "road"),
                          ("N6", "N2", 1000.0, 30.0, False, "Bridge", "bridge")], columns=cols)
    extra = extra.reindex(columns=roads.columns, fill_value="")
    nodes = pd.concat([sc.road_nodes, pd.DataFrame({"node_id": ["N6"], "lat": [30.52], "lon": [114.32]})])
    sc2 = sc.replace(roads=pd.concat([roads, extra], ignore_index=True), road_nodes=nodes.reset_index(drop=True))
    r2 = travel_times(sc2).routes([("D1", "H2")]).iloc[0]
    assert r2.path == ("N0", "N1", "N3", "N4", "N6", "N2")
    assert r2.travel_min == 4 + 2 + 2 + 2 + 2 * 10
    assert r2.checkpoints == ("CP1", "CP1")
    # a checkpoint out of its window costs nothing
    tc = sc.traffic_control.copy()
    tc.loc[tc.rule_id == "CP1", "start"] = pd.Timestamp("2020-03-01")
    assert travel_times(sc.replace(traffic_control=tc)).minutes.at["D1", "H2"] == driving


def test_checkpoint_with_permits_blocks_others():
    sc = examples.ring_road()
    tc = sc.traffic_control.copy()
    tc.at[tc.index[tc.rule_id == "CP1"][0], "permits"] = ("medical",)
    sc2 = sc.replace(traffic_control=tc)
    only_v2 = sc2.replace(vehicles=sc2.vehicles[sc2.vehicles.vehicle_id == "V2"])
    assert np.isinf(travel_times(only_v2).minutes.at["D1", "H2"])
    assert travel_times(sc2).minutes.at["D1", "H2"] == 18.0


def test_replan_reports_changed_routes():
    tr = travel_times(examples.ring_road())
    out = replan(tr, lift=["T1"], with_paths=True)
    ch = out.changes.set_index("site_id")
    assert ch.at["H1", "after_min"] == 1.5 and ch.at["H1", "change_min"] == -2.5
    assert ch.at["H2", "after_min"] == 15.5 and bool(ch.at["H2", "path_changed"])
    assert "Q1" not in ch.index


def test_fallback_without_roads():
    tr = travel_times(examples.three_tiers())
    assert tr.fallback
    r = tr.routes([("EXPO", "DH")]).iloc[0]
    assert r.path == () and r.travel_min == pytest.approx(r.distance_km / 30 * 60)


# --------------------------------------------------------------------------- readers and writers


OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="30.5000" lon="114.3000"/>
  <node id="2" lat="30.5090" lon="114.3000"/>
  <node id="3" lat="30.5180" lon="114.3000"/>
  <node id="4" lat="30.5090" lon="114.3100"/>
  <node id="5" lat="30.5100" lon="114.3200"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="Jiefang Avenue"/><tag k="maxspeed" v="60"/></way>
  <way id="11"><nd ref="2"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/><tag k="bridge" v="yes"/></way>
  <way id="12"><nd ref="4"/><nd ref="5"/><tag k="highway" v="footway"/></way>
  <way id="13"><nd ref="3"/><nd ref="4"/><tag k="highway" v="secondary"/><tag k="oneway" v="-1"/>
    <tag k="maxspeed" v="25 mph"/></way>
</osm>
"""


def test_osm_xml(tmp_path):
    p = tmp_path / "small.osm"
    p.write_text(OSM)
    g = read_roads(p).graph
    assert set(g.nodes) == {"1", "2", "3", "4"}  # the footway's node 5 is not used
    assert g.has_edge("1", "2") and g.has_edge("2", "1")
    assert g.has_edge("2", "4") and not g.has_edge("4", "2")
    assert g.has_edge("4", "3") and not g.has_edge("3", "4")  # oneway=-1
    assert g["1"]["2"]["name"] == "Jiefang Avenue" and g["1"]["2"]["speed_kmh"] == 60
    assert g["2"]["4"]["kind"] == "bridge"
    assert g["4"]["3"]["speed_kmh"] == pytest.approx(25 * 1.609344)
    assert g["1"]["2"]["length_m"] == pytest.approx(1000.8, abs=1)


def test_geojson_lines_join_and_snap(tmp_path):
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "A", "highway": "primary"},
         "geometry": {"type": "LineString", "coordinates": [[114.30, 30.50], [114.31, 30.50]]}},
        {"type": "Feature", "properties": {"name": "B", "oneway": "yes", "maxspeed": "40"},
         "geometry": {"type": "LineString", "coordinates": [[114.31, 30.50], [114.31, 30.51]]}},
        # starts 0.2 m from the end of B: joined by the snapping tolerance
        {"type": "Feature", "properties": {"name": "C"},
         "geometry": {"type": "MultiLineString", "coordinates": [[[114.310002, 30.51], [114.32, 30.51]]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [114.3, 30.5]}},
    ]}
    p = tmp_path / "r.geojson"
    p.write_text(json.dumps(fc))
    net = read_roads(p)
    g = net.graph
    assert g.number_of_nodes() == 4
    assert g.number_of_edges() == 2 + 1 + 2
    assert nx.has_path(g, "n0", "n3") and not nx.has_path(g, "n3", "n0")  # B is one-way
    assert {d["speed_kmh"] for _, _, d in g.edges(data=True) if d["name"] == "B"} == {40.0}
    assert read_roads(p, tolerance_m=0).graph.number_of_nodes() == 5


def test_csv_and_graphml_round_trip(tmp_path):
    sc = examples.ring_road()
    net = RoadNetwork.from_tables(sc.road_nodes, sc.roads)
    write_csv_pair(net, tmp_path / "csv")
    again = read_roads(tmp_path / "csv")
    write_graphml(net, tmp_path / "n.graphml")
    gml = read_roads(tmp_path / "n.graphml")
    for other in (again, gml):
        assert set(other.graph.edges) == set(net.graph.edges)
        for a, b, d in net.graph.edges(data=True):
            o = other.graph[a][b]
            assert (o["length_m"], o["speed_kmh"], o["name"], o["kind"]) == (
                d["length_m"], d["speed_kmh"], d["name"], d["kind"])


def _errors(exc: RoadFileError) -> list[str]:
    return [str(p) for p in exc.report.errors]


def _coded(exc: RoadFileError) -> set[tuple]:
    return {(p.file, p.row, p.column, p.code, p.value) for p in exc.report.errors}


def test_malformed_csv_pair(tmp_path):
    """The CSV pair is checked by the scenario validator: its coded problems, every one at once."""
    (tmp_path / "road_nodes.csv").write_text("node_id,lat,lon\na,30.5,114.3\nb,30.6,114.3\nb,30.6,114.3\n")
    (tmp_path / "roads.csv").write_text(
        "u,v,length_m,speed_kmh\na,b,100,30\na,zz,100,30\na,b,0,30\nb,b,10,30\na,b,-5,x\n")
    with pytest.raises(RoadFileError) as e:
        read_roads(tmp_path)
    assert _coded(e.value) == {
        ("road_nodes.csv", 3, "node_id", "duplicate_key", "b"),
        ("road_nodes.csv", 4, "node_id", "duplicate_key", "b"),
        ("roads.csv", 3, "v", "unknown_ref", "zz"),
        ("roads.csv", 4, "length_m", "out_of_bounds", "0"),
        ("roads.csv", 5, "v", "self_loop", "b"),
        ("roads.csv", 6, "length_m", "out_of_bounds", "-5"),
        ("roads.csv", 6, "speed_kmh", "not_number", "x"),
    }
    errs = _errors(e.value)
    assert "roads.csv:4: length_m: must be > 0 (got 0)" in errs
    assert "roads.csv:5: v: self-loop: u and v are the same node (got b)" in errs
    zh = {p.render("zh") for p in e.value.report.errors}
    assert "roads.csv:6: speed_kmh: 不是数字 (原值 x)" in zh
    (tmp_path / "roads.csv").write_text("u,v,len\na,b,1\n")
    with pytest.raises(RoadFileError) as e:
        read_roads(tmp_path)
    assert ("roads.csv", 1, "length_m", "column_missing", None) in _coded(e.value)


def test_csv_pair_problems_match_the_scenario_validator(tmp_path):
    """Road files alone and the same files in a scenario folder give the same problems."""
    from allocator.scenario import save
    from allocator.validate import validate

    sc = examples.ring_road()
    save(sc, tmp_path / "sc")
    roads = (tmp_path / "sc" / "roads.csv").read_text(encoding="utf-8").splitlines()
    roads[1] = roads[1].replace(roads[1].split(",")[1], "nowhere", 1)
    roads.append(roads[2].replace(",", ",-", 2).replace(",-", ",", 1))
    (tmp_path / "sc" / "roads.csv").write_text("\n".join(roads) + "\n", encoding="utf-8")
    with pytest.raises(RoadFileError) as e:
        read_roads(tmp_path / "sc")
    mine = {(p.file, p.row, p.column, p.code, p.value) for p in e.value.report.problems}
    full = {(p.file, p.row, p.column, p.code, p.value) for p in validate(tmp_path / "sc").problems
            if p.file in ("roads.csv", "road_nodes.csv") and p.code not in ("rule_unknown_edge",)}
    assert mine and mine == full


def test_from_tables_checks_through_the_schema():
    sc = examples.ring_road()
    roads = sc.roads.copy()
    roads.loc[0, "speed_kmh"] = 0.0
    roads.loc[1, "v"] = "nowhere"
    with pytest.raises(RoadFileError) as e:
        RoadNetwork.from_tables(sc.road_nodes, roads)
    assert {(p.row, p.column, p.code) for p in e.value.report.errors} == {
        (2, "speed_kmh", "out_of_bounds"), (3, "v", "unknown_ref")}
    # a typed scenario table edited in place is checked again by travel_times
    bad = examples.ring_road()
    bad.roads.loc[0, "length_m"] = -1.0
    with pytest.raises(RoadFileError):
        travel_times(bad)


def test_malformed_line_files(tmp_path):
    (tmp_path / "roads.csv").write_text('wkt,name\n"LINESTRING(114.3 30.5, 114.31 30.5)",a\n"LINESTRING(114.3 30.5,",b\n')
    with pytest.raises(RoadFileError) as e:
        read_roads(tmp_path / "roads.csv")
    assert _errors(e.value)[0].startswith("roads.csv:3: wkt: not valid WKT (got LINESTRING(114.3 30.5,")
    assert e.value.report.errors[0].code == "wkt_invalid"
    p = tmp_path / "bad.geojson"
    p.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
                 ' "geometry": {"type": "LineString", "coordinates": [[114.3, 30.5]]}}]}')
    with pytest.raises(RoadFileError) as e:
        read_roads(p)
    assert "bad.geojson:1: coordinates: a line needs at least 2 valid lon/lat positions" in _errors(e.value)[0]
    assert e.value.report.errors[0].code == "road_line_too_short"
    (tmp_path / "x.osm").write_text("<osm><way id='1'><nd ref='9'/><nd ref='8'/><tag k='highway' v='primary'/></way>")
    with pytest.raises(RoadFileError) as e:
        read_roads(tmp_path / "x.osm")
    assert "malformed XML" in _errors(e.value)[0]
    assert e.value.report.errors[0].code == "road_osm_malformed"


def test_shapefile_without_lines(tmp_path):
    import shapefile

    with shapefile.Writer(str(tmp_path / "pts"), shapeType=shapefile.POINT) as w:
        w.field("name", "C")
        w.point(114.3, 30.5)
        w.record("p")
    with pytest.raises(RoadFileError) as e:
        read_roads(tmp_path / "pts.shp")
    assert _errors(e.value) == ["pts.shp: shape type: a road shapefile must hold lines (got POINT)"]
    with shapefile.Writer(str(tmp_path / "empty"), shapeType=shapefile.POLYLINE) as w:
        w.field("name", "C")
    with pytest.raises(RoadFileError) as e:
        read_roads(tmp_path / "empty.shp")
    assert "has no lines" in _errors(e.value)[0]
    assert [p.code for p in e.value.report.errors] == ["road_shapefile_empty"]


def test_invalid_traffic_control_is_checked_through_the_schema():
    df = pd.DataFrame([
        {"rule_id": "Z", "kind": "restricted_zone", "area_wkt": "POLYGON((0 0, 1 0", "permits": ()},
        {"rule_id": "C", "kind": "closure", "delay_min": -1.0, "permits": ()},
        {"rule_id": "X", "kind": "detour", "road": "A", "permits": ()},
        {"rule_id": "W", "kind": "closure", "road": "A", "start": "2020-02-10", "end": "2020-02-01", "permits": ()},
    ])
    with pytest.raises(RoadFileError) as e:
        TrafficControl.from_frame(df)
    got = {(p.row, p.column, p.code) for p in e.value.report.errors}
    assert got == {(2, "area_wkt", "wkt_invalid"), (3, "delay_min", "out_of_bounds"), (3, "road", "rule_needs_road"),
                   (4, "kind", "not_in_choices"), (5, "end", "end_before_start")}
    assert "traffic_control.csv:2: area_wkt: not valid WKT (got POLYGON((0 0, 1 0)" in _errors(e.value)
    # a valid table as text and typed gives the same rules
    ok = pd.DataFrame([{"rule_id": "C", "kind": "checkpoint", "road": "A", "delay_min": "5", "permits": "medical;supply"}])
    tc = TrafficControl.from_frame(ok)
    assert tc["C"].permits == frozenset({"medical", "supply"}) and tc["C"].delay_min == 5.0
    assert tc["C"].start is None and tc["C"].end is None


def test_roads_import_command(tmp_path, capsys):
    from allocator.cli import main

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "road_nodes.csv").write_text("node_id,lat,lon\na,30.5,114.3\n")
    (tmp_path / "bad" / "roads.csv").write_text("u,v,length_m,speed_kmh\na,q,1,30\n")
    assert main(["roads", "import", str(tmp_path / "bad"), "--out", str(tmp_path / "o")]) == 2
    assert "roads.csv:2: v: unknown node_id (got q)" in capsys.readouterr().err
    p = tmp_path / "small.osm"
    p.write_text(OSM)
    assert main(["roads", "import", str(p), "--out", str(tmp_path / "o")]) == 0
    assert len(pd.read_csv(tmp_path / "o" / "road_nodes.csv")) == 4


def test_routes_command(tmp_path):
    from allocator.cli import main
    from allocator.scenario import save

    save(examples.ring_road(), tmp_path / "s")
    assert main(["routes", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--time-limit", "0.5"]) == 0
    r = pd.read_csv(tmp_path / "o" / "routes.csv", keep_default_na=False).set_index("site_id")
    assert r.at["H2", "checkpoints"] == "CP1" and r.at["H2", "travel_min"] == 18.0
    assert (tmp_path / "o" / "trips.csv").is_file()


# --------------------------------------------------------------------------- trips


def _check_trips(sc, ship, out, travel):
    t, man = out.trips, out.manifest
    veh = sc.vehicles.set_index("vehicle_id")
    # exactly the shipments: planned + unplanned lines add up per (lot, site, item)
    key = ["lot_id", "site_id", "item_id"]
    got = pd.concat([man[key + ["quantity"]], out.unplanned[key + ["quantity"]]]).groupby(key).quantity.sum()
    want = ship.groupby(key).quantity.sum()
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_dtype=False)
    w = dict(zip(sc.items.item_id, sc.items.unit_weight_kg))
    v = dict(zip(sc.items.item_id, sc.items.unit_volume_l.fillna(0) / 1000))
    for (vid, trip), g in t.groupby(["vehicle_id", "trip"]):
        m = man[(man.vehicle_id == vid) & (man.trip == trip)]
        kg = float((m.quantity * m.item_id.map(w)).sum())
        m3 = float((m.quantity * m.item_id.map(v)).sum())
        assert kg == pytest.approx(g.load_kg.iloc[0])
        assert kg <= veh.at[vid, "capacity_kg"] + 1e-6 and m3 <= veh.at[vid, "capacity_m3"] + 1e-6
        assert g.trip_depart.iloc[0] >= veh.at[vid, "available_from"]
        assert g.trip_return.iloc[0] <= veh.at[vid, "available_to"]
        assert list(g.stop) == list(range(1, len(g) + 1))
        assert (g.arrival.diff().dropna() > pd.Timedelta(0)).all()
    # trips of one vehicle do not overlap
    for _vid, g in t.drop_duplicates(["vehicle_id", "trip"]).groupby("vehicle_id"):
        assert (g.trip_depart.iloc[1:].to_numpy() >= g.trip_return.iloc[:-1].to_numpy()).all()
    # Q1 is in the restricted zone: only V1 (permit) may go there
    assert set(t.loc[t.site_id == "Q1", "vehicle_id"]) <= {"V1"}


@pytest.mark.parametrize("method", ["ortools", "greedy"])
def test_trips_capacity_availability_and_exact_delivery(method):
    sc = examples.ring_road()
    travel = travel_times(sc)
    ship = pd.DataFrame({
        "lot_id": ["L1", "L2", "L1", "L2"], "depot_id": "D1", "site_id": ["H1", "H2", "Q1", "H1"],
        "item_id": ["n95", "suit", "n95", "suit"], "quantity": [20000, 5000, 3000, 800]})
    out = plan_trips(sc, ship, travel, time_limit_s=0.5, method=method)
    assert out.unplanned.empty
    assert (out.trips.site_id == "H2").sum() >= 2  # 2,500 kg of suits is split over trucks
    _check_trips(sc, ship, out, travel)


def test_trips_tier_one_first_when_time_is_short():
    sc = examples.ring_road()
    veh = sc.vehicles.copy()
    veh["available_to"] = pd.Timestamp("2020-02-10T08:50:00")
    veh["capacity_kg"] = 400.0
    sc = sc.replace(vehicles=veh)
    travel = travel_times(sc)
    # 50 minutes, two trucks of 400 kg: H2 (350 kg) takes one truck 46 min (checkpoint),
    # H1 (500 kg) takes two 18-min trips of the other; Q1 (tier 3) has to wait
    ship = pd.DataFrame({"lot_id": "L2", "depot_id": "D1", "site_id": ["H1", "Q1", "H2"],
                         "item_id": "suit", "quantity": [1000, 800, 700]})
    out = plan_trips(sc, ship, travel, time_limit_s=0.5)
    _check_trips(sc, ship, out, travel)
    assert set(out.trips.site_id) == {"H1", "H2"}
    assert set(out.unplanned.site_id) == {"Q1"}
    greedy = plan_trips(sc, ship, travel, method="greedy")
    _check_trips(sc, ship, greedy, travel)
    # tier-1 drops are planned before any lower tier gets a truck
    first_low = greedy.trips.loc[greedy.trips.site_id == "Q1", "trip_depart"].min()
    tier1 = greedy.trips[greedy.trips.site_id != "Q1"]
    assert pd.isna(first_low) or (tier1.trip_depart <= first_low).all()
