"""Solve a round's LP stage by stage (lexicographic priorities).

Stages, in order (allocation-rules.md, "Priorities"), for each independent component:

1. ``tier[t]`` for each tier, 1 first: maximise the units of need filled in the tier;
1b. ``own``: given the tier fills, maximise the units that cover a need of their own item
   (:func:`allocator.allocate.classes.stage_objectives`; only when a substitute could ship at all);
2. ``fair[t]`` for each tier: the tier's fill ratios (filled / need, every need of
   the tier, all items together) are *leximin-optimal* (:func:`leximin`);
3. ``transport``: minimise the sum of q x w_i x t_ds;
4. ``fefo``: minimise units x days to the group's earliest expiry (sooner first);
5. ``donated``: minimise units of groups that are not donated stock.

Stages 1, 1b and 2 run on *need classes* (:mod:`allocator.allocate.classes`: needs with
the same tier, item and eligible lot groups, which these stages cannot tell apart),
a much smaller LP with the same optima; their holds map back to candidates exactly.
Stages 3-5 tell sites apart (travel) and run on the need-level LP with column
generation (:mod:`allocator.allocate.colgen`).

After each stage its optimum is *held* before the next objective is set, by
complementary slackness (:func:`allocator.allocate.solver.hold`): every column whose
reduced cost is non-zero is fixed at its bound and every row whose dual is non-zero
is fixed at its bound, which keeps exactly the stage's optimal solutions (up to the
dual tolerance ``HOLD_DUAL_TOL`` = 1e-7 of the largest objective coefficient). The
fairness stage is held by bounds instead: each need's fill is at least its final
level times its need (see :func:`leximin`). No stage uses a weighted sum of two
priorities.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.allocate.classes import (
    Holds,
    NeedClasses,
    TierHolds,
    need_classes,
    need_level,
    solve_tiers,
)
from allocator.allocate.colgen import PRICE_TOL, ColumnPool, initial_columns
from allocator.allocate.model import LP, build, define_fairness
from allocator.allocate.prepare import RoundData
from allocator.allocate.solver import Bounds, LPDriver, hold, hold_threshold, make_driver

#: A class can rise above a fairness level when its slack reaches this (a fill ratio).
RAISE_TOL = 1e-6


@dataclass
class Component:
    """What the stages of one component produced.

    Attributes
    ----------
    x : ndarray
        The LP value of each candidate, by position in the component's rows.
    columns : dict
        Column generation counts: candidates, built, generated, removed, banned.
    size : (int, int)
        Variables and constraints of the need-level model.
    in_solver : float
        Seconds inside the solver.
    stage_seconds : dict
        Seconds inside the solver by stage (the fairness tests counted with their stage).
    build_seconds : float
        Seconds building the need-level LP over every candidate.
    """

    x: np.ndarray
    columns: dict[str, float] = field(default_factory=dict)
    size: tuple[int, int] = (0, 0)
    in_solver: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    build_seconds: float = 0.0


def leximin(th: TierHolds, objectives: dict[str, float]) -> np.ndarray:
    """Priority 2 on the held class LP of :func:`~allocator.allocate.classes.solve_tiers`: each tier's leximin.

    **Definition.** Within a tier, the vector of fill ratios ``r_n = fill_n / q_n`` of
    its needs (every item of the tier together) is *leximin-optimal* among the solutions
    that keep every tier fill and the own-item optimum: its smallest ratio is as large as
    possible, then the next smallest, and so on. Tiers are taken in order, 1 first. The
    leximin vector of a convex feasible set is unique, so the outcome does not depend on
    the solver, its start or its duals.

    **Progressive filling, decided by LPs.** Round ``k`` maximises a common level ``t``
    with ``fill_C >= t Q_C`` for every active class (frozen classes keep
    ``fill_C >= tau_C Q_C``). A class is then *frozen* at ``tau_C = t*`` exactly when no
    solution that keeps ``t*`` for every active class and every earlier level raises it:
    this is decided by slack columns ``s_C`` in ``fill_C >= (t* + s_C) Q_C``,
    maximising the sum of the slacks of the undecided classes; a class whose slack is
    positive can rise (it is taken out of the sum and the LP is solved again) until the
    sum is 0. Those left cannot rise: by convexity, if every one of them could rise on
    its own, an average of those solutions would raise them all and the sum would be
    positive. The classes that can rise start the next round. A round freezes at
    least one class, so there are at most as many rounds as classes.

    **Classes.** Needs of one class are symmetric in these stages, so the unique
    leximin optimum gives them all one ratio (moving fill from a higher ratio to a lower
    one inside a class improves the leximin order); the progressive filling therefore
    runs on classes, and a class frozen at ``tau_C`` means ``fill_n >= tau_C q_n`` for
    each of its needs. With every level held, the fill of every need is fixed: any
    solution with ``r >= tau`` and one ``r_n > tau_n`` would be leximin-better.

    Returns
    -------
    ndarray
        The level of each class; ``objectives`` gets ``fair[t]`` (round 0's level) and
        ``fair[t].k`` (round k's).
    """
    drv, b, lp = th.driver, th.bounds, th.lp
    assert drv is not None and b is not None
    nc = lp.classes
    K = nc.n_classes
    levels = np.ones(K)
    need_rows = np.arange(lp.blocks["need"].start, lp.blocks["need"].stop)
    full = b.row_fixed[need_rows] & (b.row_lower[need_rows] >= nc.quantity - 1e-9)
    n_cols, n_rows = lp.matrix.shape[1], lp.matrix.shape[0]
    for t in sorted(set(nc.class_tier.tolist())):
        members = np.flatnonzero((nc.class_tier == t) & ~full)
        if not len(members):
            continue
        k = len(members)
        tcol, scols = n_cols, n_cols + 1 + np.arange(k)
        drv.add_columns(sp.csc_matrix((n_rows, k + 1)), np.zeros(k + 1), np.r_[1.0, np.zeros(k)], np.zeros(k + 1))
        n_cols += k + 1
        rows = define_fairness(lp, members, tcol, scols)
        rows.resize((k, n_cols))
        drv.add_rows(rows, np.zeros(k), np.full(k, np.inf))
        frows = n_rows + np.arange(k)
        n_rows += k
        b.add_cols(np.zeros(k + 1), np.r_[1.0, np.zeros(k)])
        b.add_rows(np.zeros(k), np.full(k, np.inf))
        active = np.ones(k, dtype=bool)
        e_t = np.zeros(n_cols)
        e_t[tcol] = 1.0
        lo = 0.0
        for rnd in range(k):
            b.set_cols(drv, tcol, lo, 1.0)
            drv.set_objective(e_t, maximize=True)
            name = f"fair[{t}]" if rnd == 0 else f"fair[{t}].{rnd}"
            level = min(1.0, max(lo, drv.solve(name)))
            objectives[name] = objectives.get(name, 0.0) + level
            if level >= 1.0 - RAISE_TOL:
                frozen = active.copy()
            else:
                b.set_cols(drv, tcol, level, level)
                idx = scols[active]
                b.set_cols(drv, idx, 0.0, 1.0)
                undecided = active.copy()
                while undecided.any():
                    c = np.zeros(n_cols)
                    c[scols[undecided]] = 1.0
                    drv.set_objective(c, maximize=True)
                    if drv.solve(f"{name}.test") <= RAISE_TOL:
                        break
                    up = undecided & (drv.values()[scols] > RAISE_TOL)
                    if not up.any():
                        break
                    undecided &= ~up
                frozen = undecided if undecided.any() else active.copy()  # numerically stuck: freeze all
                b.set_cols(drv, idx, 0.0, 0.0)
            cls = members[frozen]
            levels[cls] = level
            rr = need_rows[cls]
            b.set_rows(drv, rr, np.minimum(level * nc.quantity[cls], b.row_upper[rr]), b.row_upper[rr])
            b.set_rows(drv, frows[frozen], -np.inf, np.inf)  # the frozen classes' fairness rows are done
            active &= ~frozen
            lo = level
            if not active.any():
                break
        b.set_cols(drv, tcol, 0.0, 0.0)
    return levels


def _need_bounds(lp: LP, h: Holds, cls: NeedClasses, levels: np.ndarray,
                 x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds of the need-level LP ``lp`` with the holds ``h`` of the class stages and the fairness
    levels (by class of ``cls``); no need's lower bound exceeds its fill in ``x0``, a feasible point."""
    lower, upper = lp.row_lower.copy(), lp.row_upper.copy()
    nl = lp.classes
    nb = lp.blocks["need"]
    level = levels[cls.need_class][np.searchsorted(cls.needs, nl.needs)]
    fill0 = np.asarray(lp.matrix[nb, :] @ x0).reshape(-1)
    lo = np.minimum(np.minimum(level * nl.quantity, fill0), upper[nb])
    lower[nb] = np.where(lo <= 1e-9 * np.maximum(1.0, nl.quantity), 0.0, lo)  # no denormal levels
    for name, keys, fixed in (("need", nl.needs, h.need_fixed), ("stock", lp.groups, h.stock_fixed),
                              ("capacity", lp.depots, np.array(h.capacity_fixed, dtype=object)),
                              ("lock_own", lp.lock_own_needs, h.lock_own_fixed)):
        blk = lp.blocks[name]
        hit = np.isin(keys, fixed)
        if not hit.any():
            continue
        r = np.arange(blk.start, blk.stop)[hit]
        at = np.where(np.isfinite(upper[r]), upper[r], lower[r])
        lower[r] = upper[r] = at
    return lower, upper


def _lp_path(path: str | Path, part: str) -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}.{part}.lp")


def _cheap_start(data: RoundData, nc: NeedClasses, th: TierHolds, cost: np.ndarray) -> np.ndarray:
    """A feasible point of the held need-level LP near the cheapest transport: the transport stage's start.

    On the held class LP (every tier, own-item and fairness level in force) it minimises
    each class column's need-weighted average cost, then splits the class columns over
    their needs cheapest first (:meth:`~allocator.allocate.classes.NeedClasses.split_least_cost`).
    Only a start: the transport stage is then solved exactly over every candidate.
    """
    drv, b = th.driver, th.bounds
    assert drv is not None and b is not None
    q = data.needs.quantity.to_numpy(float)[nc.needs]
    J = nc.n_cols
    avg = np.bincount(nc.cand_col, weights=q[nc.cand_local] * cost, minlength=J) / nc.quantity[nc.col_class]
    c = np.zeros(len(b.col_lower))
    c[:J] = avg
    drv.set_objective(c, maximize=False)
    drv.solve("transport.start")
    return nc.split_least_cost(drv.values()[:J], data, cost)


def _run(pool: ColumnPool, drv: LPDriver, b: Bounds, name: str, cost: np.ndarray,
         colgen: bool, first: str = "primal") -> float:
    """Minimise ``cost`` (by column of the need-level LP) with column generation over the pool.

    The first solve uses the simplex ``first`` (``dual`` for a model just loaded, whose
    cold start dual simplex takes 3-4x fewer seconds than primal on a province round);
    each re-solve after new columns is primal (the basis stays primal feasible). Before new
    columns enter, those at 0 and out of the basis leave (:meth:`ColumnPool.slim`): a simplex
    iteration costs more with every column.
    """
    drv.set_objective(cost[pool.cols], maximize=False)
    thr = PRICE_TOL * hold_threshold(cost[~pool.banned])
    method = first
    while True:
        v = drv.solve(name, method)
        method = "primal"
        if not colgen:
            return v
        pos = pool.price(cost, thr)
        if not len(pos):
            return v
        pool.slim(b)  # sifting: columns at 0 out of the basis go back to the pool (1.8x faster on a province)
        pool.add(pos, cost, b)


def solve_component(data: RoundData, rows: np.ndarray, solver: str, objectives: dict[str, float],
                    column_generation: bool = True, write_lp: str | Path | None = None,
                    progress: Callable[[str, float], None] | None = None) -> Component:
    """Every stage on the component of candidate rows ``rows``; return its LP solution.

    Tiers, own item first and fairness run on need classes; transport and the
    tie-breaks on the need-level LP, with column generation when ``column_generation``
    (HiGHS) or over every eligible candidate. With ``write_lp`` (a path ending in
    ``.lp``), the held class LP after fairness and the need-level LP after the last
    stage are written beside it as ``<stem>.classes.lp`` and ``<stem>.need.lp``.
    ``progress(stage, fraction)`` is called as the stages end (fraction of this part).
    """
    def tick(stage: str, frac: float) -> None:
        if progress is not None:
            progress(stage, frac)

    t0 = time.perf_counter()
    nc = need_classes(data, rows)
    th = solve_tiers(data, rows, classes=nc, driver=make_driver(solver))
    objectives.update({k: objectives.get(k, 0.0) + v for k, v in th.objectives.items()})
    holds = th.holds  # the tier and own-item holds, mapped back before fairness adds its rows
    tick("tiers", 0.2)
    levels = leximin(th, objectives)
    tick("fairness", 0.35)
    cost = data.cand.cost.to_numpy(float)[rows]
    if write_lp is not None and th.driver is not None:
        cls_cols = [f"X_{j}" for j in range(nc.n_cols)]
        th.driver.write(_lp_path(write_lp, "classes"), cls_cols, th.lp.names)
    x0 = _cheap_start(data, nc, th, cost)
    class_s = time.perf_counter() - t0

    t_build = time.perf_counter()
    nl = need_level(data, rows)
    lp = build(data, nl)
    build_s = time.perf_counter() - t_build
    lower, upper = _need_bounds(lp, holds, nc, levels, x0)
    eligible = ~holds.banned
    colgen = column_generation and solver == "highs"
    gtab = data.groups
    gpos = np.full(int(gtab.group.max()) + 1, -1, dtype=np.int64)
    gpos[gtab.group.to_numpy(np.int64)] = np.arange(len(gtab))
    col_g = gpos[nl.col_group]  # each column's row of data.groups
    item = pd.factorize(gtab.item_id.to_numpy(object))[0][col_g]
    init = initial_columns(lp, cost, eligible, item, x0, seed=True) if colgen else eligible
    drv = make_driver(solver)
    pool = ColumnPool(lp, eligible, init, drv)
    b = pool.load(lower, upper)
    _run(pool, drv, b, "transport", cost, colgen, first="dual")
    tick("transport", 0.9)
    objectives["transport"] = objectives.get("transport", 0.0) + float(cost @ pool.values())

    exp_days = gtab.exp_days.to_numpy(float)[col_g]
    donated = 1.0 - gtab.donated_share.to_numpy(float)[col_g]
    prev = cost
    for name, coef in (("fefo", exp_days), ("donated", donated)):
        if not eligible.any() or np.ptp(coef[eligible]) <= 0:  # the same test with or without column generation
            continue
        thr = hold_threshold(prev[~pool.banned])
        hold(drv, prev[pool.cols], b, thr)
        if colgen:
            pool.ban(prev, thr)
        _run(pool, drv, b, name, coef, colgen)
        objectives[name] = objectives.get(name, 0.0) + float(coef @ pool.values())
        prev = coef
    x = pool.values()
    if write_lp is not None:
        drv.write(_lp_path(write_lp, "need"), [f"x_{k}" for k in rows[pool.cols].tolist()], lp.names)
    cols = {"candidates": len(rows), "built": len(pool.cols) + pool.removed, "generated": pool.added,
            "removed": pool.removed, "banned": int(pool.banned.sum()), "classes": nc.n_classes,
            "class_columns": nc.n_cols, "class_seconds": class_s}
    assert th.driver is not None
    stage_s: dict[str, float] = {}
    for d in (th.driver, drv):
        for k, v in d.stage_seconds.items():
            key = k.split(".test")[0]
            stage_s[key] = stage_s.get(key, 0.0) + v
    return Component(x=x, columns=cols, build_seconds=build_s,
                     size=(len(pool.cols), lp.matrix.shape[0]), in_solver=th.driver.seconds_in_solver
                     + drv.seconds_in_solver, stage_seconds=stage_s)
