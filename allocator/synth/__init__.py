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

import numpy as np
import pandas as pd

from allocator.errors import InvalidArgumentError
from allocator.scenario import Scenario, from_tables
from allocator.synth.roads import (
    MIN_EXTENT_KM,
    SPEED_KMH,
    TARGET_SPACING_KM,
    WUHAN_BBOX,
    River,
    _build_grid,
    _grid_tables,
    _traffic_control,
    city_bbox,
    default_rivers,
    river_crossings,
    rivers_of,
    rivers_wkt,
    road_grid,
)
from allocator.synth.tables import (
    CATALOGUE,
    KIND_SHARE,
    SUBSTITUTES,
    ItemSpec,
    _capacities,
    _catalogue,
    _depots,
    _donations,
    _lots,
    _needs,
    _sites,
    _vehicles,
)

__all__ = [
    "WUHAN_BBOX", "TARGET_SPACING_KM", "MIN_EXTENT_KM", "SPEED_KMH", "KIND_SHARE", "CATALOGUE", "SUBSTITUTES",
    "ItemSpec", "River", "city_bbox", "default_rivers", "road_grid", "river_crossings", "rivers_wkt", "rivers_of",
    "generate",
]


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
