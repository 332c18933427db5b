"""Random small scenarios (hypothesis): every round passes the independent rule checker."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator import allocate, examples
from allocator.scenario import from_tables
from allocator.testing import check_round

KINDS = ["designated_hospital", "backup_hospital", "fever_clinic", "quarantine_site", "community"]


@st.composite
def scenarios(draw):
    n_items = draw(st.integers(1, 3))
    n_sites = draw(st.integers(1, 4))
    n_depots = draw(st.integers(1, 3))
    items = pd.DataFrame({
        "item_id": [f"i{k}" for k in range(n_items)],
        "name": "item", "category": "other",
        "grade": [draw(st.sampled_from(["medical", "medical", "civil"])) for _ in range(n_items)],
        "unit_weight_kg": [draw(st.sampled_from([0.01, 0.5, 1.0, 2.0])) for _ in range(n_items)],
        "pack_size": [draw(st.sampled_from([1, 1, 1, 10])) for _ in range(n_items)],
    })
    sites = pd.DataFrame({
        "site_id": [f"S{k}" for k in range(n_sites)], "name": "site",
        "kind": [draw(st.sampled_from(KINDS)) for _ in range(n_sites)],
        "lat": [30.5 + 0.01 * k for k in range(n_sites)], "lon": 114.3,
    })
    cap = [draw(st.one_of(st.none(), st.floats(0, 300))) for _ in range(n_depots)]
    depots = pd.DataFrame({
        "depot_id": [f"D{k}" for k in range(n_depots)], "name": "depot",
        "lat": [30.4 + 0.02 * k for k in range(n_depots)], "lon": 114.2,
        "dispatch_capacity_kg": [np.nan if c is None else c for c in cap],
    })
    donations = pd.DataFrame({
        "donation_id": ["G0", "G1", "G2"], "donor": ["a", "b", "c"],
        "earmark_site_id": ["", draw(st.sampled_from(list(sites.site_id))), ""],
        "earmark_kind": ["", "", draw(st.sampled_from(KINDS))],
    })
    n_lots = draw(st.integers(1, 6))
    lots = pd.DataFrame({
        "lot_id": [f"L{k}" for k in range(n_lots)],
        "depot_id": [draw(st.sampled_from(list(depots.depot_id))) for _ in range(n_lots)],
        "item_id": [draw(st.sampled_from(list(items.item_id))) for _ in range(n_lots)],
        "quantity": [draw(st.integers(0, 300)) for _ in range(n_lots)],
        "donation_id": [draw(st.sampled_from(["", "", "G0", "G1", "G2"])) for _ in range(n_lots)],
        "expires": [draw(st.sampled_from([None, "2020-01-01", "2020-06-01", "2021-01-01"])) for _ in range(n_lots)],
        "status": [draw(st.sampled_from(["available", "available", "available", "quarantined"])) for _ in range(n_lots)],
    })
    pairs = draw(st.lists(st.tuples(st.sampled_from(list(sites.site_id)), st.sampled_from(list(items.item_id))),
                          min_size=1, max_size=8, unique=True))
    needs = pd.DataFrame({"site_id": [p[0] for p in pairs], "item_id": [p[1] for p in pairs],
                          "quantity": [draw(st.integers(0, 200)) for _ in pairs]})
    subs = []
    if n_items > 1 and draw(st.booleans()):
        subs.append({"item_id": "i0", "substitute_id": "i1", "ratio": draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]))})
    tables = {"items": items, "sites": sites, "depots": depots, "donations": donations, "stock": lots, "needs": needs}
    if subs:
        tables["substitutes"] = pd.DataFrame(subs)
    sc = from_tables(tables, name="random", as_of=examples.AS_OF)
    travel = pd.DataFrame(
        [[draw(st.sampled_from([5.0, 12.0, 30.0, 45.0, math.inf])) for _ in range(n_sites)] for _ in range(n_depots)],
        index=list(depots.depot_id), columns=list(sites.site_id))
    return sc, travel


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_rounds_pass_the_checker(case):
    sc, travel = case
    r = allocate(sc, travel=travel)
    assert check_round(sc, r, travel) == []
    # every shortage has a reason and nothing is shipped that nobody needs
    assert ((r.fill.shortage > 0) == (r.fill.reason != "")).all()
    assert (r.allocations.quantity > 0).all()


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.data())
def test_random_locks_of_a_shipped_quantity_hold_and_count_toward_their_own_item(case, data):
    """Lock part of what a first round shipped: the re-run keeps the lock, passes the checker
    (which verifies that the lock covers its own item first), and the site's fill of the
    locked item is at least min(locked, need)."""
    sc, travel = case
    first = allocate(sc, travel=travel)
    a = first.allocations
    if a.empty:
        return
    shipped = a.groupby(["depot_id", "site_id", "item_id"]).quantity.sum()
    (d, s, i), q = data.draw(st.sampled_from(list(shipped.items())))
    qty = data.draw(st.integers(0, int(q)))
    r = allocate(sc, travel=travel, locks=[(d, s, i, qty)])
    assert check_round(sc, r, travel) == []
    f = r.fill.set_index(["site_id", "item_id"])
    if (s, i) in f.index:
        assert f.at[(s, i), "filled"] >= min(qty, int(f.at[(s, i), "need"]))
