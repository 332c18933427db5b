"""The one place where a round's solver is chosen and driven.

A round solves the same linear program several times with a new objective and
a few new "hold" rows each time (see :mod:`allocator.allocate.stages`).
PuLP 3.3's ``HiGHS`` interface rebuilds the model column by column on every
solve and cannot re-solve, so :class:`StagedHiGHS` (a ``pulp.HiGHS``) loads the
model into HiGHS in bulk once and, on each later stage, only changes the
objective and appends the new columns and rows: HiGHS then warm-starts from the
previous basis. CBC (``pulp.COIN_CMD`` with the binary that PuLP ships) is the
second choice; it rebuilds and re-solves from scratch at each stage.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pulp

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


class StagedHiGHS(pulp.HiGHS):
    """``pulp.HiGHS`` with bulk model loading and warm-started re-solves.

    Attributes
    ----------
    seconds_in_solver : float
        Wall time spent inside ``Highs.run`` (the share of a round spent in HiGHS).
    col_value, row_dual : ndarray
        The last solution, by column index (``var.index``) and row index
        (``constraint.index``).
    """

    def __init__(self, **kw: Any):
        # primal simplex: after an objective change the previous basis stays primal
        # feasible, so each stage continues from it (3-4x faster than dual simplex here)
        kw.setdefault("simplex_strategy", 4)
        super().__init__(mip=False, msg=False, **kw)
        self.seconds_in_solver = 0.0
        self._vars: list[pulp.LpVariable] = []
        self._rows: list[pulp.LpConstraint] = []
        self.col_value = np.zeros(0)
        self.row_dual = np.zeros(0)

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802
        global _BANNER_SHOWN
        if not _BANNER_SHOWN:
            # HiGHS prints a copyright banner to the C stdout when the first Highs object
            # is created, before output_flag can be set: keep it out of our output
            _BANNER_SHOWN = True
            with quiet_c_stdout():
                super().createAndConfigureSolver(lp)
        else:
            super().createAndConfigureSolver(lp)

    # -- model loading -------------------------------------------------------------
    def _new_columns(self, lp: pulp.LpProblem) -> None:
        known = len(self._vars)
        new = lp._variables[known:] if len(lp._variables) > known else []
        if not new:
            return
        inf = highspy_inf()
        for j, v in enumerate(new, start=known):
            v.index = j
        lb = np.array([-inf if v.lowBound is None else v.lowBound for v in new], dtype=float)
        ub = np.array([inf if v.upBound is None else v.upBound for v in new], dtype=float)
        lp.solverModel.addVars(len(new), lb, ub)
        self._vars.extend(new)

    def _new_rows(self, lp: pulp.LpProblem) -> None:
        cons = list(lp._constraints.values())[len(self._rows):]
        if not cons:
            return
        inf = highspy_inf()
        lower, upper, starts, index, value = [], [], [], [], []
        n = 0
        for i, c in enumerate(cons, start=len(self._rows)):
            c.index = i
            starts.append(n)
            idx = [v.index for v in c.keys()]
            index.extend(idx)
            value.extend(c.values())
            n += len(idx)
            lb, ub = c.getLb(), c.getUb()
            lower.append(-inf if lb is None else lb)
            upper.append(inf if ub is None else ub)
        lp.solverModel.addRows(
            len(cons), np.array(lower), np.array(upper), n,
            np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
            np.array(value, dtype=float),
        )
        self._rows.extend(cons)

    def _objective(self, lp: pulp.LpProblem) -> None:
        h = lp.solverModel
        n = len(self._vars)
        obj = lp.objective or {}
        import highspy

        sense = highspy.ObjSense.kMaximize if lp.sense == pulp.LpMaximize else highspy.ObjSense.kMinimize
        done = getattr(self, "_obj_done", None)
        if done is not None and done[0] is obj and done[2] == sense and len(obj) >= done[1]:
            # the same objective, possibly with new terms at the end (column generation)
            items = list(itertools.islice(obj.items(), done[1], None))
            if all(getattr(v, "index", None) is not None and v.index < n and self._vars[v.index] is v
                   for v, _ in items):
                if items:
                    idx = np.array([v.index for v, _ in items], dtype=np.int32)
                    h.changeColsCost(len(idx), idx, np.array([a for _, a in items], dtype=float))
                self._obj_done = (obj, len(obj), sense)
                return
        cost = np.zeros(n)
        if len(obj):
            keys = list(obj.keys())
            idx = np.fromiter((-1 if (i := getattr(v, "index", None)) is None else i for v in keys),
                              dtype=np.int64, count=len(keys))
            if ((idx < 0) | (idx >= n)).any():
                lp._add_variables(keys)  # a variable that only the objective uses
                self._new_columns(lp)
                n = len(self._vars)
                cost = np.zeros(n)
                idx = np.fromiter((v.index for v in keys), dtype=np.int64, count=len(keys))
            cost[idx] = np.fromiter(obj.values(), dtype=float, count=len(keys))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        h.changeObjectiveSense(sense)
        self._obj_done = (obj, len(obj), sense)

    def _sync(self, lp: pulp.LpProblem) -> None:
        # register every variable of the objective and the rows, in a stable order
        if lp.objective is not None and not self._vars:
            lp._add_variables(lp.objective.keys())
        for c in list(lp._constraints.values())[len(self._rows):]:
            lp._add_variables(c.keys())
        self._new_columns(lp)
        self._new_rows(lp)
        self._objective(lp)

    # -- PuLP solver interface -------------------------------------------------------
    def buildSolverModel(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        self._vars, self._rows = [], []
        self._sync(lp)

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802
        t = time.perf_counter()
        lp.solverModel.run()
        self.seconds_in_solver += time.perf_counter() - t
        self.iterations = lp.solverModel.getInfo().simplex_iteration_count

    def findSolutionValues(self, lp: pulp.LpProblem) -> tuple[int, int]:  # noqa: N802
        import highspy

        h = lp.solverModel
        status = h.getModelStatus()
        sol = h.getSolution()
        self.col_value = np.asarray(sol.col_value, dtype=float)
        self.col_dual = np.asarray(sol.col_dual, dtype=float)
        self.row_value = np.asarray(sol.row_value, dtype=float)
        self.row_dual = np.asarray(sol.row_dual, dtype=float)
        if status == highspy.HighsModelStatus.kOptimal:
            return pulp.LpStatusOptimal, pulp.LpSolutionOptimal
        if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible
        if status == highspy.HighsModelStatus.kUnbounded:
            return pulp.LpStatusUnbounded, pulp.LpSolutionUnbounded
        self.last_status = str(status)
        return pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound

    def actualSolve(self, lp: pulp.LpProblem) -> int:  # noqa: N802
        self.createAndConfigureSolver(lp)
        self.model = lp.solverModel
        self.buildSolverModel(lp)
        return self._run(lp)

    def actualResolve(self, lp: pulp.LpProblem, **kwargs: Any) -> int:  # noqa: N802
        if getattr(lp, "solverModel", None) is None or not self._vars:
            return self.actualSolve(lp)
        self._sync(lp)
        return self._run(lp)

    def _run(self, lp: pulp.LpProblem) -> int:
        self.callSolver(lp)
        status, sol_status = self.findSolutionValues(lp)
        lp.assignStatus(status, sol_status)
        return status


def highspy_inf() -> float:
    import highspy

    return highspy.kHighsInf


def hold_threshold(prob: pulp.LpProblem) -> float:
    """A reduced cost or dual above this is non-zero: :data:`HOLD_DUAL_TOL` x the largest objective coefficient."""
    obj = prob.objective
    scale = max(1.0, float(np.abs(np.fromiter(obj.values(), dtype=float)).max())) if obj is not None and len(obj) else 1.0
    return HOLD_DUAL_TOL * scale


class Driver:
    """Solve one PuLP problem stage after stage with the chosen solver.

    Parameters
    ----------
    solver : {"highs", "cbc"}
        ``highs`` (in process, warm-started stages) or ``cbc`` (PuLP's CBC binary via
        ``pulp.COIN_CMD``).

    Examples
    --------
    >>> prob = pulp.LpProblem("x", pulp.LpMaximize)
    >>> x = prob.add_variable("x", 0, 3)
    >>> prob.setObjective(pulp.LpAffineExpression([(x, 1.0)]))
    >>> d = Driver("highs")
    >>> d.solve(prob, "demo")
    3.0
    """

    def __init__(self, solver: str = "highs"):
        if solver not in SOLVERS:
            raise SolverError(f"unknown solver {solver!r}: choose one of {', '.join(SOLVERS)}")
        self.name = solver
        self.seconds_in_solver = 0.0
        self.stage_seconds: dict[str, float] = {}
        self._col_fixed = np.zeros(0, dtype=bool)
        self._row_fixed = np.zeros(0, dtype=bool)
        self._first = True
        if solver == "highs":
            self.impl: Any = StagedHiGHS()
        else:
            from pulp.apis.coin_api import pulp_cbc_path

            self.impl = pulp.COIN_CMD(path=pulp_cbc_path, msg=False)
            if not self.impl.available():
                raise SolverError("CBC is not available (PuLP's bundled cbc binary was not found)")

    def solve(self, prob: pulp.LpProblem, stage: str) -> float:
        """Solve ``prob`` with its current objective; return the objective value.

        Raises
        ------
        SolverError
            When the status is not optimal.
        """
        t = time.perf_counter()
        if isinstance(self.impl, StagedHiGHS):
            before = self.impl.seconds_in_solver
            status = prob.solve(self.impl) if self._first else self.impl.actualResolve(prob)
            self.seconds_in_solver += self.impl.seconds_in_solver - before
        else:
            status = prob.solve(self.impl)
            self.seconds_in_solver += time.perf_counter() - t
        self._first = False
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - t
        if status != pulp.LpStatusOptimal:
            detail = getattr(self.impl, "last_status", "")
            raise SolverError(f"stage {stage}: the solver returned {pulp.LpStatus.get(status, status)} {detail}".rstrip())
        return self.value(prob.objective)

    def values(self, variables: list[pulp.LpVariable]) -> np.ndarray:
        """Solution values of ``variables`` as an array."""
        if isinstance(self.impl, StagedHiGHS):
            if not variables:
                return np.zeros(0)
            idx = np.fromiter((v.index for v in variables), dtype=np.int64, count=len(variables))
            return self.impl.col_value[idx]
        return np.array([v.varValue or 0.0 for v in variables], dtype=float)

    def duals(self, rows: list[pulp.LpConstraint]) -> np.ndarray:
        """Dual values of ``rows`` (zeros when the solver gives none)."""
        if isinstance(self.impl, StagedHiGHS):
            return self.impl.row_dual[[c.index for c in rows]] if rows else np.zeros(0)
        return np.array([c.pi or 0.0 for c in rows], dtype=float)

    def hold(self, prob: pulp.LpProblem) -> tuple[int, int]:
        """Hold the optimum just found while later stages change the objective.

        By complementary slackness, a feasible point is optimal for the current objective
        exactly when every variable with a non-zero reduced cost stays at its bound and
        every row with a non-zero dual stays at its bound. So instead of adding a dense
        "objective >= optimum" row, this fixes those variables and rows: exact, sparse,
        and it shrinks the later stages. A reduced cost or dual counts as non-zero above
        :data:`HOLD_DUAL_TOL` times the largest objective coefficient.

        Returns
        -------
        (int, int)
            Numbers of variables and rows fixed.
        """
        thr = hold_threshold(prob)
        if isinstance(self.impl, StagedHiGHS):
            impl = self.impl
            n, k = len(impl._vars), len(impl._rows)
            if len(self._col_fixed) < n:
                self._col_fixed = np.concatenate([self._col_fixed, np.zeros(n - len(self._col_fixed), dtype=bool)])
            if len(self._row_fixed) < k:
                self._row_fixed = np.concatenate([self._row_fixed, np.zeros(k - len(self._row_fixed), dtype=bool)])
            fix_c = np.flatnonzero((np.abs(impl.col_dual) > thr) & ~self._col_fixed)
            fix_r = np.flatnonzero((np.abs(impl.row_dual) > thr) & ~self._row_fixed)
            self._col_fixed[fix_c] = True
            self._row_fixed[fix_r] = True
            variables = [impl._vars[j] for j in fix_c.tolist()]
            rows = [impl._rows[i] for i in fix_r.tolist()]
            val = impl.col_value[fix_c]
        else:
            cand = [v for v in prob._variables if v.upBound != v.lowBound]
            crow = [c for c in prob._constraints.values() if c.sense != pulp.LpConstraintEQ]
            dj = np.array([v.dj or 0.0 for v in cand], dtype=float)
            pi = np.array([c.pi or 0.0 for c in crow], dtype=float)
            variables = [cand[j] for j in np.flatnonzero(np.abs(dj) > thr).tolist()]
            rows = [crow[i] for i in np.flatnonzero(np.abs(pi) > thr).tolist()]
            val = np.array([v.varValue or 0.0 for v in variables], dtype=float)
        at = np.empty(len(variables))
        for j, v in enumerate(variables):
            lb = 0.0 if v.lowBound is None else v.lowBound
            b = v.upBound if (v.upBound is not None and abs(val[j] - v.upBound) < abs(val[j] - lb)) else lb
            v.lowBound = v.upBound = b
            at[j] = b
        rb = np.empty(len(rows))
        for i, c in enumerate(rows):
            if c.sense != pulp.LpConstraintEQ:
                c.sense = pulp.LpConstraintEQ  # the row's only finite bound is its active one
            rb[i] = -c.constant
        if isinstance(self.impl, StagedHiGHS):
            h = self.impl.model
            if len(fix_c):
                h.changeColsBounds(len(fix_c), fix_c.astype(np.int32), at, at)
            if len(fix_r):
                h.changeRowsBounds(len(fix_r), fix_r.astype(np.int32), rb, rb)
        return len(variables), len(rows)

    def value(self, expr: pulp.LpAffineExpression | None) -> float:
        if expr is None or not len(expr):
            return 0.0
        vs = list(expr.keys())
        return float(np.dot(self.values(vs), np.fromiter(expr.values(), dtype=float, count=len(vs))) + expr.constant)
