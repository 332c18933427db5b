"""The solver boundary (allocator.allocate.solver): every driver behaves the same behind LPDriver.

Random small LPs are solved by HiGHS (highspy, warm re-solves) and by CBC (a PuLP model
built from the same arrays) and by SciPy's linprog as a third, independent opinion; the
optimum, the complementary slackness of the returned values and duals, and the edits
(new columns, removed columns, new rows, changed bounds, holds) must agree.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from allocator.allocate.solver import SOLVERS, Bounds, HighsDriver, PulpDriver, hold, make_driver
from allocator.errors import SolverError

ROOT = Path(__file__).resolve().parents[1]


def random_lp(seed: int, m: int = 6, n: int = 9):
    """A feasible, bounded LP: max c x with A x <= b, x >= 0 (A >= 0 with every column non-empty)."""
    rng = np.random.default_rng(seed)
    A = rng.integers(0, 4, size=(m, n)).astype(float) * (rng.random((m, n)) < 0.6)
    A[rng.integers(0, m, size=n), np.arange(n)] += 1.0
    b = rng.integers(5, 40, size=m).astype(float)
    c = rng.integers(1, 10, size=n).astype(float)
    return sp.csc_matrix(A), b, c


def scipy_max(A, lo_rows, up_rows, c, col_up=None) -> float:
    A = A.toarray()
    rows_ub = [A[i] for i in range(len(up_rows)) if np.isfinite(up_rows[i])]
    b_ub = [up_rows[i] for i in range(len(up_rows)) if np.isfinite(up_rows[i])]
    rows_ub += [-A[i] for i in range(len(lo_rows)) if np.isfinite(lo_rows[i])]
    b_ub += [-lo_rows[i] for i in range(len(lo_rows)) if np.isfinite(lo_rows[i])]
    bounds = [(0, None if col_up is None or not np.isfinite(col_up[j]) else col_up[j]) for j in range(A.shape[1])]
    r = linprog(-c, A_ub=np.array(rows_ub), b_ub=np.array(b_ub), bounds=bounds, method="highs")
    assert r.status == 0
    return -r.fun


def load(driver, A, b):
    n, m = A.shape[1], A.shape[0]
    driver.load(A, np.zeros(n), np.full(n, np.inf), np.full(m, -np.inf), b)
    return Bounds(np.zeros(n), np.full(n, np.inf), np.full(m, -np.inf), b.copy())


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", range(6))
def test_each_driver_finds_the_optimum_and_consistent_duals(solver, seed):
    A, b, c = random_lp(seed)
    d = make_driver(solver)
    load(d, A, b)
    d.set_objective(c, maximize=True)
    v = d.solve("t")
    assert v == pytest.approx(scipy_max(A, np.full(len(b), -np.inf), b, c), rel=1e-7)
    x, y, rc = d.values(), d.duals(), d.reduced_costs()
    assert (A @ x <= b + 1e-6).all() and (x >= -1e-9).all()
    np.testing.assert_allclose(d.row_values(), A @ x, atol=1e-5)
    np.testing.assert_allclose(rc, c - A.T @ y, atol=1e-5)  # the pricing identity the column generation uses
    assert np.abs(y * (A @ x - b)).max() <= 1e-5  # complementary slackness
    assert np.abs(rc * x).max() <= 1e-5


@pytest.mark.parametrize("solver", SOLVERS)
def test_edits_are_the_same_for_every_driver(solver):
    A, b, c = random_lp(11, m=5, n=8)
    d = make_driver(solver)
    load(d, A[:, :5], b)
    d.set_objective(c[:5], maximize=True)
    d.solve("a")
    d.add_columns(A[:, 5:], np.zeros(3), np.full(3, np.inf), c[5:])
    d.set_objective(c, maximize=True)
    assert d.solve("b") == pytest.approx(scipy_max(A, np.full(5, -np.inf), b, c), rel=1e-7)
    drop = np.zeros(8, bool)
    drop[[1, 6]] = True
    d.remove_columns(drop)
    keep = np.flatnonzero(~drop)
    d.set_objective(c[keep], maximize=True)
    assert d.solve("c") == pytest.approx(scipy_max(A[:, keep], np.full(5, -np.inf), b, c[keep]), rel=1e-7)
    row = sp.csr_matrix(np.ones((1, len(keep))))
    d.add_rows(row, np.array([-np.inf]), np.array([3.0]))
    d.set_col_bounds(np.array([0]), np.array([0.0]), np.array([1.0]))
    d.set_row_bounds(np.array([0]), np.array([-np.inf]), np.array([b[0] / 2]))
    A2 = sp.vstack([A[:, keep], row]).tocsc()
    b2 = np.r_[b[0] / 2, b[1:], 3.0]
    col_up = np.r_[1.0, np.full(len(keep) - 1, np.inf)]
    assert d.solve("d") == pytest.approx(scipy_max(A2, np.full(6, -np.inf), b2, c[keep], col_up), rel=1e-7)


@pytest.mark.parametrize("solver", SOLVERS)
def test_hold_keeps_exactly_the_optimal_face(solver):
    """After hold(), minimising and maximising a second objective stay within the first stage's optimum."""
    A, b, c = random_lp(3)
    d = make_driver(solver)
    bounds = load(d, A, b)
    d.set_objective(c, maximize=True)
    best = d.solve("first")
    hold(d, c, bounds)
    assert bounds.col_fixed.any() or bounds.row_fixed.any()
    rng = np.random.default_rng(1)
    for sense in (True, False):
        d.set_objective(rng.normal(size=A.shape[1]), maximize=sense)
        d.solve("second")
        assert c @ d.values() == pytest.approx(best, rel=1e-7)


def test_highs_and_cbc_agree_on_rounds():
    from allocator import allocate, examples

    for make in (examples.two_hospitals, examples.three_tiers, examples.own_item_first):
        sc = make()
        a, b = allocate(sc, solver="highs"), allocate(sc, solver="cbc")
        assert a.summary["objectives"].keys() == b.summary["objectives"].keys()
        for k, v in a.summary["objectives"].items():
            assert b.summary["objectives"][k] == pytest.approx(v, rel=1e-6, abs=1e-6), k


def test_a_readable_model_is_written(tmp_path):
    A, b, c = random_lp(2)
    for d, name in ((HighsDriver(), "h.lp"), (PulpDriver(), "p.lp")):
        load(d, A, b)
        d.set_objective(c, maximize=True)
        d.write(tmp_path / name)
        text = (tmp_path / name).read_text()
        assert "max" in text.lower() and ("subject to" in text.lower() or "st" in text.lower())


def test_unknown_solver_and_failed_solve_are_solver_errors():
    with pytest.raises(SolverError, match="unknown solver"):
        make_driver("gurobi")
    d = make_driver("highs")
    d.load(sp.csc_matrix(np.array([[1.0]])), np.zeros(1), np.full(1, np.inf), np.array([2.0]), np.array([1.0]))
    with pytest.raises(SolverError, match="stage bad"):
        d.solve("bad")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_highs_warm_resolves_match_cold_solves(seed):
    """A re-solve after a new objective and bounds gives what a fresh model gives."""
    A, b, c = random_lp(seed, m=7, n=12)
    warm = make_driver("highs")
    load(warm, A, b)
    warm.set_objective(c, maximize=True)
    warm.solve("a")
    c2 = np.random.default_rng(seed).integers(-3, 9, size=A.shape[1]).astype(float)
    warm.set_objective(c2, maximize=True)
    cold = make_driver("highs")
    load(cold, A, b)
    cold.set_objective(c2, maximize=True)
    assert warm.solve("b") == pytest.approx(cold.solve("b"), rel=1e-9, abs=1e-9)


def test_no_private_attribute_of_another_object_is_touched():
    """The stages, classes, column generation and the model reach a solver only through LPDriver."""
    pattern = re.compile(r"\b(?!self\b)[A-Za-z_]\w*\._[A-Za-z]\w*")
    offenders = []
    for path in sorted((ROOT / "allocator" / "allocate").glob("*.py")):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                offenders.append(f"{path.name}:{i}: {line.strip()}")
    assert offenders == []
    for name in ("stages.py", "colgen.py", "classes.py", "model.py", "__init__.py"):
        text = (ROOT / "allocator" / "allocate" / name).read_text()
        assert "import pulp" not in text and "highspy" not in text, name  # only solver.py knows the solvers


def test_allocate_writes_readable_models(tmp_path):
    from allocator import allocate, examples

    for solver in SOLVERS:
        allocate(examples.two_hospitals(), solver=solver, write_lp=tmp_path / f"{solver}.lp")
        for part in ("classes", "need"):
            text = (tmp_path / f"{solver}.{part}.lp").read_text()
            assert "need_site_H1_item_n95" in text and "stock_depot_D1_item_n95" in text, text
            assert ("x_0" if part == "need" else "X_0") in text


def test_a_model_without_columns_is_optimal_at_zero_when_its_rows_allow_it():
    d = make_driver("highs")
    d.load(sp.csc_matrix((2, 0)), np.zeros(0), np.zeros(0), np.array([-np.inf, 0.0]), np.array([5.0, 3.0]))
    d.set_objective(np.zeros(0), maximize=False)
    assert d.solve("empty") == 0.0
    assert d.values().tolist() == [] and d.duals().tolist() == [0.0, 0.0]
    d.set_row_bounds(np.array([1]), np.array([1.0]), np.array([3.0]))
    with pytest.raises(SolverError):
        d.solve("empty")
