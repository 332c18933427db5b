"""Column generation (allocator.allocate.colgen) gives the full model's optimum, stage by stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from allocator import allocate, examples
from allocator.allocate.classes import need_level
from allocator.allocate.colgen import ColumnPool, flow_seed, initial_columns
from allocator.allocate.model import build, components
from allocator.allocate.prepare import prepare
from allocator.allocate.solver import make_driver
from allocator.synth import generate
from allocator.testing import check_round
from tests.test_allocate_random import scenarios


def _same_objectives(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        # the stages hold their optimum up to HOLD_DUAL_TOL (1e-7 of the largest coefficient)
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-6), k


@pytest.mark.parametrize("seed", [1, 2])
def test_synth_rounds_match_the_full_model(seed):
    sc = generate(sites=60, depots=6, items=8, lots=300, seed=seed, with_roads=False)
    full = allocate(sc, column_generation=False)
    cg = allocate(sc)
    cols = cg.summary["model"]["column_generation"]
    assert cols["candidates"] == cg.summary["model"]["candidates"]  # every candidate is in a pool
    assert cg.summary["model"]["variables"] < full.summary["model"]["variables"]  # restricted
    _same_objectives(cg.summary["objectives"], full.summary["objectives"])
    assert check_round(sc, cg) == []
    # same units per tier (whole-unit rounding may differ by a unit per need between equal optima)
    tiers = cg.fill.groupby("tier").filled.sum() - full.fill.groupby("tier").filled.sum()
    assert tiers.abs().max() <= len(cg.fill)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_rounds_match_the_full_model(case):
    sc, travel = case
    full = allocate(sc, travel=travel, column_generation=False)
    cg = allocate(sc, travel=travel)
    _same_objectives(cg.summary["objectives"], full.summary["objectives"])
    assert check_round(sc, cg, travel=travel) == []


def _need_lp(seed: int, **kw):
    sc = generate(sites=kw.get("sites", 40), depots=kw.get("depots", 5), items=kw.get("items", 6),
                  lots=kw.get("lots", 200), seed=seed, with_roads=False)
    data = prepare(sc)
    rows = components(data)[0]
    lp = build(data, need_level(data, rows))
    cost = data.cand.cost.to_numpy(float)[rows]
    item = pd.factorize(data.cand.item_id.to_numpy(object)[rows])[0]
    return data, rows, lp, cost, item


def test_pricing_matches_the_solver_reduced_costs():
    """The pool's reduced costs (c - A'y from the row duals) equal HiGHS's for the columns in the model."""
    data, rows, lp, cost, item = _need_lp(4)
    J = lp.matrix.shape[1]
    pool = ColumnPool(lp, np.ones(J, bool), initial_columns(lp, cost, np.ones(J, bool), item, nearest=2),
                      make_driver("highs"))
    pool.load(lp.row_lower, lp.row_upper)
    pool.driver.set_objective(cost[pool.cols], maximize=False)
    pool.driver.solve("t")
    assert 0 < len(pool.cols) < J
    np.testing.assert_allclose(pool.reduced_costs(cost)[pool.cols], pool.driver.reduced_costs(), atol=1e-6)


def test_initial_columns_cover_every_need():
    data, rows, lp, cost, item = _need_lp(5, sites=50, depots=8, lots=250)
    J = lp.matrix.shape[1]
    init = initial_columns(lp, cost, np.ones(J, bool), item, nearest=1)
    assert not initial_columns(lp, cost, np.ones(J, bool), item).any()  # NEAREST = 0: start and seed only
    assert set(lp.classes.col_class[init]) == set(range(lp.classes.n_classes))  # every need has a column
    assert init.sum() < J
    # each need's column of an item is its cheapest
    for j in np.flatnonzero(init)[:200]:
        same = (lp.classes.col_class == lp.classes.col_class[j]) & (item == item[j])
        assert cost[j] == cost[same].min()


def test_examples_agree():
    for make in examples.ALL.values():
        sc = make()
        _same_objectives(allocate(sc).summary["objectives"], allocate(sc, column_generation=False).summary["objectives"])


def test_flow_seed_changes_no_objective(monkeypatch):
    """The transport stage's min-cost-flow seed only picks columns: every stage optimum is the same."""
    from allocator.allocate import colgen

    sc = generate(sites=60, depots=6, items=8, lots=300, seed=3, with_roads=False)
    with_seed = allocate(sc)
    monkeypatch.setattr(colgen, "flow_seed", lambda lp, cost, eligible, x0: np.zeros(len(cost), bool))
    without = allocate(sc)
    full = allocate(sc, column_generation=False)
    _same_objectives(with_seed.summary["objectives"], without.summary["objectives"])
    _same_objectives(with_seed.summary["objectives"], full.summary["objectives"])
    assert check_round(sc, with_seed) == []
    assert colgen.FLOW_COST_SCALE > 0


def test_flow_seed_ships_every_need_from_eligible_columns():
    """The seed's columns are eligible, and every need with a fill in the start gets one."""
    data, rows, lp, cost, item = _need_lp(5, sites=60, depots=6, items=8, lots=300)
    J = lp.matrix.shape[1]
    rng = np.random.default_rng(0)
    eligible = rng.random(J) < 0.7
    x0 = np.where(eligible, rng.random(J), 0.0)
    seed = flow_seed(lp, cost, eligible, x0)
    assert seed.any() and not (seed & ~eligible).any()
    fill = np.bincount(lp.classes.col_class, weights=x0 * lp.classes.col_inv, minlength=lp.classes.n_classes)
    served = np.bincount(lp.classes.col_class[seed], minlength=lp.classes.n_classes) > 0
    assert served[fill >= 1.0].all()
    assert not flow_seed(lp, cost, eligible, np.zeros(J)).any()  # nothing to ship: no seed


def test_sifting_keeps_the_model_and_the_pool_equal():
    """After slim() removes columns, the driver's model is the pool's columns of the full matrix, in order."""
    data, rows, lp, cost, item = _need_lp(7, sites=60, depots=6, items=8, lots=300)
    J = lp.matrix.shape[1]
    drv = make_driver("highs")
    pool = ColumnPool(lp, np.ones(J, bool), np.ones(J, bool), drv)
    b = pool.load(lp.row_lower, lp.row_upper)
    obj = cost - 1e4 * lp.classes.col_inv  # fill the needs, cheapest first
    drv.set_objective(obj[pool.cols], maximize=False)
    before = drv.solve("t")
    assert pool.slim(b) > 0
    got = drv.h.getLp().a_matrix_
    n = len(pool.cols)
    A = pool.A[:, pool.cols].tocsc()
    assert np.array_equal(np.asarray(got.start_)[: n + 1], A.indptr)
    assert np.array_equal(np.asarray(got.index_)[: A.nnz], A.indices)
    assert len(b.col_lower) == n and not (pool.in_model & pool.banned).any()
    drv.set_objective(obj[pool.cols], maximize=False)
    assert drv.solve("t") == pytest.approx(before, rel=1e-9)  # the basis's columns are all still there
