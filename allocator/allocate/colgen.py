"""Column generation: solve a stage over every candidate while building only a few.

A province round has millions of candidate shipments (every need x every reachable
group of its item or a substitute), but an optimal allocation uses few of them:
mostly nearby depots. The transport and tie-break stages
(:mod:`allocator.allocate.stages`) therefore start from a *restricted* set of columns
(:func:`initial_columns`: the support of the fairness solution, the nearest groups of
every need, every candidate a lock touches) and each stage is solved by column
generation, which is exact:

1. solve the restricted model;
2. *price* every omitted candidate from the row duals ``y`` (one sparse product):
   its reduced cost is ``c_j - sum_i a_ij y_i`` over the rows it would enter;
3. add the candidates that improve the objective (the best :data:`PER_NEED` of each
   need, at most :data:`ADD_PER_ROW` per model row), re-solve warm-started from the
   previous basis, and repeat until none prices out: the duals are then feasible for
   the full model, so the restricted optimum is the optimum over every candidate.

Holding a stage's optimum (:func:`allocator.allocate.solver.hold`) fixes the in-model
columns and rows with non-zero reduced costs and duals; an omitted candidate whose
reduced cost is non-zero is *banned* (:meth:`ColumnPool.ban`: it stays at 0, which is
what complementary slackness asks of it), while one with a zero reduced cost stays
eligible for the later stages. The held set is therefore exactly the set of the
stage's optimal solutions over all candidates, as in the full model.

The pool touches the solver only through the :class:`~allocator.allocate.solver.LPDriver`
protocol (load, add and remove columns, duals).
"""

from __future__ import annotations

import numpy as np

from allocator.allocate.model import LP, dense_codes
from allocator.allocate.solver import Bounds, LPDriver

#: Nearest groups per need (and shipped item) in the first restricted model. 0: none, since the
#: start's and the flow seed's columns suffice and, on a province round, one nearest column per need
#: made the first solve 9x slower (44,039 columns 0.6-0.8 s, 60,222 columns 7.1 s).
NEAREST = 0
#: Columns added per need and pricing round (the most improving first).
PER_NEED = 4
#: At most this many columns per model row are added in one pricing round (and at least MIN_ADD).
ADD_PER_ROW = 0.15
MIN_ADD = 2000
#: A column enters when its gain per unit exceeds this fraction of the hold threshold.
PRICE_TOL = 1e-2


def smallest_per_group(group: np.ndarray, value: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` smallest ``value`` of each ``group`` (ties: the earlier position).

    >>> smallest_per_group(np.array([0, 0, 0, 1, 1]), np.array([3.0, 1.0, 2.0, 5.0, 4.0]), 2).tolist()
    [False, True, True, True, True]
    """
    order = np.lexsort((value, group))
    g = group[order]
    start = np.r_[0, np.flatnonzero(np.diff(g)) + 1] if len(g) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
    keep = np.zeros(len(group), dtype=bool)
    keep[order[rank < k]] = True
    return keep


def initial_columns(lp: LP, cost: np.ndarray, eligible: np.ndarray, item: np.ndarray,
                    x0: np.ndarray | None = None, nearest: int = NEAREST, seed: bool = False) -> np.ndarray:
    """The columns (a boolean mask over ``lp``'s columns) of a component's first restricted model.

    For every need its ``nearest`` cheapest eligible columns of each shipped item, every
    column a lock touches, and the support of ``x0`` (a feasible point: the restricted
    model is then feasible from the start). ``item`` codes the item each column ships. With
    ``seed``, also the support of :func:`flow_seed` from ``x0``.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.allocate.classes import need_level
    >>> from allocator.allocate.model import build
    >>> from allocator.allocate.prepare import prepare
    >>> d = prepare(examples.three_tiers())
    >>> lp = build(d, need_level(d, np.arange(len(d.cand))))
    >>> J = lp.matrix.shape[1]
    >>> initial_columns(lp, np.zeros(J), np.ones(J, bool), np.zeros(J, int), nearest=3).all()
    np.True_
    """
    nc = lp.classes
    J = nc.n_cols
    keep = np.zeros(J, dtype=bool)
    pos = np.flatnonzero(eligible)
    if len(pos) and nearest > 0:
        it = np.asarray(item)[pos]
        key = nc.col_class[pos].astype(np.int64) * (int(it.max()) + 1) + it
        keep[pos[smallest_per_group(key, cost[pos], nearest)]] = True
    keep[nc.cand_col[nc.cand_lock >= 0]] = True
    if x0 is not None:
        keep |= np.asarray(x0) > 0
        if seed:
            keep |= flow_seed(lp, cost, eligible, x0)
    return keep & eligible


#: Integer cost scale of the min-cost-flow seed (costs are kg x minutes; 1/100 is ample for a seed).
FLOW_COST_SCALE = 100.0
#: Arcs of the min-cost-flow seed: each need's cheapest eligible columns (and the start's support).
#: On a province round 16 gives the same transport time as all ~35 per need, in half the flow's time.
FLOW_PER_NEED = 16


def flow_seed(lp: LP, cost: np.ndarray, eligible: np.ndarray, x0: np.ndarray,
              per_need: int = FLOW_PER_NEED) -> np.ndarray:
    """Columns worth starting the transport stage with: the support of a min-cost flow (a boolean mask).

    Given the held fills, most of what the transport stage decides is which lot group
    serves which need: a transportation problem. This solves it as an integer min-cost
    flow (OR-Tools' ``SimpleMinCostFlow``) over each need's ``per_need`` cheapest eligible
    columns and the support of ``x0`` (0: every eligible column): each group
    supplies at most what it ships in the feasible point ``x0`` (rounded up), each need
    takes its fill in ``x0`` (rounded down), costs are ``cost`` x :data:`FLOW_COST_SCALE`
    rounded; substitute ratios and capacity rows are ignored. It is only a *seed*: the
    stage is still solved by the LP with exact pricing, so the result does not depend on
    it (a poor seed costs pricing rounds); an infeasible flow gives no seed.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.allocate.classes import need_level
    >>> from allocator.allocate.model import build
    >>> from allocator.allocate.prepare import prepare
    >>> d = prepare(examples.two_hospitals())
    >>> lp = build(d, need_level(d, np.arange(len(d.cand))))
    >>> flow_seed(lp, np.ones(2), np.ones(2, bool), np.array([800.0, 200.0])).tolist()
    [True, True]
    """
    from ortools.graph.python import min_cost_flow

    nc = lp.classes
    J = nc.n_cols
    out = np.zeros(J, dtype=bool)
    arcs = np.flatnonzero(eligible)
    if not len(arcs) or not (x0 > 0).any():
        return out
    if per_need:
        keep = smallest_per_group(nc.col_class[arcs], cost[arcs], per_need) | (x0[arcs] > 0)
        arcs = arcs[keep]
    grp = dense_codes(nc.col_group)[1]
    n_g, n_n = int(grp.max()) + 1, nc.n_classes
    sup = np.bincount(grp, weights=x0, minlength=n_g)
    dem = np.bincount(nc.col_class, weights=x0 * nc.col_inv, minlength=n_n)
    s_int = np.ceil(sup * 1.001 + 1.0).astype(np.int64)
    d_int = np.floor(dem + 1e-6).astype(np.int64)
    total = int(d_int.sum())
    if total == 0:
        return out
    # nodes: 0 = source, 1..G = groups, G+1..G+N = needs
    starts = np.r_[np.zeros(n_g, dtype=np.int64), 1 + grp[arcs]]
    ends = np.r_[1 + np.arange(n_g, dtype=np.int64), 1 + n_g + nc.col_class[arcs]]
    caps = np.r_[s_int, np.full(len(arcs), total, dtype=np.int64)]
    costs = np.r_[np.zeros(n_g, dtype=np.int64), np.rint(cost[arcs] * FLOW_COST_SCALE).astype(np.int64)]
    f = min_cost_flow.SimpleMinCostFlow()
    f.add_arcs_with_capacity_and_unit_cost(starts, ends, caps, costs)
    f.set_nodes_supplies(np.arange(1 + n_g + n_n, dtype=np.int64),
                         np.r_[total, np.zeros(n_g, dtype=np.int64), -d_int])
    if f.solve() != f.OPTIMAL:
        return out
    flow = f.flows(np.arange(n_g, n_g + len(arcs), dtype=np.int64))
    out[arcs[flow > 0]] = True
    return out


class ColumnPool:
    """The columns of a need-level LP, those in the restricted model and their pricing.

    Parameters
    ----------
    lp : LP
        The component's LP over every candidate
        (:func:`~allocator.allocate.classes.need_level`).
    eligible : ndarray of bool
        Columns that may still be non-zero (not banned by an earlier hold).
    initial : ndarray of bool
        Columns of the first restricted model.
    driver : LPDriver
        The solver; :meth:`load` loads the restricted model into it.
    """

    def __init__(self, lp: LP, eligible: np.ndarray, initial: np.ndarray, driver: LPDriver):
        self.lp, self.driver = lp, driver
        self.A = lp.matrix.tocsc()
        self.need = lp.classes.col_class
        self.banned = ~np.asarray(eligible, dtype=bool)
        self.cols = np.flatnonzero(np.asarray(initial, dtype=bool) & ~self.banned)  # model order
        self.in_model = np.zeros(self.A.shape[1], dtype=bool)
        self.in_model[self.cols] = True
        self.added = 0
        self.removed = 0

    def load(self, row_lower: np.ndarray, row_upper: np.ndarray) -> Bounds:
        """Load the restricted model into the driver; return its bounds."""
        k = len(self.cols)
        b = Bounds(np.zeros(k), np.full(k, np.inf), np.array(row_lower, float), np.array(row_upper, float))
        self.driver.load(self.A[:, self.cols], b.col_lower, b.col_upper, b.row_lower, b.row_upper)
        return b

    def values(self) -> np.ndarray:
        """The last solution over every column (0 where omitted)."""
        x = np.zeros(self.A.shape[1])
        x[self.cols] = np.maximum(self.driver.values(), 0.0)
        return x

    def reduced_costs(self, cost: np.ndarray) -> np.ndarray:
        """``c_j - a_j^T y`` of every column from the driver's row duals."""
        return cost - self.A.T @ self.driver.duals()  # the transpose of a CSC matrix is a CSR view, no copy

    def price(self, cost: np.ndarray, thr: float, per_need: int = PER_NEED) -> np.ndarray:
        """Omitted, eligible columns whose reduced cost improves a minimisation (best ``per_need`` per need)."""
        out = ~self.in_model & ~self.banned
        if not out.any():
            return np.zeros(0, dtype=np.int64)
        rc = self.reduced_costs(cost)
        good = np.flatnonzero(out & (-rc > thr))
        if not len(good):
            return good
        gain = -rc[good]
        keep = smallest_per_group(self.need[good], -gain, per_need)  # the most improving of each need
        pos, gain = good[keep], gain[keep]
        cap = max(MIN_ADD, int(ADD_PER_ROW * self.A.shape[0]))
        if len(pos) > cap:  # the most improving: a simplex iteration costs more with every column
            pos = pos[np.argpartition(-gain, cap)[:cap]]
        return np.sort(pos)

    def add(self, pos: np.ndarray, cost: np.ndarray, b: Bounds) -> None:
        """Add columns ``pos`` to the restricted model with their costs ``cost[pos]``."""
        if not len(pos):
            return
        self.driver.add_columns(self.A[:, pos], np.zeros(len(pos)), np.full(len(pos), np.inf), cost[pos])
        self.cols = np.r_[self.cols, pos]
        self.in_model[pos] = True
        b.add_cols(np.zeros(len(pos)), np.full(len(pos), np.inf))
        self.added += len(pos)

    def ban(self, cost: np.ndarray, thr: float) -> int:
        """After a stage's optimum: omitted columns with a non-zero reduced cost stay at 0."""
        out = ~self.in_model & ~self.banned
        if not out.any():
            return 0
        rc = self.reduced_costs(cost)
        b = out & (np.abs(rc) > thr)
        self.banned |= b
        return int(b.sum())

    def slim(self, b: Bounds) -> int:
        """Take the model's columns that are at 0 and out of the basis out of the model (sifting).

        A column non-basic at 0 is not needed by the current basis (which stays valid), and a
        simplex iteration costs more the more columns there are; a removed column fixed at 0
        by a hold is banned, any other returns to the pool and is priced like the others.
        Done only when at least half of the columns would go.
        """
        drop = self.driver.nonbasic_at_zero() & (b.col_lower == 0.0)
        if drop.sum() < max(1000, 0.5 * len(self.cols)):
            return 0
        gone = self.cols[drop]
        self.driver.remove_columns(drop)
        self.banned[gone[b.col_fixed[drop]]] = True
        self.in_model[gone] = False
        self.cols = self.cols[~drop]
        b.keep_cols(~drop)
        self.removed += len(gone)
        return len(gone)

