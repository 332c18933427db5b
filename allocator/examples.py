"""Small scenarios as functions, shared by tests, documentation and notebooks.

Each returns a checked :class:`~allocator.scenario.Scenario` small enough to
verify by hand.
"""

from __future__ import annotations

import pandas as pd

from allocator.scenario import Scenario, from_tables

AS_OF = "2020-02-10T08:00:00"


def _items(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "name", "category", "grade", "unit_weight_kg"])


def _site(site_id: str, kind: str, lat: float, lon: float, **kw: object) -> dict:
    return {"site_id": site_id, "name": site_id, "kind": kind, "lat": lat, "lon": lon, **kw}


def _depot(depot_id: str, lat: float, lon: float, **kw: object) -> dict:
    return {"depot_id": depot_id, "name": depot_id, "lat": lat, "lon": lon, **kw}


def two_hospitals(supply: int = 1000, need: int = 800) -> Scenario:
    """Two equal designated hospitals sharing one depot's respirators.

    With the defaults each needs 800 and 1,000 are in stock: fair shares are 500 each.
    """
    return from_tables(
        {
            "items": _items(("n95", "N95 respirator", "respirator", "medical", 0.01)),
            "sites": pd.DataFrame(
                [
                    _site("H1", "designated_hospital", 30.60, 114.27),
                    _site("H2", "designated_hospital", 30.60, 114.29),
                ]
            ),
            "depots": pd.DataFrame([_depot("D1", 30.55, 114.23)]),
            "stock": pd.DataFrame(
                [{"lot_id": "L1", "depot_id": "D1", "item_id": "n95", "quantity": supply}]
            ),
            "needs": pd.DataFrame(
                [
                    {"site_id": "H1", "item_id": "n95", "quantity": need},
                    {"site_id": "H2", "item_id": "n95", "quantity": need},
                ]
            ),
        },
        name="two-hospitals",
        as_of=AS_OF,
    )


def three_tiers(supply: int = 1000) -> Scenario:
    """1,000 respirators for a designated hospital (800), a backup hospital (500) and a community (300).

    Treatment first gives 800 / 200 / 0.
    """
    return from_tables(
        {
            "items": _items(("n95", "N95 respirator", "respirator", "medical", 0.01)),
            "sites": pd.DataFrame(
                [
                    _site("DH", "designated_hospital", 30.6692, 114.2814),
                    _site("BH", "backup_hospital", 30.5835, 114.2756),
                    _site("CM", "community", 30.5842, 114.2893),
                ]
            ),
            "depots": pd.DataFrame([_depot("EXPO", 30.5489, 114.2376)]),
            "stock": pd.DataFrame(
                [{"lot_id": "L1", "depot_id": "EXPO", "item_id": "n95", "quantity": supply}]
            ),
            "needs": pd.DataFrame(
                [
                    {"site_id": "DH", "item_id": "n95", "quantity": 800},
                    {"site_id": "BH", "item_id": "n95", "quantity": 500},
                    {"site_id": "CM", "item_id": "n95", "quantity": 300},
                ]
            ),
        },
        name="three-tiers",
        as_of=AS_OF,
    )


def grades_and_earmarks() -> Scenario:
    """Civil-grade suits, an earmarked donation, an expired lot and a substitute.

    - ``suit_civil`` may go to the quarantine site, never to the hospitals;
    - donation ``DON1`` (masks) is earmarked to hospital ``H2``;
    - lot ``L_EXP`` of test kits expired before ``as_of``;
    - an N95 respirator may replace a surgical mask (not the reverse).
    """
    items = _items(
        ("mask", "Surgical mask", "mask", "medical", 0.005),
        ("n95", "N95 respirator", "respirator", "medical", 0.01),
        ("suit", "Medical protective suit", "suit", "medical", 0.5),
        ("suit_civil", "Civil protective suit", "suit", "civil", 0.5),
        ("kit", "Nucleic-acid test kit", "test_kit", "medical", 0.2),
    )
    return from_tables(
        {
            "items": items,
            "sites": pd.DataFrame(
                [
                    _site("H1", "designated_hospital", 30.60, 114.27, beds=100, patients=80, staff=150),
                    _site("H2", "designated_hospital", 30.58, 114.28, beds=100, patients=90, staff=150),
                    _site("Q1", "quarantine_site", 30.55, 114.30, beds=200, staff=20),
                ]
            ),
            "depots": pd.DataFrame([_depot("D1", 30.55, 114.23)]),
            "donations": pd.DataFrame(
                [
                    {"donation_id": "DON1", "donor": "Hubei Chamber of Commerce", "received": "2020-02-01",
                     "earmark_site_id": "H2"},
                    {"donation_id": "DON2", "donor": "anonymous", "received": "2020-02-03"},
                ]
            ),
            "stock": pd.DataFrame(
                [
                    {"lot_id": "L_MASK", "depot_id": "D1", "item_id": "mask", "quantity": 500, "donation_id": "DON1"},
                    {"lot_id": "L_N95", "depot_id": "D1", "item_id": "n95", "quantity": 100},
                    {"lot_id": "L_SUIT", "depot_id": "D1", "item_id": "suit", "quantity": 50},
                    {"lot_id": "L_CIVIL", "depot_id": "D1", "item_id": "suit_civil", "quantity": 300, "donation_id": "DON2"},
                    {"lot_id": "L_EXP", "depot_id": "D1", "item_id": "kit", "quantity": 400, "expires": "2020-02-01"},
                ]
            ),
            "needs": pd.DataFrame(
                [
                    {"site_id": "H1", "item_id": "mask", "quantity": 400},
                    {"site_id": "H2", "item_id": "mask", "quantity": 300},
                    {"site_id": "H1", "item_id": "suit", "quantity": 100},
                    {"site_id": "Q1", "item_id": "suit", "quantity": 100},
                    {"site_id": "H1", "item_id": "kit", "quantity": 50},
                ]
            ),
            "substitutes": pd.DataFrame(
                [
                    {"item_id": "mask", "substitute_id": "n95", "ratio": 1},
                    {"item_id": "suit", "substitute_id": "suit_civil", "ratio": 1},
                ]
            ),
        },
        name="grades-and-earmarks",
        as_of=AS_OF,
    )


ALL = {"two_hospitals": two_hospitals, "three_tiers": three_tiers, "grades_and_earmarks": grades_and_earmarks}


def small_city(seed: int = 0) -> Scenario:
    """A small synthetic city from :func:`allocator.synth.generate`: 40 sites, 3 depots, 10 items,
    150 lots, 400 road nodes cut by two rivers, with the traffic control of the day.

    Every tier is populated, some items are short and others ample; big enough to
    exercise every rule, small enough to solve in a blink.
    """
    from allocator import synth

    return synth.generate(sites=40, depots=3, items=10, lots=150, road_nodes=400, seed=seed)


ALL["small_city"] = small_city
