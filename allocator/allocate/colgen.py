"""Column generation: solve each stage over every candidate while building only a few.

A province round has millions of candidate shipments (every need x every
reachable group of its item or a substitute), but an optimal allocation uses
few of them: mostly nearby depots. So the model starts with a *restricted* set
of columns (:func:`initial_columns`: for every need its nearest groups, every
group at least once, every candidate a lock touches) and each stage is solved
by column generation, which is exact:

1. solve the restricted model;
2. *price* every omitted candidate from the row duals ``y`` (vectorised):
   its reduced cost is ``c_j - sum_i a_ij y_i`` over the rows it would enter
   (its group's ``stock`` row, its need's ``need`` row and fairness rows, its
   depot's ``capacity`` row);
3. add the candidates that would improve the objective (the best few of each
   need), re-solve warm-started from the previous basis, and repeat until none
   prices out: the duals are then feasible for the full model, so the
   restricted optimum is the optimum over every candidate.

Holding a stage's optimum (:meth:`allocator.allocate.solver.Driver.hold`) fixes
the in-model columns and rows with non-zero reduced costs and duals; an omitted
candidate whose reduced cost is non-zero is *banned* (it stays at 0, which is
what complementary slackness asks of it), while one with a zero reduced cost
stays eligible for the later stages. The held set is therefore exactly the set
of the stage's optimal solutions over all candidates, as in the full model (with
the same tolerance :data:`~allocator.allocate.solver.HOLD_DUAL_TOL`; within it the
full and the generated model may pick different points of the face, so a later
tie-break can differ by about that tolerance times the units shipped).

Each pricing round adds at most :data:`PER_NEED` columns per need and
:data:`ADD_PER_ROW` per model row. The transport stage (a new objective that the
previous basis says nothing about) first *slims* the model to the columns in the
basis (:meth:`ColumnPool.slim`) and slims again after each pricing round
(sifting): a simplex iteration costs more with every column, and on a province
round this is 3-4x faster than keeping them all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pulp

from allocator.allocate.model import Model
from allocator.allocate.prepare import RoundData
from allocator.allocate.solver import Driver

#: Nearest groups per need in the first restricted model.
NEAREST = 3
#: Columns added per need and pricing round (the most improving first).
PER_NEED = 4
#: At most this many columns per model row are added in one pricing round (and at least MIN_ADD).
ADD_PER_ROW = 0.15
MIN_ADD = 2000


def initial_columns(data: RoundData, rows: np.ndarray, nearest: int = NEAREST) -> np.ndarray:
    """The candidate rows (a subset of ``rows``) of a component's first restricted model.

    For every need its ``nearest`` cheapest candidates of each shipped item, for every
    group its cheapest candidate (so that every stock, need and capacity row exists),
    and every candidate that a lock touches.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.allocate.prepare import prepare
    >>> d = prepare(examples.three_tiers())
    >>> len(initial_columns(d, np.arange(len(d.cand)))) == len(d.cand)
    True
    """
    c = data.cand.iloc[rows]
    item = pd.factorize(c.item_id.to_numpy(dtype=object))[0]
    need = c.need.to_numpy(np.int64)
    cost = c.cost.to_numpy(float)
    order = np.lexsort((cost, item, need))
    key = need[order] * (int(item.max()) + 1 if len(item) else 1) + item[order]
    start = np.r_[0, np.flatnonzero(np.diff(key)) + 1] if len(key) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(key)) - np.repeat(start, np.diff(np.r_[start, len(key)]))
    keep = np.zeros(len(rows), dtype=bool)
    keep[order[rank < nearest]] = True
    grp = c.group.to_numpy(np.int64)
    by_group = np.lexsort((cost, grp))  # the cheapest candidate of every group
    first = np.r_[True, np.diff(grp[by_group]) != 0] if len(grp) else np.zeros(0, dtype=bool)
    keep[by_group[first]] = True
    if data.locks:
        trips = pd.Series(list(zip(c.depot_id, c.site_id, c.item_id)))
        locked = {(lk.depot_id, lk.site_id, lk.item_id) for lk in data.locks}
        keep |= trips.isin(locked).to_numpy()
    return np.sort(rows[keep])


class ColumnPool:
    """The omitted candidates of a component and their pricing.

    Parameters
    ----------
    data : RoundData
    rows : ndarray
        Every candidate row of the component.
    m : Model
        The restricted model (built on a subset of ``rows``).
    driver : Driver
        Its HiGHS driver (duals come from it).
    """

    def __init__(self, data: RoundData, rows: np.ndarray, m: Model, driver: Driver):
        self.data, self.m, self.driver = data, m, driver
        self.rows = np.asarray(rows)
        c = data.cand.iloc[self.rows]
        self.group = c.group.to_numpy(np.int64)
        self.need = c.need.to_numpy(np.int64)
        self.inv = 1.0 / c.ratio.to_numpy(float)
        self.weight = c.weight.to_numpy(float)
        codes, uniq = pd.factorize(c.depot_id.to_numpy(dtype=object))
        depots = [str(d) for d in uniq]
        self.depot_names = depots
        self.depot = codes.astype(np.int64)
        self.capped = np.array([d in data.capacity for d in depots], dtype=bool)[self.depot] if len(depots) else np.zeros(0, bool)
        self.in_model = np.isin(self.rows, m.cand)
        self.banned = np.zeros(len(self.rows), dtype=bool)
        self.added = 0
        self.removed = 0
        self._pos_of = dict(zip(self.rows.tolist(), range(len(self.rows))))
        self.locked = np.zeros(len(self.rows), dtype=bool)
        if data.locks:
            key = pd.Series(list(zip(c.depot_id, c.site_id, c.item_id)))
            self.locked = key.isin({(lk.depot_id, lk.site_id, lk.item_id) for lk in data.locks}).to_numpy()
        self._idx: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._fair_need = np.zeros(0, dtype=np.int64)
        self._fair_row = np.zeros(0, dtype=np.int64)

    # -- duals ----------------------------------------------------------------------
    def _row_duals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = self.driver.impl.row_dual
        if self._idx is None:  # row indices are known once the model is in HiGHS
            n_groups = int(self.group.max()) + 1 if len(self.group) else 0
            n_needs = int(self.need.max()) + 1 if len(self.need) else 0
            si = np.full(n_groups, -1, dtype=np.int64)
            si[list(self.m.stock_rows)] = [c.index for c in self.m.stock_rows.values()]
            ni = np.full(n_needs, -1, dtype=np.int64)
            ni[list(self.m.need_rows)] = [c.index for c in self.m.need_rows.values()]
            ci = np.array([self.m.cap_rows[d].index if d in self.m.cap_rows else -1 for d in self.depot_names],
                          dtype=np.int64)
            self._idx = (si, ni, ci)
        fl = self.m.fair_list
        if len(fl) > len(self._fair_need):
            new = fl[len(self._fair_need):]
            self._fair_need = np.concatenate([self._fair_need, np.array([n for n, _ in new], dtype=np.int64)])
            self._fair_row = np.concatenate([self._fair_row, np.array([c.index for _, c in new], dtype=np.int64)])
        si, ni, ci = self._idx
        yy = np.r_[y, 0.0]  # index -1 -> 0
        ys, yn, yc = yy[si], yy[ni], yy[ci]
        if len(self._fair_need):
            yn = yn + np.bincount(self._fair_need, weights=y[self._fair_row], minlength=len(yn))
        return ys, yn, yc

    def reduced_costs(self, coef: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Reduced cost ``c_j - a_j^T y`` of the pool's candidates (``coef`` by pool position)."""
        ys, yn, yc = self._row_duals()
        sel = slice(None) if mask is None else mask
        rc = coef[sel] - ys[self.group[sel]] - self.inv[sel] * yn[self.need[sel]]
        cap = self.capped[sel]
        rc = rc - np.where(cap, self.weight[sel] * yc[self.depot[sel]], 0.0)
        return rc

    # -- pricing ----------------------------------------------------------------------
    def price(self, coef: np.ndarray, maximize: bool, thr: float, per_need: int = PER_NEED) -> np.ndarray:
        """Pool positions of the omitted candidates that improve the objective (best ``per_need`` per need)."""
        out = np.flatnonzero(~self.in_model & ~self.banned)
        if not len(out):
            return out
        rc = self.reduced_costs(coef, out)
        gain = rc if maximize else -rc
        good = gain > thr
        if not good.any():
            return np.zeros(0, dtype=np.int64)
        pos, gain = out[good], gain[good]
        order = np.lexsort((-gain, self.need[pos]))
        pos = pos[order]
        nd = self.need[pos]
        start = np.r_[0, np.flatnonzero(np.diff(nd)) + 1]
        rank = np.arange(len(pos)) - np.repeat(start, np.diff(np.r_[start, len(pos)]))
        keep = rank < per_need
        pos, gain = pos[keep], gain[order][keep]
        cap = max(MIN_ADD, int(ADD_PER_ROW * len(self.driver.impl._rows)))
        if len(pos) > cap:  # the most improving: a simplex iteration costs more with every column
            pos = pos[np.argpartition(-gain, cap)[:cap]]
        return np.sort(pos)

    def ban(self, coef: np.ndarray, thr: float) -> int:
        """After a stage's optimum: omitted candidates with a non-zero reduced cost stay at 0."""
        out = np.flatnonzero(~self.in_model & ~self.banned)
        if not len(out):
            return 0
        rc = self.reduced_costs(coef, out)
        b = out[np.abs(rc) > thr]
        self.banned[b] = True
        return len(b)

    # -- removing columns ------------------------------------------------------------------
    def slim(self, min_share: float = 0.5) -> int:
        """Take the model's columns that sit at zero out of the basis out of the model.

        A column that is non-basic at 0 is not needed by the current basis (which stays
        valid and primal feasible), and a simplex iteration costs more the more columns
        there are: HiGHS's primal simplex on a province's transport stage is 3-4x faster on
        the slim model plus the columns that pricing brings back. A removed column fixed
        at 0 by a hold is banned; any other returns to the pool and is priced like the
        never-built ones. Done only when at least ``min_share`` of the columns would go.

        Returns
        -------
        int
            The number of columns removed.
        """
        m, impl, drv = self.m, self.driver.impl, self.driver
        prob = m.prob
        h = getattr(prob, "solverModel", None)
        if h is None or not impl._vars or not m.x:
            return 0
        basis = h.getBasis()
        if not basis.valid:
            return 0
        status = np.fromiter((int(st) for st in basis.col_status), dtype=np.int8, count=len(impl._vars))
        xi = np.fromiter((v.index for v in m.x), dtype=np.int64, count=len(m.x))
        lb = np.fromiter((v.lowBound or 0.0 for v in m.x), dtype=float, count=len(m.x))
        ppos = pd.Index(self.rows).get_indexer(m.cand)
        drop = (status[xi] == 0) & (lb == 0.0) & ~self.locked[ppos]  # 0 = HighsBasisStatus.kLower
        if drop.sum() < max(1000, min_share * len(impl._vars)):
            return 0
        dcols = xi[drop]
        h.deleteCols(len(dcols), np.sort(dcols).astype(np.int32))
        gone = np.zeros(len(impl._vars), dtype=bool)
        gone[dcols] = True
        dead = [m.x[i] for i in np.flatnonzero(drop).tolist()]
        obj = prob.objective if prob.objective is not None else {}
        for v in dead:  # keep the PuLP rows (and objective) equal to the HiGHS ones
            for con in self._rows_of(v):
                con.expr.pop(v, None)
            obj.pop(v, None)
        keep = [v for v, g in zip(impl._vars, gone.tolist()) if not g]
        for j, v in enumerate(keep):
            v.index = j
        for v in dead:
            v.index = None
        impl._vars = keep
        prob._variables = list(keep)
        prob._variable_ids = {v.hash: v for v in keep}
        impl._obj_done = None
        drv._col_fixed = drv._col_fixed[~gone[: len(drv._col_fixed)]]
        fixed0 = np.array([v.upBound == 0.0 for v in dead], dtype=bool)
        dpos = ppos[drop]
        self.in_model[dpos] = False
        self.banned[dpos[fixed0]] = True
        m.x = [v for v, d in zip(m.x, drop.tolist()) if not d]
        m.cand = m.cand[~drop]
        self.removed += len(dead)
        return len(dead)

    def _rows_of(self, v: pulp.LpVariable) -> list[pulp.LpConstraint]:
        k = int(v.name[2:])  # x_<candidate row>
        p = self._pos_of[k]
        g, n = int(self.group[p]), int(self.need[p])
        rows = [self.m.stock_rows[g], self.m.need_rows[n], *self.m.fair_rows.get(n, ())]
        if self.capped[p]:
            rows.append(self.m.cap_rows[self.depot_names[int(self.depot[p])]])
        return rows

    # -- adding columns ------------------------------------------------------------------
    def add(self, pos: np.ndarray) -> list[pulp.LpVariable]:
        """Add the pool's candidates ``pos`` to the model (PuLP and HiGHS); return their variables."""
        m, impl = self.m, self.driver.impl
        prob = m.prob
        rows = self.rows[pos]
        new = [prob.add_variable(f"x_{k}", lowBound=0) for k in rows.tolist()]
        starts, index, value = [], [], []
        nnz = 0
        for v, p in zip(new, pos.tolist()):
            starts.append(nnz)
            g, n, inv = int(self.group[p]), int(self.need[p]), float(self.inv[p])
            entries = [(m.stock_rows[g], 1.0), (m.need_rows[n], inv)]
            entries += [(con, inv) for con in m.fair_rows.get(n, ())]
            if self.capped[p]:
                entries.append((m.cap_rows[self.depot_names[self.depot[p]]], float(self.weight[p])))
            for con, a in entries:
                if con is m.need_rows[n]:
                    m.fill[n][v] = a  # the need row's expression is the need's fill
                else:
                    con.expr[v] = a
                index.append(con.index)
                value.append(a)
            nnz += len(entries)
        prob._add_variables(new)
        first = len(impl._vars)
        for j, v in enumerate(new, start=first):
            v.index = j
        impl._vars.extend(new)
        k = len(new)
        prob.solverModel.addCols(
            k, np.zeros(k), np.zeros(k), np.full(k, impl_inf()), nnz,
            np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32), np.array(value, dtype=float),
        )
        self.in_model[pos] = True
        m.cand = np.concatenate([m.cand, rows])
        m.x.extend(new)
        self.added += k
        return new


def impl_inf() -> float:
    import highspy

    return highspy.kHighsInf


#: Integer cost scale of the min-cost-flow seed (costs are kg x minutes; 1/100 is ample for a seed).
FLOW_COST_SCALE = 100.0
#: Arcs of the min-cost-flow seed: each need's cheapest eligible candidates (plus the model's columns).
FLOW_PER_NEED = 12


def flow_seed(pool: ColumnPool, coef: np.ndarray, priced: bool = False, per_need: int | None = None) -> np.ndarray:
    """Pool positions worth adding before a transport stage: the support of a min-cost flow.

    After the tier and fairness stages, most of what the transport stage may still change is
    which lot group serves which need with the held fill amounts: a transportation problem.
    This solves that problem as an integer min-cost flow (OR-Tools' network simplex-like
    ``SimpleMinCostFlow``) over every eligible candidate (not banned, not held at a bound):
    each group supplies at most its stock row's bound, each need takes its current fill
    (rounded down), costs are ``coef`` x :data:`FLOW_COST_SCALE` rounded, substitute ratios
    and capacity rows are ignored. It is only a *seed*: the returned columns enter the
    restricted model, and the stage is still solved by the LP with exact pricing, so the
    result does not depend on it (a poor seed only costs pricing rounds).

    Returns
    -------
    ndarray
        Pool positions of omitted candidates that carry flow (empty when there is nothing
        to gain or the flow problem is infeasible).
    """
    from ortools.graph.python import min_cost_flow

    m, impl = pool.m, pool.driver.impl
    rv = getattr(impl, "row_value", None)
    if rv is None or not len(rv) or not m.stock_rows or not m.need_rows:
        return np.zeros(0, dtype=np.int64)
    n_groups = int(pool.group.max()) + 1
    n_needs = int(pool.need.max()) + 1
    sup = np.zeros(n_groups)
    for g, c in m.stock_rows.items():
        sup[g] = -c.constant
    dem = np.zeros(n_needs)
    nk = np.fromiter(m.need_rows.keys(), dtype=np.int64, count=len(m.need_rows))
    ni = np.fromiter((c.index for c in m.need_rows.values()), dtype=np.int64, count=len(m.need_rows))
    dem[nk] = rv[ni]
    # columns held at a bound keep their value: take it out of supply and demand
    held = np.zeros(len(pool.rows), dtype=bool)
    if m.x:
        ppos = pd.Index(pool.rows).get_indexer(m.cand)
        lo = np.fromiter((v.lowBound or 0.0 for v in m.x), dtype=float, count=len(m.x))
        up = np.fromiter((np.inf if v.upBound is None else v.upBound for v in m.x), dtype=float, count=len(m.x))
        fixed = lo == up
        held[ppos[fixed]] = True
        fv = lo[fixed]
        np.subtract.at(sup, pool.group[ppos[fixed]], fv)
        np.subtract.at(dem, pool.need[ppos[fixed]], fv * pool.inv[ppos[fixed]])
    arcs = np.flatnonzero(~pool.banned & ~held)
    if priced and pool.capped.any():  # capacity rows priced at their duals (a Lagrangian cost)
        yc = pool._row_duals()[2]
        coef = coef - np.where(pool.capped, pool.weight * yc[pool.depot], 0.0)
    per_need = FLOW_PER_NEED if per_need is None else per_need
    if per_need and len(arcs):  # each need's cheapest arcs, and every arc the model holds
        order = np.lexsort((coef[arcs], pool.need[arcs]))
        nd = pool.need[arcs][order]
        start = np.r_[0, np.flatnonzero(np.diff(nd)) + 1]
        rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
        keep = np.zeros(len(arcs), dtype=bool)
        keep[order[rank < per_need]] = True
        keep |= pool.in_model[arcs]
        arcs = arcs[keep]
    d_int = np.floor(np.maximum(dem, 0.0) + 1e-6).astype(np.int64)
    s_int = np.floor(np.maximum(sup, 0.0) + 1e-6).astype(np.int64)
    total = int(d_int.sum())
    if not len(arcs) or total == 0:
        return np.zeros(0, dtype=np.int64)
    # nodes: 0 = source, 1..G = groups, G+1..G+N = needs
    src = np.zeros(n_groups, dtype=np.int64)
    g_nodes = 1 + np.arange(n_groups, dtype=np.int64)
    starts = np.r_[src, 1 + pool.group[arcs]]
    ends = np.r_[g_nodes, 1 + n_groups + pool.need[arcs]]
    caps = np.r_[s_int, np.full(len(arcs), total, dtype=np.int64)]
    costs = np.r_[np.zeros(n_groups, dtype=np.int64), np.rint(coef[arcs] * FLOW_COST_SCALE).astype(np.int64)]
    f = min_cost_flow.SimpleMinCostFlow()
    f.add_arcs_with_capacity_and_unit_cost(starts, ends, caps, costs)
    supplies = np.r_[total, np.zeros(n_groups, dtype=np.int64), -d_int]
    f.set_nodes_supplies(np.arange(1 + n_groups + n_needs, dtype=np.int64), supplies)
    if f.solve() != f.OPTIMAL:
        return np.zeros(0, dtype=np.int64)
    flow = f.flows(np.arange(n_groups, n_groups + len(arcs), dtype=np.int64))
    pos = arcs[flow > 0]
    return np.sort(pos[~pool.in_model[pos]])
