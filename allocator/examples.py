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


# --------------------------------------------------------------------------- allocation (issue 3)


def earmark_vs_tier() -> Scenario:
    """A donation earmarked for a quarantine site stays there while a designated hospital is short.

    Depot D1 holds 300 reserve suits and 200 donated suits earmarked (by site) for Q1.
    H1 (tier 1) needs 400, Q1 (tier 3) needs 200: H1 gets the 300 reserve suits and
    is short 100 (``earmarked``); Q1 gets its 200 donated suits.
    """
    return from_tables(
        {
            "items": _items(("suit", "Medical protective suit", "suit", "medical", 0.5)),
            "sites": pd.DataFrame([
                _site("H1", "designated_hospital", 30.60, 114.27),
                _site("Q1", "quarantine_site", 30.55, 114.30),
            ]),
            "depots": pd.DataFrame([_depot("D1", 30.55, 114.23)]),
            "donations": pd.DataFrame([
                {"donation_id": "DON_Q", "donor": "Residents' committee", "received": "2020-02-05",
                 "earmark_site_id": "Q1"},
            ]),
            "stock": pd.DataFrame([
                {"lot_id": "L_RES", "depot_id": "D1", "item_id": "suit", "quantity": 300},
                {"lot_id": "L_DON", "depot_id": "D1", "item_id": "suit", "quantity": 200, "donation_id": "DON_Q"},
            ]),
            "needs": pd.DataFrame([
                {"site_id": "H1", "item_id": "suit", "quantity": 400},
                {"site_id": "Q1", "item_id": "suit", "quantity": 200},
            ]),
        },
        name="earmark-vs-tier",
        as_of=AS_OF,
    )


def capacity_limited(capacity_kg: float = 3.0) -> Scenario:
    """A depot full of respirators whose dispatch capacity (3 kg = 300 respirators) stops it.

    H1 needs 800, the depot holds 2,000: H1 gets 300 and the reason of its shortage is ``capacity``.
    """
    return from_tables(
        {
            "items": _items(("n95", "N95 respirator", "respirator", "medical", 0.01)),
            "sites": pd.DataFrame([_site("H1", "designated_hospital", 30.60, 114.27)]),
            "depots": pd.DataFrame([_depot("D1", 30.55, 114.23, dispatch_capacity_kg=capacity_kg)]),
            "stock": pd.DataFrame([{"lot_id": "L1", "depot_id": "D1", "item_id": "n95", "quantity": 2000}]),
            "needs": pd.DataFrame([{"site_id": "H1", "item_id": "n95", "quantity": 800}]),
        },
        name="capacity-limited",
        as_of=AS_OF,
    )


def packs(supply: int = 500) -> Scenario:
    """Gloves in boxes of 100: H1 (tier 1) needs 250, Q1 (tier 3) needs 130.

    With 500 in stock the whole-unit allocation 250 / 130 rounds up to whole boxes
    300 / 200; with 400 in stock there are not enough units left to round up either.
    """
    items = pd.DataFrame([{"item_id": "gloves", "name": "Examination gloves (box)", "category": "gloves",
                           "unit_weight_kg": 0.01, "pack_size": 100}])
    return from_tables(
        {
            "items": items,
            "sites": pd.DataFrame([
                _site("H1", "designated_hospital", 30.60, 114.27),
                _site("Q1", "quarantine_site", 30.55, 114.30),
            ]),
            "depots": pd.DataFrame([_depot("D1", 30.55, 114.23)]),
            "stock": pd.DataFrame([{"lot_id": "L1", "depot_id": "D1", "item_id": "gloves", "quantity": supply}]),
            "needs": pd.DataFrame([
                {"site_id": "H1", "item_id": "gloves", "quantity": 250},
                {"site_id": "Q1", "item_id": "gloves", "quantity": 130},
            ]),
        },
        name="packs",
        as_of=AS_OF,
    )


def fefo() -> Scenario:
    """Two lots of masks in one depot: the one expiring first ships first; donated before reserve.

    H1 needs 300; L_LATE (reserve, expires 2021) 500, L_SOON (reserve, expires 2020-06) 200,
    L_DON (donated, no expiry) 100: H1 gets L_SOON's 200 and then 100 from L_LATE.
    """
    return from_tables(
        {
            "items": _items(("mask", "Surgical mask", "mask", "medical", 0.005)),
            "sites": pd.DataFrame([_site("H1", "designated_hospital", 30.60, 114.27)]),
            "depots": pd.DataFrame([_depot("D1", 30.55, 114.23)]),
            "donations": pd.DataFrame([{"donation_id": "DON_M", "donor": "anonymous", "received": "2020-02-02"}]),
            "stock": pd.DataFrame([
                {"lot_id": "L_LATE", "depot_id": "D1", "item_id": "mask", "quantity": 500, "expires": "2021-01-01"},
                {"lot_id": "L_SOON", "depot_id": "D1", "item_id": "mask", "quantity": 200, "expires": "2020-06-01"},
                {"lot_id": "L_DON", "depot_id": "D1", "item_id": "mask", "quantity": 100, "donation_id": "DON_M"},
            ]),
            "needs": pd.DataFrame([{"site_id": "H1", "item_id": "mask", "quantity": 300}]),
        },
        name="fefo",
        as_of=AS_OF,
    )


ALL.update({"earmark_vs_tier": earmark_vs_tier, "capacity_limited": capacity_limited, "packs": packs, "fefo": fefo})
