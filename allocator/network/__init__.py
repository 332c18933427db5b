"""Roads, traffic control, travel times, re-planning and truck trips.

- :mod:`~allocator.network.model`: :class:`RoadNetwork`, a networkx DiGraph with an array view;
- :mod:`~allocator.network.tables`: road_nodes, roads and traffic_control checked through the scenario
  schema (the one validator), :class:`RoadFileError` and the road readers' problem codes;
- :mod:`~allocator.network.io`: readers (CSV pair, GeoJSON, OSM XML/PBF, shapefile, GraphML) and writers;
- :mod:`~allocator.network.control`: closures, checkpoints, restricted zones, permits, time windows;
- :mod:`~allocator.network.paths`: :func:`travel_times`, :func:`travel_matrix`, :class:`Travel`;
- :mod:`~allocator.network.replan`: :func:`replan` after a rule is added or lifted (the full plan plus a diff);
- :mod:`~allocator.network.trips`: :func:`~allocator.network.trips.round_trips` (the shared plan) over
  :func:`~allocator.network.trips.plan_trips`, truck trips with OR-Tools and a local search across waves.
"""

from allocator.network.control import Effect, Rule, TrafficControl, vehicle_classes
from allocator.network.io import (
    RoadFileError,
    read_csv_pair,
    read_geojson,
    read_osm,
    read_pbf,
    read_roads,
    read_shapefile,
    write_csv_pair,
    write_graphml,
)
from allocator.network.model import RoadNetwork
from allocator.network.paths import Travel, travel_for, travel_matrix, travel_times

__all__ = [
    "Effect", "Rule", "TrafficControl", "vehicle_classes", "RoadFileError", "read_csv_pair", "read_geojson",
    "read_osm", "read_pbf", "read_roads", "read_shapefile", "write_csv_pair", "write_graphml", "RoadNetwork",
    "Travel", "travel_for", "travel_matrix", "travel_times",
]
