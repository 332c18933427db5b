"""The round's LP fill ratios against an independent leximin reference (:func:`allocator.testing.leximin_reference`).

The reference builds the round's LP from the input tables and solves it with SciPy's HiGHS:
tier fills, own item first, then the textbook leximin of each tier's fill ratios (all items of
the tier together). The round's LP values (``result.extra["lp"]`` by candidate row, whose
``need`` is a row of ``result.extra["data"].needs``) must give the same sorted ratio vector in
every tier: the fairness stage (:func:`allocator.allocate.stages.leximin`) has exactly this definition.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator import allocate, examples
from allocator.scenario import from_tables
from allocator.testing import check_round, leximin_reference


def lp_ratios(result) -> dict[tuple[str, str], float]:
    """Fill ratio of every need of the round in its LP solution (before rounding to units)."""
    data, x = result.extra["data"], np.asarray(result.extra["lp"], float)
    cand, needs = data.cand, data.needs
    units = pd.Series(x / cand.ratio.to_numpy(float)).groupby(cand.need.to_numpy()).sum()
    units = units.reindex(range(len(needs))).fillna(0.0)
    return {(str(s), str(i)): float(u) / float(q)
            for s, i, q, u in zip(needs.site_id, needs.item_id, needs.quantity, units)}


def tier_vectors(ratios: dict[tuple[str, str], float], sc) -> dict[int, np.ndarray]:
    tier = sc.sites.set_index("site_id").tier
    out: dict[int, list[float]] = {}
    for (s, _i), r in ratios.items():
        out.setdefault(int(tier[s]), []).append(r)
    return {t: np.sort(np.asarray(v)) for t, v in out.items()}


def assert_same_leximin(sc, travel=None, tol=1e-6):
    r = allocate(sc, travel=travel)
    assert check_round(sc, r, travel) == []
    got, ref = lp_ratios(r), leximin_reference(sc, travel)
    assert set(got) == set(ref)
    a, b = tier_vectors(got, sc), tier_vectors(ref, sc)
    assert a.keys() == b.keys()
    for t in a:
        np.testing.assert_allclose(a[t], b[t], atol=tol, err_msg=f"tier {t}: round {a[t]} vs reference {b[t]}")
    return ref


def _tables(items, sites, depots, stock, needs, **more):
    t = {"items": pd.DataFrame(items), "sites": pd.DataFrame(sites), "depots": pd.DataFrame(depots),
         "stock": pd.DataFrame(stock), "needs": pd.DataFrame(needs)}
    t.update({k: pd.DataFrame(v) for k, v in more.items()})
    return from_tables(t, name="fairness", as_of=examples.AS_OF)


def _item(i, w=1.0, grade="medical"):
    return {"item_id": i, "name": i, "category": "other", "grade": grade, "unit_weight_kg": w}


def _site(s, kind="designated_hospital", lat=30.60, lon=114.27):
    return {"site_id": s, "name": s, "kind": kind, "lat": lat, "lon": lon}


def _depot(d, cap=None, lat=30.55, lon=114.23):
    out = {"depot_id": d, "name": d, "lat": lat, "lon": lon}
    if cap is not None:
        out["dispatch_capacity_kg"] = cap
    return out


# --------------------------------------------------------------------------- hand-made cases


def test_two_equal_hospitals_share_equally():
    ref = assert_same_leximin(examples.two_hospitals())
    assert ref == pytest.approx({("H1", "n95"): 0.625, ("H2", "n95"): 0.625}, abs=1e-6)


def test_one_scarce_item_among_three_hospitals():
    """300 respirators for needs of 100, 200 and 300: each gets half; gloves are ample."""
    sc = _tables(
        [_item("n95", 0.01), _item("gloves", 0.02)],
        [_site("H1"), _site("H2", lon=114.29), _site("H3", lon=114.31)],
        [_depot("D1")],
        [{"lot_id": "L1", "depot_id": "D1", "item_id": "n95", "quantity": 300},
         {"lot_id": "L2", "depot_id": "D1", "item_id": "gloves", "quantity": 5000}],
        [{"site_id": s, "item_id": "n95", "quantity": q} for s, q in (("H1", 100), ("H2", 200), ("H3", 300))]
        + [{"site_id": s, "item_id": "gloves", "quantity": 400} for s in ("H1", "H2", "H3")],
    )
    ref = assert_same_leximin(sc)
    assert [ref[(s, "n95")] for s in ("H1", "H2", "H3")] == pytest.approx([0.5, 0.5, 0.5], abs=1e-6)
    assert [ref[(s, "gloves")] for s in ("H1", "H2", "H3")] == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)


def test_shared_depot_capacity_across_two_items():
    """One depot can dispatch 10 kg: H1 needs 10 suits, H2 10 gowns (1 kg each). Any split fills
    10 units; the leximin of the tier (both items together) gives each hospital half."""
    sc = _tables(
        [_item("suit"), _item("gown")],
        [_site("H1"), _site("H2", lon=114.29)],
        [_depot("D1", cap=10.0)],
        [{"lot_id": "L1", "depot_id": "D1", "item_id": "suit", "quantity": 50},
         {"lot_id": "L2", "depot_id": "D1", "item_id": "gown", "quantity": 50}],
        [{"site_id": "H1", "item_id": "suit", "quantity": 10}, {"site_id": "H2", "item_id": "gown", "quantity": 10}],
    )
    ref = assert_same_leximin(sc)
    assert ref == pytest.approx({("H1", "suit"): 0.5, ("H2", "gown"): 0.5}, abs=1e-6)


def test_tiers_come_before_fairness():
    """A backup hospital gets only what the designated hospitals leave; they share equally."""
    sc = _tables(
        [_item("n95", 0.01)],
        [_site("H1"), _site("H2", lon=114.29), _site("B1", kind="backup_hospital", lon=114.31)],
        [_depot("D1")],
        [{"lot_id": "L1", "depot_id": "D1", "item_id": "n95", "quantity": 900}],
        [{"site_id": "H1", "item_id": "n95", "quantity": 400}, {"site_id": "H2", "item_id": "n95", "quantity": 800},
         {"site_id": "B1", "item_id": "n95", "quantity": 300}],
    )
    ref = assert_same_leximin(sc)
    assert ref == pytest.approx({("H1", "n95"): 0.75, ("H2", "n95"): 0.75, ("B1", "n95"): 0.0}, abs=1e-6)


def test_the_generated_road_grid():
    assert_same_leximin(examples.road_grid())


def test_the_reference_refuses_locks_and_estimated_needs():
    from allocator.errors import AllocatorError

    sc = examples.two_hospitals()
    locked = from_tables({**sc.tables, "locks": pd.DataFrame(
        [{"depot_id": "D1", "site_id": "H1", "item_id": "n95", "quantity": 10}])}, name="locked", as_of=examples.AS_OF)
    with pytest.raises(AllocatorError, match="locks"):
        leximin_reference(locked)
    with pytest.raises(AllocatorError, match="needs"):
        leximin_reference(examples.demand_hospital())


# --------------------------------------------------------------------------- generated cases


@st.composite
def small_rounds(draw):
    n_items = draw(st.integers(1, 2))
    n_sites = draw(st.integers(2, 4))
    n_depots = draw(st.integers(1, 2))
    items = [_item(f"i{k}", draw(st.sampled_from([0.5, 1.0, 2.0]))) for k in range(n_items)]
    kinds = ["designated_hospital", "backup_hospital", "quarantine_site"]
    sites = [_site(f"S{k}", kind=draw(st.sampled_from(kinds)), lon=114.27 + 0.01 * k) for k in range(n_sites)]
    depots = [_depot(f"D{k}", cap=draw(st.sampled_from([None, None, 40.0, 120.0])), lon=114.23 + 0.01 * k)
              for k in range(n_depots)]
    stock = [{"lot_id": f"L{d}{i}", "depot_id": f"D{d}", "item_id": f"i{i}", "quantity": draw(st.integers(0, 150))}
             for d in range(n_depots) for i in range(n_items)]
    needs = [{"site_id": f"S{s}", "item_id": f"i{i}", "quantity": draw(st.integers(0, 100))}
             for s in range(n_sites) for i in range(n_items) if draw(st.booleans()) or (s, i) == (0, 0)]
    more = {}
    if n_items > 1 and draw(st.booleans()):
        more["substitutes"] = [{"item_id": "i0", "substitute_id": "i1", "ratio": draw(st.sampled_from([1.0, 2.0]))}]
    sc = _tables(items, sites, depots, stock, needs, **more)
    travel = pd.DataFrame(
        [[draw(st.sampled_from([5.0, 12.0, 30.0, math.inf])) for _ in range(n_sites)] for _ in range(n_depots)],
        index=[d["depot_id"] for d in depots], columns=[s["site_id"] for s in sites])
    return sc, travel


def _lex_less(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """Whether sorted vector a is lexicographically below b (beyond tol)."""
    for x, y in zip(a, b):
        if abs(x - y) > tol:
            return bool(x < y)
    return False


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_rounds())
def test_generated_rounds_match_the_leximin_reference(case):
    """Same tier totals and the same sorted ratio vector per tier as the reference."""
    sc, travel = case
    r = allocate(sc, travel=travel)
    assert check_round(sc, r, travel) == []
    got, ref = lp_ratios(r), leximin_reference(sc, travel)
    assert set(got) == set(ref)
    need = {(str(s), str(i)): float(q) for s, i, q in zip(sc.needs.site_id, sc.needs.item_id, sc.needs.quantity)}
    tier = sc.sites.set_index("site_id").tier
    for t in set(tier):
        keys = [k for k in got if tier[k[0]] == t]
        units = sum(got[k] * need[k] for k in keys), sum(ref[k] * need[k] for k in keys)
        assert units[0] == pytest.approx(units[1], abs=1e-5), f"tier {t}: units filled differ"
    a, b = tier_vectors(got, sc), tier_vectors(ref, sc)
    for t in sorted(a):
        assert not _lex_less(b[t], a[t], 1e-6), f"tier {t}: round {a[t]} is above the leximin optimum {b[t]}"
        np.testing.assert_allclose(a[t], b[t], atol=1e-6, err_msg=f"tier {t}: round {a[t]} vs reference {b[t]}")
