"""Column generation (allocator.allocate.colgen) gives the full model's optimum, stage by stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from allocator import allocate, examples
from allocator.allocate.colgen import ColumnPool, initial_columns
from allocator.allocate.model import build, components
from allocator.allocate.prepare import prepare
from allocator.allocate.solver import Driver
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


def test_pricing_matches_the_solver_reduced_costs():
    """The pool's reduced costs (c - A'y from the row duals) equal HiGHS's for columns in the model."""
    sc = generate(sites=40, depots=5, items=6, lots=200, seed=4, with_roads=False)
    data = prepare(sc)
    rows = components(data)[0]
    drv = Driver("highs")
    m = build(data, initial_columns(data, rows), name="t")
    pool = ColumnPool(data, rows, m, drv)
    cost = data.cand.cost.to_numpy()
    import pulp

    m.prob.sense = pulp.LpMinimize
    m.prob.setObjective(pulp.LpAffineExpression(list(zip(m.x, cost[m.cand].tolist()))))
    drv.solve(m.prob, "t")
    inside = np.flatnonzero(pool.in_model)
    rc = pool.reduced_costs(cost[pool.rows], inside)
    pos = pd.Index(m.cand).get_indexer(pool.rows[inside])
    idx = np.array([m.x[p].index for p in pos])
    np.testing.assert_allclose(rc, drv.impl.col_dual[idx], atol=1e-6)


def test_initial_columns_cover_every_row():
    sc = generate(sites=50, depots=8, items=6, lots=250, seed=5, with_roads=False)
    data = prepare(sc)
    for rows in components(data):
        init = initial_columns(data, rows, nearest=1)
        c, ci = data.cand.iloc[rows], data.cand.iloc[init]
        assert set(ci.group) == set(c.group)
        assert set(ci.need) == set(c.need)
        assert len(init) < len(rows) or len(rows) <= c.need.nunique() + c.group.nunique()


def test_examples_agree():
    for make in examples.ALL.values():
        sc = make()
        _same_objectives(allocate(sc).summary["objectives"], allocate(sc, column_generation=False).summary["objectives"])


def test_slim_keeps_pulp_and_highs_rows_equal():
    """After the transport stage removed columns, every PuLP row equals HiGHS's row."""
    from allocator.allocate.stages import solve_stages

    sc = generate(sites=60, depots=6, items=8, lots=300, seed=7, with_roads=False)
    data = prepare(sc)
    rows = components(data)[0]
    drv = Driver("highs")
    m = build(data, initial_columns(data, rows), name="t")
    pool = ColumnPool(data, rows, m, drv)
    pool.slim(min_share=0.0)  # before any solve: nothing to remove (no basis)
    assert pool.removed == 0
    objectives: dict[str, float] = {}
    solve_stages(m, data, drv, objectives, pool=pool)
    assert pool.removed > 0
    lp = m.prob.solverModel.getLp()
    a = lp.a_matrix_
    starts, index, value = np.array(a.start_), np.array(a.index_), np.array(a.value_)
    dense: dict[tuple[int, int], float] = {}
    for j in range(lp.num_col_):  # column-wise
        for k in range(starts[j], starts[j + 1]):
            dense[(int(index[k]), j)] = float(value[k])
    pulp_rows = {(con.index, v.index): float(a_) for con in m.prob._constraints.values() for v, a_ in con.items()}
    assert pulp_rows == pytest.approx(dense)
    # the variables the model keeps are exactly HiGHS's columns, in order
    assert [v.index for v in drv.impl._vars] == list(range(lp.num_col_))
    assert not (pool.in_model & pool.banned).any()


def test_flow_seed_changes_no_objective(monkeypatch):
    """The transport stage's min-cost-flow seed only picks columns: every stage optimum is the same."""
    from allocator.allocate import stages

    sc = generate(sites=60, depots=6, items=8, lots=300, seed=3, with_roads=False)
    with_seed = allocate(sc)
    monkeypatch.setattr(stages, "SEED_ROUNDS", 0)
    without = allocate(sc)
    full = allocate(sc, column_generation=False)
    _same_objectives(with_seed.summary["objectives"], without.summary["objectives"])
    _same_objectives(with_seed.summary["objectives"], full.summary["objectives"])
    assert check_round(sc, with_seed) == []


def test_flow_seed_returns_eligible_columns():
    """The seed's columns are omitted, not banned, and carry the transport stage's cheapest flow."""
    from allocator.allocate.colgen import flow_seed
    from allocator.allocate.stages import solve_stages

    sc = generate(sites=60, depots=6, items=8, lots=300, seed=5, with_roads=False)
    data = prepare(sc)
    rows = components(data)[0]
    drv = Driver("highs")
    m = build(data, initial_columns(data, rows), name="t")
    pool = ColumnPool(data, rows, m, drv)
    assert len(flow_seed(pool, data.cand.cost.to_numpy()[pool.rows])) == 0  # nothing solved yet
    solve_stages(m, data, drv, {}, pool=pool)
    pool.slim(min_share=0.0)
    pos = flow_seed(pool, data.cand.cost.to_numpy()[pool.rows])
    assert not pool.in_model[pos].any()
    assert not pool.banned[pos].any()
