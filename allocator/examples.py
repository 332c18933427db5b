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


def _demand_items() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("mask", "Surgical mask", "mask", "medical", 0.005, "piece"),
            ("n95", "N95 respirator", "respirator", "medical", 0.01, "piece"),
            ("gown", "Isolation gown", "gown", "medical", 0.1, "piece"),
            ("gloves", "Examination gloves", "gloves", "medical", 0.01, "pair"),
            ("goggles", "Goggles or face shield", "eye_protection", "medical", 0.1, "piece"),
            ("suit", "Medical protective suit", "suit", "medical", 0.5, "piece"),
            ("kit", "Nucleic-acid test", "test_kit", "medical", 0.02, "test"),
            ("disinf", "Chlorine disinfectant", "disinfectant", "medical", 1.0, "litre"),
        ],
        columns=["item_id", "name", "category", "grade", "unit_weight_kg", "unit"],
    )


def demand_hospital() -> Scenario:
    """One 100-bed designated hospital with 80 patients and 150 staff on duty, no needs.csv.

    With the shipped norms (``allocator/data/norms.csv``): staff split 80/10/5/5
    into 120 health workers, 15 cleaners, 7.5 lab technicians and 7.5 ambulance
    crew; patients 75/25 into 60 severe and 20 critical. Masks a day:
    120 x 4 + 15 x 4 + 7.5 x 4 + 7.5 x 4 + 80 x 2 = 760. Mask counts on hand:
    2,000 (7 Feb), 3,000 (8 Feb, restocked), 2,240 (9 Feb), 1,520 (10 Feb):
    burn rate (760 + 720) / 2 days = 740 a day, 1,520 / 760 = 2 days of supply,
    and 3 days of cover need 3 x 760 - 1,520 = 760 masks.
    """
    return from_tables(
        {
            "items": _demand_items(),
            "sites": pd.DataFrame(
                [_site("DH100", "designated_hospital", 30.6692, 114.2814, beds=100, patients=80, staff=150)]
            ),
            "depots": pd.DataFrame([_depot("D1", 30.5489, 114.2376)]),
            "stock": pd.DataFrame(
                [{"lot_id": "L1", "depot_id": "D1", "item_id": "mask", "quantity": 10000}]
            ),
            "site_stock": pd.DataFrame(
                [
                    {"site_id": "DH100", "item_id": "mask", "date": d, "on_hand": q}
                    for d, q in (("2020-02-07", 2000), ("2020-02-08", 3000),
                                 ("2020-02-09", 2240), ("2020-02-10", 1520))
                ]
            ),
        },
        name="demand-hospital",
        as_of=AS_OF,
    )


def demand_mixed() -> Scenario:
    """Requested and estimated needs side by side.

    - ``H1`` (designated, 100 beds, 80 patients, 150 staff) sent needs: 500
      respirators (estimate 3 x 120 = 360: fine), 5,000 masks (estimate
      3 x 760 = 2,280: more than 2x, flagged) and 40 antibiotics (no norm);
    - ``S1`` (shelter, 1,000 beds, 800 patients, no staff given: 240 health
      workers and 40 cleaners from the staffing ratios), ``Q1`` (quarantine,
      150 people, 20 staff: 230 masks a day) and ``C1`` (community, 5,000
      residents, 50 workers) sent nothing and get estimates;
    - ``mask_civil`` is a second mask item: estimates go to the medical ``mask``.
    """
    items = pd.concat(
        [
            _demand_items(),
            pd.DataFrame(
                [
                    ("mask_civil", "Civil mask", "mask", "civil", 0.005, "piece"),
                    ("food", "Daily goods pack", "daily_goods", "civil", 2.0, "pack"),
                    ("abx", "Antibiotics (course)", "medicine", "medical", 0.1, "box"),
                ],
                columns=["item_id", "name", "category", "grade", "unit_weight_kg", "unit"],
            ),
        ],
        ignore_index=True,
    )
    return from_tables(
        {
            "items": items,
            "sites": pd.DataFrame(
                [
                    _site("H1", "designated_hospital", 30.6692, 114.2814, beds=100, patients=80, staff=150),
                    _site("S1", "shelter_hospital", 30.5900, 114.2700, beds=1000, patients=800),
                    _site("Q1", "quarantine_site", 30.5500, 114.3000, beds=200, patients=150, staff=20),
                    _site("C1", "community", 30.5700, 114.2500, patients=5000, staff=50),
                ]
            ),
            "depots": pd.DataFrame([_depot("D1", 30.5489, 114.2376)]),
            "stock": pd.DataFrame(
                [
                    {"lot_id": "L1", "depot_id": "D1", "item_id": "mask", "quantity": 20000},
                    {"lot_id": "L2", "depot_id": "D1", "item_id": "n95", "quantity": 2000},
                ]
            ),
            "needs": pd.DataFrame(
                [
                    {"site_id": "H1", "item_id": "n95", "quantity": 500},
                    {"site_id": "H1", "item_id": "mask", "quantity": 5000},
                    {"site_id": "H1", "item_id": "abx", "quantity": 40},
                ]
            ),
        },
        name="demand-mixed",
        as_of=AS_OF,
    )


ALL = {
    "two_hospitals": two_hospitals,
    "three_tiers": three_tiers,
    "grades_and_earmarks": grades_and_earmarks,
    "demand_hospital": demand_hospital,
    "demand_mixed": demand_mixed,
}


def small_city(seed: int = 0) -> Scenario:
    """A small synthetic city from :func:`allocator.synth.generate`: 40 sites, 3 depots, 10 items,
    150 lots, 400 road nodes cut by two rivers, with the traffic control of the day.

    Every tier is populated, some items are short and others ample; big enough to
    exercise every rule, small enough to solve in a blink.
    """
    from allocator import synth

    return synth.generate(sites=40, depots=3, items=10, lots=150, road_nodes=400, seed=seed)


ALL["small_city"] = small_city


def ring_road() -> Scenario:
    """A depot, three sites and a small road network under lockdown traffic control.

    Roads (two-way; 30 km/h = 2 min per km unless said)::

        D1=N0 --Ring Road 1 km-- N1 --Ring Road 1 km-- N3=H1 --Bridge 1 km-- N4 --Bridge 1 km-- N2=H2
          \\                       |                     /
           `--River Tunnel 1.5 km at 60 km/h (1.5 min)--'
                                  N1 --Lane 1 km-- N5=Q1 (inside restricted zone Z1)

    Traffic control at ``as_of`` (2020-02-10 08:00):

    - ``T1`` closes the River Tunnel to everyone (from 2020-01-23): D1->H1 takes the
      ring, 4 min instead of 1.5;
    - ``CP1`` is a checkpoint on the Bridge, 10 min once per pass: D1->H2 is
      4 + 2 + 2 + 10 = 18 min (H2 is reachable only through the checkpoint);
    - ``Z1`` restricts the zone around N5 to permit ``medical``: Q1 is 4 min for a
      vehicle with the permit and unreachable without it;
    - ``R1`` would close the Ring Road but only from 2020-02-20: no effect yet.

    Vehicles of D1: ``V1`` (2,000 kg, 10 m3, permit ``medical``, 08:00-20:00) and
    ``V2`` (1,000 kg, 6 m3, no permit, 08:00-14:00).
    """
    nodes = pd.DataFrame(
        [("N0", 30.500, 114.300), ("N1", 30.509, 114.300), ("N3", 30.509, 114.310),
         ("N4", 30.518, 114.310), ("N2", 30.527, 114.310), ("N5", 30.518, 114.300)],
        columns=["node_id", "lat", "lon"],
    )
    roads = pd.DataFrame(
        [("N0", "N1", 1000, 30, "Ring Road", "road"), ("N1", "N3", 1000, 30, "Ring Road", "road"),
         ("N0", "N3", 1500, 60, "River Tunnel", "tunnel"), ("N3", "N4", 1000, 30, "Bridge", "bridge"),
         ("N4", "N2", 1000, 30, "Bridge", "bridge"), ("N1", "N5", 1000, 30, "Lane", "road")],
        columns=["u", "v", "length_m", "speed_kmh", "name", "kind"],
    )
    zone = "POLYGON((114.298 30.516, 114.302 30.516, 114.302 30.520, 114.298 30.520, 114.298 30.516))"
    control = pd.DataFrame(
        [
            {"rule_id": "T1", "kind": "closure", "road": "River Tunnel", "start": "2020-01-23T10:00:00"},
            {"rule_id": "CP1", "kind": "checkpoint", "road": "Bridge", "delay_min": 10},
            {"rule_id": "Z1", "kind": "restricted_zone", "area_wkt": zone, "permits": "medical"},
            {"rule_id": "R1", "kind": "closure", "road": "Ring Road", "start": "2020-02-20T00:00:00"},
        ]
    )
    vehicles = pd.DataFrame(
        [
            {"vehicle_id": "V1", "depot_id": "D1", "capacity_kg": 2000, "capacity_m3": 10, "permits": "medical",
             "available_from": "2020-02-10T08:00:00", "available_to": "2020-02-10T20:00:00"},
            {"vehicle_id": "V2", "depot_id": "D1", "capacity_kg": 1000, "capacity_m3": 6, "permits": "",
             "available_from": "2020-02-10T08:00:00", "available_to": "2020-02-10T14:00:00"},
        ]
    )
    items = pd.DataFrame(
        [("n95", "N95 respirator", "respirator", "medical", 0.01, 0.1),
         ("suit", "Medical protective suit", "suit", "medical", 0.5, 4.0)],
        columns=["item_id", "name", "category", "grade", "unit_weight_kg", "unit_volume_l"],
    )
    return from_tables(
        {
            "items": items,
            "sites": pd.DataFrame(
                [
                    _site("H1", "designated_hospital", 30.509, 114.310),
                    _site("H2", "designated_hospital", 30.527, 114.310),
                    _site("Q1", "quarantine_site", 30.518, 114.300),
                ]
            ),
            "depots": pd.DataFrame([_depot("D1", 30.500, 114.300)]),
            "stock": pd.DataFrame(
                [{"lot_id": "L1", "depot_id": "D1", "item_id": "n95", "quantity": 20000},
                 {"lot_id": "L2", "depot_id": "D1", "item_id": "suit", "quantity": 3000}]
            ),
            "needs": pd.DataFrame(
                [{"site_id": "H1", "item_id": "n95", "quantity": 8000},
                 {"site_id": "H2", "item_id": "suit", "quantity": 1500},
                 {"site_id": "Q1", "item_id": "n95", "quantity": 3000}]
            ),
            "road_nodes": nodes,
            "roads": roads,
            "traffic_control": control,
            "vehicles": vehicles,
        },
        name="ring-road",
        as_of=AS_OF,
    )


ALL["ring_road"] = ring_road


def donated_city() -> Scenario:
    """Two hospitals, a quarantine hotel and two depots with donated lots, roads and traffic control.

    Built to exercise the database and the donation ledger: every optional
    table is given (roads, traffic control, vehicles, site stock), donations
    carry earmarks and a donor's choice to stay anonymous (extra column
    ``publish_name``), and stock.csv has an extra column (``pallet``).

    - ``DON_A`` (Wuhan Red Cross, named): 1,000 masks in lot ``LA1`` at ``EXPO``;
    - ``DON_B`` (a company that chose ``publish_name = false``): 200 suits in ``LB1``
      at ``EXPO`` and 100 in ``LB2`` at ``AIRPORT``, earmarked to hospitals;
    - ``LR1``: 500 reserve respirators at ``AIRPORT`` (not a donation).
    """
    nodes = pd.DataFrame(
        [("n1", 30.549, 114.238), ("n2", 30.584, 114.276), ("n3", 30.669, 114.281),
         ("n4", 30.604, 114.321), ("n5", 30.775, 114.213)],
        columns=["node_id", "lat", "lon"],
    )
    roads = pd.DataFrame(
        [("n1", "n2", 5200.0, 40.0, False, "Jiefang Ave", "road"),
         ("n2", "n3", 9800.0, 50.0, False, "Second Ring", "road"),
         ("n2", "n4", 4300.0, 40.0, False, "Second Bridge", "bridge"),
         ("n5", "n3", 11000.0, 60.0, True, "Airport Expy", "highway")],
        columns=["u", "v", "length_m", "speed_kmh", "oneway", "name", "kind"],
    )
    return from_tables(
        {
            "items": _items(
                ("mask", "Surgical mask", "mask", "medical", 0.005),
                ("suit", "Medical protective suit", "suit", "medical", 0.5),
                ("n95", "N95 respirator", "respirator", "medical", 0.01),
            ),
            "sites": pd.DataFrame(
                [
                    _site("JYT", "designated_hospital", 30.6692, 114.2814, node_id="n3", beds=800, name_zh="金银潭医院"),
                    _site("UNION", "designated_hospital", 30.5835, 114.2756, node_id="n2", beds=500),
                    _site("HOTEL7", "quarantine_site", 30.6044, 114.3206, node_id="n4", district="Wuchang"),
                ]
            ),
            "depots": pd.DataFrame(
                [_depot("EXPO", 30.549, 114.238, node_id="n1", dispatch_capacity_kg=5000.0),
                 _depot("AIRPORT", 30.775, 114.213, node_id="n5")]
            ),
            "donations": pd.DataFrame(
                [
                    {"donation_id": "DON_A", "donor": "Wuhan Red Cross", "received": "2020-02-05",
                     "note": "via Expo hub", "publish_name": "true"},
                    {"donation_id": "DON_B", "donor": "Example Textiles Co.", "received": "2020-02-07",
                     "earmark_kind": "designated_hospital;backup_hospital", "publish_name": "false"},
                ]
            ),
            "stock": pd.DataFrame(
                [
                    {"lot_id": "LA1", "depot_id": "EXPO", "item_id": "mask", "quantity": 1000,
                     "donation_id": "DON_A", "pallet": "P-01"},
                    {"lot_id": "LB1", "depot_id": "EXPO", "item_id": "suit", "quantity": 200,
                     "donation_id": "DON_B", "expires": "2022-12-31", "pallet": "P-02"},
                    {"lot_id": "LB2", "depot_id": "AIRPORT", "item_id": "suit", "quantity": 100,
                     "donation_id": "DON_B", "pallet": ""},
                    {"lot_id": "LR1", "depot_id": "AIRPORT", "item_id": "n95", "quantity": 500,
                     "source": "reserve", "pallet": "R-9"},
                ]
            ),
            "needs": pd.DataFrame(
                [
                    {"site_id": "JYT", "item_id": "mask", "quantity": 600},
                    {"site_id": "UNION", "item_id": "mask", "quantity": 300},
                    {"site_id": "HOTEL7", "item_id": "mask", "quantity": 200},
                    {"site_id": "JYT", "item_id": "suit", "quantity": 150},
                    {"site_id": "UNION", "item_id": "suit", "quantity": 100},
                    {"site_id": "JYT", "item_id": "n95", "quantity": 300},
                ]
            ),
            "substitutes": pd.DataFrame([{"item_id": "mask", "substitute_id": "n95", "ratio": 1}]),
            "road_nodes": nodes,
            "roads": roads,
            "traffic_control": pd.DataFrame(
                [{"rule_id": "TC1", "kind": "checkpoint", "road": "Second Bridge", "delay_min": 15.0,
                  "start": "2020-01-25T00:00:00"},
                 {"rule_id": "TC2", "kind": "closure", "u": "n2", "v": "n3", "permits": "supply;medical",
                  "start": "2020-01-26", "end": "2020-04-08"}]
            ),
            "vehicles": pd.DataFrame(
                [{"vehicle_id": "T1", "depot_id": "EXPO", "capacity_kg": 2000.0, "permits": "supply"},
                 {"vehicle_id": "T2", "depot_id": "AIRPORT", "capacity_kg": 3500.5, "capacity_m3": 18.0,
                  "available_from": "2020-02-10T06:00:00"}]
            ),
            "site_stock": pd.DataFrame(
                [{"site_id": "JYT", "item_id": "mask", "date": "2020-02-09", "on_hand": 120}]
            ),
        },
        name="donated-city",
        description="Donations, roads and traffic control for the database and ledger tests",
        as_of=AS_OF,
        meta={"source": "examples.donated_city"},
    )


ALL["donated_city"] = donated_city


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


def own_item_first(n95: int = 1200, mask_need: int = 1000, n95_need: int = 1000) -> Scenario:
    """Two designated hospitals and one depot of respirators, which may also replace surgical masks.

    ``H1`` needs ``n95_need`` respirators, ``H2`` needs ``n95_need`` respirators and
    ``mask_need`` surgical masks; the depot holds ``n95`` respirators and no masks. Own
    item before substitutes (allocation-rules.md, priority 1b): with the defaults the
    1,200 respirators all go to respirator needs (600 each, fair shares) and none covers
    a mask while a respirator need is short; with 2,500 both respirator needs are filled
    and the 500 left cover half of ``H2``'s masks.
    """
    return from_tables(
        {
            "items": _items(
                ("n95", "N95 respirator", "respirator", "medical", 0.01),
                ("mask", "Surgical mask", "mask", "medical", 0.005),
            ),
            "sites": pd.DataFrame([
                _site("H1", "designated_hospital", 30.60, 114.27),
                _site("H2", "designated_hospital", 30.60, 114.29),
            ]),
            "depots": pd.DataFrame([_depot("D1", 30.55, 114.23)]),
            "stock": pd.DataFrame([{"lot_id": "L1", "depot_id": "D1", "item_id": "n95", "quantity": n95}]),
            "substitutes": pd.DataFrame([{"item_id": "mask", "substitute_id": "n95", "ratio": 1}]),
            "needs": pd.DataFrame([
                {"site_id": "H1", "item_id": "n95", "quantity": n95_need},
                {"site_id": "H2", "item_id": "n95", "quantity": n95_need},
                {"site_id": "H2", "item_id": "mask", "quantity": mask_need},
            ]),
        },
        name="own-item-first",
        as_of=AS_OF,
    )


# --------------------------------------------------------------------------- routing checks (issue 9)


def road_grid(n: int = 6, seed: int = 0) -> Scenario:
    """A generated n x n street grid under traffic control, for routing checks without real road data.

    Nodes ``G{row}_{col}`` sit about 500 m apart; ``Street {row}`` runs east-west and
    ``Avenue {col}`` north-south (two-way, seeded speeds of 20-60 km/h and lengths of
    450-550 m; the eastmost avenue is one-way northbound). Traffic control at ``as_of``
    (2020-02-10 08:00):

    - ``C1`` closes ``Avenue {n//2}`` to everyone; ``C2`` closes the edge
      ``G1_0``-``G1_1`` except to permit ``medical``; ``C3`` closes ``Street 1`` only from
      2020-02-20 and ``C4`` closed ``Street {n-2}`` until 2020-02-01 (neither in force);
    - checkpoint ``K1`` on ``Street {n//2}`` (8 min a pass, anyone), ``K2`` on ``Avenue 1``
      (5 min, permit ``supply`` only) and ``K3`` on the edge ``G0_1``-``G0_2`` (3 min, anyone);
    - restricted zone ``Z1`` around ``G{n-1}_{n-1}`` (permit ``medical``) and ``Z2`` around
      ``G0_{n-1}`` (no permit: nobody may enter).

    Depots: ``D1`` at ``G0_0`` with vehicles ``V1`` (``medical``) and ``V2`` (none); ``D2``
    at ``G{n-1}_{n//2}`` without vehicles (the default vehicle holds ``medical`` and
    ``supply``); ``D3`` at ``G{n//2}_{n-1}`` with ``V3`` (``supply``) and 40 kg of dispatch
    capacity. Seven sites of every tier (some given a ``node_id``, others snapped by
    coordinates; ``B1`` inside Z1, ``Q1`` inside Z2), respirators, medical and civil masks and
    suits (masks covered by respirators, civil masks by medical masks), earmarked donations,
    a quarantined and an expired lot, and seeded needs (H2, a hospital, also asks for more civil
    masks than medical masks can cover), so that rounds ship through checkpoints and around closures and are short for
    several reasons.
    """
    import numpy as np

    if n < 5:
        from allocator.errors import AllocatorError

        raise AllocatorError(f"road_grid needs n >= 5 (got {n})")
    rng = np.random.default_rng(seed)
    lat0, lon0, dlat, dlon = 30.50, 114.30, 0.0045, 0.0052

    def node(r: int, c: int) -> str:
        return f"G{r}_{c}"

    def lat(r: int) -> float:
        return round(lat0 + r * dlat, 6)

    def lon(c: int) -> float:
        return round(lon0 + c * dlon, 6)

    nodes = pd.DataFrame([(node(r, c), lat(r), lon(c)) for r in range(n) for c in range(n)],
                         columns=["node_id", "lat", "lon"])
    speeds = [20.0, 30.0, 40.0, 60.0]
    roads = []
    for r in range(n):
        for c in range(n):
            if c + 1 < n:
                roads.append((node(r, c), node(r, c + 1), float(rng.integers(450, 551)), float(rng.choice(speeds)),
                              False, f"Street {r}", f"{r}街", "road"))
            if r + 1 < n:
                roads.append((node(r, c), node(r + 1, c), float(rng.integers(450, 551)), float(rng.choice(speeds)),
                              c == n - 1, f"Avenue {c}", f"{c}大道", "road"))
    roads_df = pd.DataFrame(roads, columns=["u", "v", "length_m", "speed_kmh", "oneway", "name", "name_zh", "kind"])

    def box(r: int, c: int) -> str:
        a, b, x, y = lon(c) - dlon / 2, lon(c) + dlon / 2, lat(r) - dlat / 2, lat(r) + dlat / 2
        return f"POLYGON(({a:.6f} {x:.6f}, {b:.6f} {x:.6f}, {b:.6f} {y:.6f}, {a:.6f} {y:.6f}, {a:.6f} {x:.6f}))"

    m = n // 2
    control = pd.DataFrame([
        {"rule_id": "C1", "kind": "closure", "road": f"Avenue {m}", "start": "2020-01-23T10:00:00"},
        {"rule_id": "C2", "kind": "closure", "u": node(1, 0), "v": node(1, 1), "permits": "medical"},
        {"rule_id": "C3", "kind": "closure", "road": "Street 1", "start": "2020-02-20T00:00:00"},
        {"rule_id": "C4", "kind": "closure", "road": f"Street {n - 2}", "end": "2020-02-01T00:00:00"},
        {"rule_id": "K1", "kind": "checkpoint", "road": f"Street {m}", "delay_min": 8},
        {"rule_id": "K2", "kind": "checkpoint", "road": "Avenue 1", "delay_min": 5, "permits": "supply"},
        {"rule_id": "K3", "kind": "checkpoint", "u": node(0, 1), "v": node(0, 2), "delay_min": 3},
        {"rule_id": "Z1", "kind": "restricted_zone", "area_wkt": box(n - 1, n - 1), "permits": "medical"},
        {"rule_id": "Z2", "kind": "restricted_zone", "area_wkt": box(0, n - 1)},
    ])
    vehicles = pd.DataFrame([
        {"vehicle_id": "V1", "depot_id": "D1", "capacity_kg": 2000, "capacity_m3": 10, "permits": "medical",
         "available_from": "2020-02-10T08:00:00", "available_to": "2020-02-10T20:00:00"},
        {"vehicle_id": "V2", "depot_id": "D1", "capacity_kg": 1000, "capacity_m3": 6, "permits": "",
         "available_from": "2020-02-10T08:00:00", "available_to": "2020-02-10T20:00:00"},
        {"vehicle_id": "V3", "depot_id": "D3", "capacity_kg": 1500, "capacity_m3": 8, "permits": "supply",
         "available_from": "2020-02-10T08:00:00", "available_to": "2020-02-10T20:00:00"},
    ])
    items = _items(
        ("n95", "N95 respirator", "respirator", "medical", 0.01),
        ("mask_med", "Medical mask", "mask", "medical", 0.005),
        ("mask_civil", "Civil mask", "mask", "civil", 0.005),
        ("suit", "Medical protective suit", "suit", "medical", 0.5),
    )
    places = [  # site, kind, row, col, node given
        ("H1", "designated_hospital", m, 1, True), ("H2", "designated_hospital", m, n - 2, False),
        ("F1", "fever_clinic", 1, m, True), ("B1", "backup_hospital", n - 1, n - 1, True),
        ("Q1", "quarantine_site", 0, n - 1, False), ("C1", "community", n - 2, 0, False),
        ("E1", "elderly_care", 1, 1, True),
    ]
    sites = pd.DataFrame([
        _site(s, k, lat(r), lon(c), node_id=node(r, c) if given else "") for s, k, r, c, given in places])
    depots = pd.DataFrame([
        _depot("D1", lat(0), lon(0), node_id=node(0, 0)),
        _depot("D2", lat(n - 1), lon(m)),
        _depot("D3", lat(m), lon(n - 1), node_id=node(m, n - 1), dispatch_capacity_kg=40.0),
    ])
    donations = pd.DataFrame([
        {"donation_id": "G1", "donor": "Hubei Chamber of Commerce", "received": "2020-02-01",
         "earmark_kind": "fever_clinic;designated_hospital"},
        {"donation_id": "G2", "donor": "Residents' committee", "received": "2020-02-03", "earmark_site_id": "C1"},
        {"donation_id": "G3", "donor": "anonymous", "received": "2020-02-05"},
    ])

    def q(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi + 1))

    stock = pd.DataFrame([
        {"lot_id": "L1", "depot_id": "D1", "item_id": "n95", "quantity": q(800, 1600), "donation_id": "G3"},
        {"lot_id": "L2", "depot_id": "D2", "item_id": "n95", "quantity": q(400, 900)},
        {"lot_id": "L3", "depot_id": "D1", "item_id": "mask_med", "quantity": q(1000, 2000), "donation_id": "G1"},
        {"lot_id": "L4", "depot_id": "D3", "item_id": "mask_civil", "quantity": q(2000, 4000)},
        {"lot_id": "L5", "depot_id": "D2", "item_id": "suit", "quantity": q(100, 200)},
        {"lot_id": "L6", "depot_id": "D3", "item_id": "suit", "quantity": q(100, 300), "status": "quarantined"},
        {"lot_id": "L7", "depot_id": "D1", "item_id": "n95", "quantity": q(200, 500), "expires": "2020-02-01"},
        {"lot_id": "L8", "depot_id": "D3", "item_id": "n95", "quantity": q(300, 600), "donation_id": "G2"},
        {"lot_id": "L9", "depot_id": "D2", "item_id": "mask_med", "quantity": q(300, 800)},
        {"lot_id": "L10", "depot_id": "D3", "item_id": "suit", "quantity": q(100, 200)},
    ])
    needs = []
    for s, kind, _r, _c, _g in places:
        clinical = kind in ("designated_hospital", "backup_hospital", "fever_clinic")
        wants = ("n95", "mask_med", "suit") if clinical else ("mask_med", "mask_civil", "n95")
        for i in wants:
            needs.append({"site_id": s, "item_id": i, "quantity": q(100, 900) if i != "suit" else q(20, 120)})
        if s == "H2":  # a hospital asking for more civil masks than medical ones can cover: grade
            needs.append({"site_id": s, "item_id": "mask_civil", "quantity": q(2500, 3500)})
    substitutes = pd.DataFrame([
        {"item_id": "mask_med", "substitute_id": "n95", "ratio": 1.0},
        {"item_id": "mask_civil", "substitute_id": "mask_med", "ratio": 1.0},
    ])
    return from_tables(
        {
            "items": items, "sites": sites, "depots": depots, "stock": stock, "needs": pd.DataFrame(needs),
            "substitutes": substitutes, "donations": donations, "road_nodes": nodes, "roads": roads_df,
            "traffic_control": control, "vehicles": vehicles,
        },
        name=f"road-grid-{n}-{seed}",
        as_of=AS_OF,
    )


ALL["road_grid"] = road_grid
