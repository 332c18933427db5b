"""The one place where a round's LP solver is chosen and driven.

A round solves a few linear programs (:mod:`allocator.allocate.stages`): each is
loaded once as arrays (a column-wise ``scipy.sparse`` matrix and bounds) and then
re-solved stage after stage with a new objective, new bounds and, with column
generation, new or fewer columns. Every solver sits behind the small
:class:`LPDriver` protocol, so the stages and the column generation never touch a
solver's (or PuLP's) objects:

* :class:`HighsDriver` drives HiGHS in process through ``highspy`` straight from the
  arrays: a re-solve after an objective or bound change warm-starts from the previous
  basis;
* :class:`PulpDriver` builds a PuLP model from the same arrays at each solve and runs
  CBC (the binary PuLP ships); it also writes a readable ``.lp`` file of the model.

:func:`make_driver` is the only place where a name becomes a driver.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from allocator.errors import SolverError

SOLVERS = ("highs", "cbc")
#: A reduced cost or dual is non-zero above this, relative to the largest objective coefficient.
HOLD_DUAL_TOL = 1e-7
_BANNER_SHOWN = False


@contextlib.contextmanager
def quiet_c_stdout() -> Iterator[None]:
    """Keep the C library's stdout (fd 1) quiet: HiGHS prints its banner there when a Highs object is made."""
    # HiGHS writes to the C library's stdout, file descriptor 1, whatever sys.stdout is
    # (in a notebook sys.stdout is not fd 1 at all)
    fd = 1
    try:
        sys.stdout.flush()
        saved = os.dup(fd)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def hold_threshold(cost: np.ndarray) -> float:
    """A reduced cost or dual above this is non-zero: :data:`HOLD_DUAL_TOL` x the largest objective coefficient.

    Examples
    --------
    >>> round(hold_threshold(np.array([0.0, 2.0, -50.0])), 12)
    5e-06
    """
    c = np.abs(np.asarray(cost, dtype=float))
    return HOLD_DUAL_TOL * max(1.0, float(c.max()) if len(c) else 1.0)


class LPDriver(Protocol):
    """What the stages need of a solver: an LP as arrays, re-solved with new objectives and bounds.

    Columns and rows are numbered from 0 in the order they were loaded or added;
    :meth:`remove_columns` renumbers the remaining columns in their order.
    """

    name: str
    seconds_in_solver: float
    stage_seconds: dict[str, float]
    iterations: int

    def load(self, matrix: sp.csc_matrix, col_lower: np.ndarray, col_upper: np.ndarray,
             row_lower: np.ndarray, row_upper: np.ndarray) -> None:
        """Load the LP ``row_lower <= matrix @ x <= row_upper``, ``col_lower <= x <= col_upper`` (costs 0)."""

    def add_columns(self, matrix: sp.csc_matrix, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray) -> None:
        """Append columns (``matrix`` has a row per model row)."""

    def remove_columns(self, drop: np.ndarray) -> None:
        """Delete the columns where the boolean mask ``drop`` is true."""

    def add_rows(self, matrix: sp.csr_matrix, lower: np.ndarray, upper: np.ndarray) -> None:
        """Append rows (``matrix`` has a column per model column)."""

    def set_objective(self, cost: np.ndarray, maximize: bool) -> None:
        """Set every column's cost and the sense."""

    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of columns ``idx``."""

    def set_row_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Change the bounds of rows ``idx``."""

    def solve(self, stage: str, method: str = "primal") -> float:
        """Solve with the ``primal`` or ``dual`` simplex; return the objective value.

        Raises :class:`~allocator.errors.SolverError` unless optimal."""

    def values(self) -> np.ndarray:
        """The last solution, by column."""

    def row_values(self) -> np.ndarray:
        """``matrix @ x`` of the last solution, by row."""

    def duals(self) -> np.ndarray:
        """Row duals of the last solution (``cost - matrix.T @ duals`` are the reduced costs)."""

    def reduced_costs(self) -> np.ndarray:
        """Column reduced costs of the last solution."""

    def nonbasic_at_zero(self) -> np.ndarray:
        """Columns at 0 and out of the last basis (a column that a re-solve does not need)."""

    def set_start(self, x: np.ndarray) -> None:
        """A feasible point to start the next solve from (a solver may ignore it)."""

    def write(self, path: str | Path, col_names: list[str] | None = None, row_names: list[str] | None = None) -> None:
        """Write the current model (objective, rows, bounds) as a readable LP file, with these names."""


class HighsDriver:
    """:class:`LPDriver` on HiGHS through ``highspy``, warm-started between solves.

    Parameters
    ----------
    strategy : int
        HiGHS's ``simplex_strategy``: 4 (primal) by default, since after an objective
        change or a hold the previous basis stays primal feasible and each stage
        continues from it.

    Examples
    --------
    >>> d = HighsDriver()
    >>> d.load(sp.csc_matrix(np.array([[1.0, 1.0]])), np.zeros(2), np.full(2, np.inf),
    ...        np.array([-np.inf]), np.array([4.0]))
    >>> d.set_objective(np.array([1.0, 2.0]), maximize=True)
    >>> d.solve("demo"), d.values().tolist()
    (8.0, [0.0, 4.0])
    """

    name = "highs"

    def __init__(self, strategy: int = 4):
        global _BANNER_SHOWN
        import highspy

        self._hs = highspy
        self.h: Any  # highspy's type stubs lack some methods (changeRowsBounds)
        if not _BANNER_SHOWN:  # the copyright banner goes to the C stdout before output_flag can be set
            _BANNER_SHOWN = True
            with quiet_c_stdout():
                self.h = highspy.Highs()
        else:
            self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.strategy = strategy
        self.inf = highspy.kHighsInf
        self.seconds_in_solver = 0.0
        self.stage_seconds: dict[str, float] = {}
        self.iterations = 0
        self.n_cols = self.n_rows = 0
        self._sol: Any = None

    def _b(self, a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=float)
        return np.clip(a, -self.inf, self.inf)

    def load(self, matrix: sp.csc_matrix, col_lower: np.ndarray, col_upper: np.ndarray,
             row_lower: np.ndarray, row_upper: np.ndarray) -> None:
        hs = self._hs
        A = sp.csc_matrix(matrix)
        lp = hs.HighsLp()
        lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
        lp.col_cost_ = np.zeros(A.shape[1])
        lp.col_lower_, lp.col_upper_ = self._b(col_lower), self._b(col_upper)
        lp.row_lower_, lp.row_upper_ = self._b(row_lower), self._b(row_upper)
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        lp.sense_ = hs.ObjSense.kMinimize
        self.h.passModel(lp)
        self.n_cols, self.n_rows = A.shape[1], A.shape[0]

    def add_columns(self, matrix: sp.csc_matrix, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray) -> None:
        A = sp.csc_matrix(matrix)
        k = A.shape[1]
        if not k:
            return
        self.h.addCols(k, np.asarray(cost, dtype=float), self._b(lower), self._b(upper), A.nnz,
                       A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data.astype(float))
        self.n_cols += k

    def remove_columns(self, drop: np.ndarray) -> None:
        idx = np.flatnonzero(drop).astype(np.int32)
        if len(idx):
            self.h.deleteCols(len(idx), idx)
            self.n_cols -= len(idx)

    def add_rows(self, matrix: sp.csr_matrix, lower: np.ndarray, upper: np.ndarray) -> None:
        A = sp.csr_matrix(matrix)
        k = A.shape[0]
        if not k:
            return
        self.h.addRows(k, self._b(lower), self._b(upper), A.nnz, A.indptr[:-1].astype(np.int32),
                       A.indices.astype(np.int32), A.data.astype(float))
        self.n_rows += k

    def set_objective(self, cost: np.ndarray, maximize: bool) -> None:
        hs = self._hs
        n = self.n_cols
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost, dtype=float))
        self.h.changeObjectiveSense(hs.ObjSense.kMaximize if maximize else hs.ObjSense.kMinimize)

    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        if len(idx):
            self.h.changeColsBounds(len(idx), idx, self._b(lower), self._b(upper))

    def set_row_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        if len(idx):
            self.h.changeRowsBounds(len(idx), idx, self._b(lower), self._b(upper))

    def solve(self, stage: str, method: str = "primal") -> float:
        self.h.setOptionValue("simplex_strategy", 1 if method == "dual" else self.strategy)
        t = time.perf_counter()
        self.h.run()
        dt = time.perf_counter() - t
        self.seconds_in_solver += dt
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + dt
        self.iterations += int(self.h.getInfo().simplex_iteration_count)
        status = self.h.getModelStatus()
        if status == self._hs.HighsModelStatus.kModelEmpty and self.n_cols == 0:
            lp = self.h.getLp()  # no column: optimal at 0 when every row admits 0
            if (np.asarray(lp.row_lower_) <= 1e-9).all() and (np.asarray(lp.row_upper_) >= -1e-9).all():
                z = np.zeros(self.n_rows)
                self._sol = SimpleNamespace(col_value=np.zeros(0), col_dual=np.zeros(0), row_value=z, row_dual=z)
                return 0.0
        if status != self._hs.HighsModelStatus.kOptimal:
            self._sol = None
            raise SolverError(f"stage {stage}: HiGHS returned {self.h.modelStatusToString(status)}")
        self._sol = self.h.getSolution()
        return float(self.h.getInfo().objective_function_value)

    def _solution(self) -> Any:
        if self._sol is None:
            raise SolverError("no solution: solve() has not succeeded")
        return self._sol

    def values(self) -> np.ndarray:
        return np.asarray(self._solution().col_value, dtype=float)

    def row_values(self) -> np.ndarray:
        return np.asarray(self._solution().row_value, dtype=float)

    def duals(self) -> np.ndarray:
        return np.asarray(self._solution().row_dual, dtype=float)

    def reduced_costs(self) -> np.ndarray:
        return np.asarray(self._solution().col_dual, dtype=float)

    def nonbasic_at_zero(self) -> np.ndarray:
        x = self.values()
        status, basic = self.h.getBasicVariables()
        if status != self._hs.HighsStatus.kOk:
            return np.zeros(self.n_cols, dtype=bool)
        out = x == 0.0
        b = np.asarray(basic, dtype=np.int64)
        out[b[b >= 0]] = False  # basic columns (a negative index is a row's slack)
        return out

    def set_start(self, x: np.ndarray) -> None:
        sol = self._hs.HighsSolution()
        sol.col_value = np.asarray(x, dtype=float)
        sol.value_valid = True
        self.h.setSolution(sol)

    def write(self, path: str | Path, col_names: list[str] | None = None, row_names: list[str] | None = None) -> None:
        for j, name in enumerate((col_names or [])[: self.n_cols]):
            self.h.passColName(j, lp_name(name))
        for i, name in enumerate((row_names or [])[: self.n_rows]):
            self.h.passRowName(i, lp_name(name))
        self.h.writeModel(str(path))


class PulpDriver:
    """:class:`LPDriver` on PuLP: CBC (the binary PuLP ships), or only a readable model.

    The arrays are kept here; each :meth:`solve` builds a PuLP problem from them (CBC
    cannot re-solve in place), so this driver is for small rounds, cross-checks and
    :meth:`write`.

    Examples
    --------
    >>> d = PulpDriver()
    >>> d.load(sp.csc_matrix(np.array([[1.0, 1.0]])), np.zeros(2), np.full(2, np.inf),
    ...        np.array([-np.inf]), np.array([4.0]))
    >>> d.set_objective(np.array([1.0, 2.0]), maximize=True)
    >>> d.solve("demo"), d.values().tolist()
    (8.0, [0.0, 4.0])
    """

    name = "cbc"

    def __init__(self) -> None:
        import pulp
        from pulp.apis.coin_api import pulp_cbc_path

        self._pulp = pulp
        self.impl = pulp.COIN_CMD(path=pulp_cbc_path, msg=False)
        if not self.impl.available():
            raise SolverError("CBC is not available (PuLP's bundled cbc binary was not found)")
        self.seconds_in_solver = 0.0
        self.stage_seconds: dict[str, float] = {}
        self.iterations = 0
        self.A = sp.csc_matrix((0, 0))
        self.col_lower = self.col_upper = self.cost = np.zeros(0)
        self.row_lower = self.row_upper = np.zeros(0)
        self.maximize = False
        self._x = self._y = self._d = np.zeros(0)

    def load(self, matrix: sp.csc_matrix, col_lower: np.ndarray, col_upper: np.ndarray,
             row_lower: np.ndarray, row_upper: np.ndarray) -> None:
        self.A = sp.csc_matrix(matrix, dtype=float)
        self.col_lower, self.col_upper = np.array(col_lower, float), np.array(col_upper, float)
        self.row_lower, self.row_upper = np.array(row_lower, float), np.array(row_upper, float)
        self.cost = np.zeros(self.A.shape[1])

    def add_columns(self, matrix: sp.csc_matrix, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray) -> None:
        self.A = sp.hstack([self.A, sp.csc_matrix(matrix, dtype=float)], format="csc")
        self.col_lower = np.r_[self.col_lower, np.asarray(lower, float)]
        self.col_upper = np.r_[self.col_upper, np.asarray(upper, float)]
        self.cost = np.r_[self.cost, np.asarray(cost, float)]

    def remove_columns(self, drop: np.ndarray) -> None:
        keep = ~np.asarray(drop, dtype=bool)
        self.A = self.A[:, np.flatnonzero(keep)]
        self.col_lower, self.col_upper, self.cost = self.col_lower[keep], self.col_upper[keep], self.cost[keep]

    def add_rows(self, matrix: sp.csr_matrix, lower: np.ndarray, upper: np.ndarray) -> None:
        self.A = sp.vstack([self.A, sp.csr_matrix(matrix, dtype=float)], format="csc")
        self.row_lower = np.r_[self.row_lower, np.asarray(lower, float)]
        self.row_upper = np.r_[self.row_upper, np.asarray(upper, float)]

    def set_objective(self, cost: np.ndarray, maximize: bool) -> None:
        self.cost = np.array(cost, dtype=float)
        self.maximize = bool(maximize)

    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.col_lower[idx], self.col_upper[idx] = lower, upper

    def set_row_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.row_lower[idx], self.row_upper[idx] = lower, upper

    def problem(self, col_names: list[str] | None = None, row_names: list[str] | None = None
                ) -> tuple[Any, list[Any], list[list[tuple[int, Any]]]]:
        """The PuLP problem of the current arrays, its variables and, by row, its (sign, constraint) pairs."""
        pulp = self._pulp
        prob = pulp.LpProblem("round", pulp.LpMaximize if self.maximize else pulp.LpMinimize)
        n, m = self.A.shape[1], self.A.shape[0]
        cn = [lp_name(c) for c in col_names or []] + [f"x_{j}" for j in range(len(col_names or []), n)]
        rn = [lp_name(r) for r in row_names or []] + [f"r_{i}" for i in range(len(row_names or []), m)]
        xs = [prob.add_variable(cn[j], lowBound=None if np.isneginf(lo) else float(lo),
                                upBound=None if np.isposinf(up) else float(up))
              for j, (lo, up) in enumerate(zip(self.col_lower.tolist(), self.col_upper.tolist()))]
        prob.setObjective(pulp.LpAffineExpression([(xs[j], c) for j, c in enumerate(self.cost.tolist()) if c != 0.0]))
        R = self.A.tocsr()
        rows: list[list[tuple[int, Any]]] = [[] for _ in range(m)]
        for i in range(m):
            lo, up = float(self.row_lower[i]), float(self.row_upper[i])
            cols, vals = R.indices[R.indptr[i]:R.indptr[i + 1]], R.data[R.indptr[i]:R.indptr[i + 1]]
            expr = pulp.LpAffineExpression([(xs[j], float(a)) for j, a in zip(cols.tolist(), vals.tolist())])
            if lo == up:
                c = pulp.LpConstraint(expr, pulp.LpConstraintEQ, rhs=lo, name=rn[i])
                prob.addConstraint(c)
                rows[i].append((1, c))
                continue
            if np.isfinite(up):
                c = pulp.LpConstraint(expr, pulp.LpConstraintLE, rhs=up, name=f"{rn[i]}_le")
                prob.addConstraint(c)
                rows[i].append((1, c))
            if np.isfinite(lo):
                c = pulp.LpConstraint(expr, pulp.LpConstraintGE, rhs=lo, name=f"{rn[i]}_ge")
                prob.addConstraint(c)
                rows[i].append((1, c))
        assert len(xs) == n
        return prob, xs, rows

    def solve(self, stage: str, method: str = "primal") -> float:
        pulp = self._pulp
        prob, xs, rows = self.problem()
        t = time.perf_counter()
        status = prob.solve(self.impl)
        dt = time.perf_counter() - t
        self.seconds_in_solver += dt
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + dt
        if status != pulp.LpStatusOptimal:
            raise SolverError(f"stage {stage}: CBC returned {pulp.LpStatus.get(status, status)}")
        self._x = np.array([v.varValue or 0.0 for v in xs], dtype=float)
        self._d = np.array([v.dj or 0.0 for v in xs], dtype=float)
        self._y = np.array([sum(s * (c.pi or 0.0) for s, c in r) for r in rows], dtype=float)
        return float(self.cost @ self._x)

    def values(self) -> np.ndarray:
        return self._x

    def row_values(self) -> np.ndarray:
        return np.asarray(self.A @ self._x, dtype=float)

    def duals(self) -> np.ndarray:
        return self._y

    def reduced_costs(self) -> np.ndarray:
        return self._d

    def nonbasic_at_zero(self) -> np.ndarray:
        return (self._x == 0.0) & (np.abs(self._d) > 0.0)

    def set_start(self, x: np.ndarray) -> None:
        return None  # CBC is run on the whole model from scratch

    def write(self, path: str | Path, col_names: list[str] | None = None, row_names: list[str] | None = None) -> None:
        self.problem(col_names, row_names)[0].writeLP(str(path))


def lp_name(name: str) -> str:
    """A row or column name as LP files allow it: ``need[site=H1,item=n95]`` -> ``need_site_H1_item_n95``.

    >>> lp_name("need[site=H1,item=n95]")
    'need_site_H1_item_n95'
    """
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_.]", "_", name)).strip("_") or "_"


def make_driver(solver: str = "highs") -> LPDriver:
    """The driver for ``solver`` (one of :data:`SOLVERS`): the only place a solver is chosen.

    Raises
    ------
    SolverError
        An unknown solver name, or CBC missing.

    Examples
    --------
    >>> make_driver("highs").name, make_driver("cbc").name
    ('highs', 'cbc')
    """
    if solver == "highs":
        return HighsDriver()
    if solver == "cbc":
        return PulpDriver()
    raise SolverError(f"unknown solver {solver!r}: choose one of {', '.join(SOLVERS)}")


def nearest_bound(value: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The finite bound nearest to each value (a column or row held at its active bound)."""
    lo = np.where(np.isfinite(lower), lower, np.inf)
    up = np.where(np.isfinite(upper), upper, np.inf)
    return np.where(np.abs(value - lo) <= np.abs(value - up), lo, up)


@dataclass
class Bounds:
    """The bounds of a loaded LP, kept beside the driver: change them here, and the driver with them.

    A column or row is *fixed* (held) when its lower bound equals its upper bound.
    """

    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray

    @property
    def col_fixed(self) -> np.ndarray:
        """Columns whose bounds are equal."""
        return self.col_lower == self.col_upper

    @property
    def row_fixed(self) -> np.ndarray:
        """Rows whose bounds are equal."""
        return self.row_lower == self.row_upper

    def add_cols(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Bounds of columns just added to the driver."""
        self.col_lower = np.r_[self.col_lower, lower]
        self.col_upper = np.r_[self.col_upper, upper]

    def add_rows(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Bounds of rows just added to the driver."""
        self.row_lower = np.r_[self.row_lower, lower]
        self.row_upper = np.r_[self.row_upper, upper]

    def keep_cols(self, keep: np.ndarray) -> None:
        """Forget the columns just removed from the driver (``keep`` is false for them)."""
        self.col_lower, self.col_upper = self.col_lower[keep], self.col_upper[keep]

    def set_cols(self, driver: LPDriver, idx: np.ndarray, lower: np.ndarray | float, upper: np.ndarray | float) -> None:
        """Change the bounds of columns ``idx``, here and in ``driver``."""
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        self.col_lower[idx], self.col_upper[idx] = lower, upper
        driver.set_col_bounds(idx, self.col_lower[idx], self.col_upper[idx])

    def set_rows(self, driver: LPDriver, idx: np.ndarray, lower: np.ndarray | float, upper: np.ndarray | float) -> None:
        """Change the bounds of rows ``idx``, here and in ``driver``."""
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        self.row_lower[idx], self.row_upper[idx] = lower, upper
        driver.set_row_bounds(idx, self.row_lower[idx], self.row_upper[idx])


def hold(driver: LPDriver, cost: np.ndarray, b: Bounds, thr: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hold the optimum just found while later stages change the objective.

    By complementary slackness, a feasible point is optimal for the current objective
    exactly when every column with a non-zero reduced cost stays at its bound and every
    row with a non-zero dual stays at its bound. So instead of a dense "objective >=
    optimum" row, this fixes those columns and rows at their active bound: exact,
    sparse, and later stages get smaller. "Non-zero" is above :func:`hold_threshold`
    of ``cost`` (or ``thr``). The bounds ``b`` are updated with the driver's.

    Returns
    -------
    (ndarray, ndarray)
        The columns and the rows newly fixed.
    """
    thr = hold_threshold(cost) if thr is None else thr
    fix_c = np.flatnonzero((np.abs(driver.reduced_costs()) > thr) & ~b.col_fixed)
    fix_r = np.flatnonzero((np.abs(driver.duals()) > thr) & ~b.row_fixed)
    if len(fix_c):
        at = nearest_bound(driver.values()[fix_c], b.col_lower[fix_c], b.col_upper[fix_c])
        b.set_cols(driver, fix_c, at, at)
    if len(fix_r):
        at = nearest_bound(driver.row_values()[fix_r], b.row_lower[fix_r], b.row_upper[fix_r])
        b.set_rows(driver, fix_r, at, at)
    return fix_c, fix_r
