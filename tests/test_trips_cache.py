"""Travel-time caches follow the tables they describe (issue 9 item 6: no id()-keyed cache).

Editing a scenario's tables in place (a notebook what-if) must change the next
``travel_times``; the expected minutes are worked out by hand from the ring-road
example's docstring (30 km/h = 2 min per km).
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocator import examples
from allocator.network import travel_times
from allocator.network.paths import network_of, table_fingerprint


def test_halving_speed_in_place_doubles_the_next_travel_times():
    sc = examples.ring_road()
    before = travel_times(sc).minutes
    assert before.at["D1", "H1"] == pytest.approx(4.0)  # the ring: 2 x 1 km at 30 km/h
    assert before.at["D1", "H2"] == pytest.approx(18.0)  # ring 4 + bridge 4 + checkpoint 10
    sc.roads["speed_kmh"] = sc.roads["speed_kmh"] / 2  # in place, same DataFrame object
    after = travel_times(sc).minutes
    assert after.at["D1", "H1"] == pytest.approx(8.0)
    assert after.at["D1", "H2"] == pytest.approx(26.0)  # 8 + 8 driving, the checkpoint's 10 unchanged
    # and back: the first answer again, not a stale second one
    sc.roads["speed_kmh"] = sc.roads["speed_kmh"] * 2
    assert travel_times(sc).minutes.at["D1", "H1"] == pytest.approx(4.0)


def test_editing_one_cell_of_roads_or_nodes_builds_a_new_network():
    sc = examples.ring_road()
    net = network_of(sc)
    assert network_of(sc) is net  # unchanged tables: cached
    sc.roads.loc[sc.roads.name == "Lane", "length_m"] = 3000.0
    net2 = network_of(sc)
    assert net2 is not net
    assert travel_times(sc).minutes.at["D1", "Q1"] == pytest.approx(8.0)  # ring 2 + lane 6
    sc.road_nodes.loc[0, "lat"] = 30.4999
    assert network_of(sc) is not net2


def test_equal_content_in_another_object_shares_the_network():
    a, b = examples.ring_road(), examples.ring_road()
    assert table_fingerprint(a.roads) == table_fingerprint(b.roads)
    assert network_of(a) is network_of(b)
    b.roads.loc[0, "name"] = "Renamed"
    assert table_fingerprint(a.roads) != table_fingerprint(b.roads)


def test_traffic_control_edits_in_place_change_the_next_travel_times():
    sc = examples.ring_road()
    assert travel_times(sc).minutes.at["D1", "H2"] == pytest.approx(18.0)
    tc = sc.traffic_control
    tc.loc[tc.rule_id == "CP1", "delay_min"] = 25.0  # a slower checkpoint
    assert travel_times(sc).minutes.at["D1", "H2"] == pytest.approx(33.0)
    tc.loc[tc.rule_id == "T1", "start"] = pd.Timestamp("2020-03-01T00:00:00")  # the tunnel reopens today
    m = travel_times(sc).minutes
    assert m.at["D1", "H1"] == pytest.approx(1.5)
    assert m.at["D1", "H2"] == pytest.approx(1.5 + 4 + 25)
    tc.loc[tc.rule_id == "R1", "start"] = pd.Timestamp("2020-02-01T00:00:00")  # the ring closes now
    m = travel_times(sc).minutes
    assert m.at["D1", "Q1"] == float("inf")  # Q1's lane starts at N1, on the closed ring
    assert m.at["D1", "H1"] == pytest.approx(1.5)
