"""Solve a round's model stage by stage (lexicographic priorities).

Stages, in order (allocation-rules.md, "Priorities"):

1. ``tier[t]`` for each tier, 1 first: maximise the units of need filled in the tier;
1b. ``own``: given the tier fills, maximise the units that cover a need of their own item
   (:func:`own_item_first`; only when a substitute could ship at all);
2. ``fair[t]`` for each tier: maximise, for every item, the smallest fill ratio among
   the tier's sites needing it (max-min), repeated for the sites that are not the
   bottleneck (progressive filling, at most :data:`FAIR_ROUNDS` rounds; a site is the
   bottleneck when its fairness row has a non-zero dual);
3. ``transport``: minimise the sum of q x w_i x t_ds;
4. ``fefo``: minimise units x days to the group's earliest expiry (sooner first);
5. ``donated``: minimise units of groups that are not donated stock.

After each stage its optimum is *held* before the next objective is set, by
complementary slackness (:meth:`allocator.allocate.solver.Driver.hold`): every
variable whose reduced cost is non-zero is fixed at its bound and every row whose
dual is non-zero is fixed at its bound, which keeps exactly the stage's optimal
solutions (up to the dual tolerance ``HOLD_DUAL_TOL`` = 1e-7 of the largest
objective coefficient: a variable whose reduced cost is below it may move, losing
at most 1e-7 per unit of the stage's objective). Unlike an "objective >= optimum"
row this adds nothing dense to the model and shrinks every later stage. No stage
uses a weighted sum of two priorities.

With a :class:`~allocator.allocate.colgen.ColumnPool` (HiGHS), each stage is solved by
column generation over every candidate; the transport stage starts from the columns in
the basis and sifts (see :mod:`allocator.allocate.colgen`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pulp

from allocator.allocate.colgen import ColumnPool, flow_seed
from allocator.allocate.model import Model, define_fairness
from allocator.allocate.prepare import RoundData
from allocator.allocate.solver import Driver, hold_threshold
from allocator.errors import InfeasibleError, SolverError

FAIR_ROUNDS = 3
#: Column generation adds a column whose gain per unit exceeds this fraction of the hold threshold.
PRICE_TOL = 1e-2
#: The transport stage starts with a min-cost flow's columns (:func:`~allocator.allocate.colgen.flow_seed`)
#: and its first SEED_ROUNDS pricing rounds add those of a flow at the capacity duals' prices (0 = no
#: seed at all). On a province round a third flow costs more than the simplex iterations it saves.
SEED_ROUNDS = 1


def own_item_first(data: RoundData) -> np.ndarray | None:
    """The objective of priority 1b, *own item before substitutes* (allocation-rules.md), by candidate.

    1 for a candidate that ships the need's own item, 0 for one that ships a substitute;
    None when the round has no substitute candidate. Maximised after the tier stages
    and held, it leaves no unit of an item covering another item's need while a need for
    that item itself that the unit's group may reach, in the same or a higher tier, is
    short: moving the unit there keeps every hard rule (same group, same depot, same
    weight) and every tier fill (the higher tier's is at its maximum already; in the same
    tier one unit covers one unit of its own item and ``1/ratio`` of the other need, so
    for ``ratio >= 1`` the tier's fill does not drop) and adds one unit of own item.
    With ``ratio < 1`` such a move would lower the tier's fill, which priority 1 forbids.
    """
    own = data.cand.own.to_numpy(dtype=bool)
    if own.all():
        return None
    return own.astype(float)


def solve_stages(
    m: Model, data: RoundData, driver: Driver, objectives: dict[str, float], tick: Callable[[], None] | None = None,
    pool: ColumnPool | None = None,
) -> np.ndarray:
    """Run every stage on model ``m``; return the LP value of each variable (in the order of ``m.cand``).

    ``objectives`` accumulates each stage's optimum (summed over components). With a
    ``pool`` (:class:`~allocator.allocate.colgen.ColumnPool`), ``m`` is a restricted
    model and each stage is solved by column generation over the pool; columns are
    appended to ``m.cand`` and ``m.x`` as they enter.
    """
    cand = data.cand
    prob = m.prob
    first = True

    def run(stage: str, coef: np.ndarray | None, maximize: bool, extra: pulp.LpAffineExpression | None = None,
            slim: bool = False, seed: bool = False) -> float:
        """Solve one stage with objective ``coef`` (by candidate row) plus ``extra``."""
        nonlocal first
        if pool is not None and slim:
            pool.slim()
            if seed and coef is not None:  # columns of a min-cost flow: fewer pricing rounds
                pool.add(flow_seed(pool, coef[pool.rows]))
        prob.sense = pulp.LpMaximize if maximize else pulp.LpMinimize
        terms = [] if coef is None else [(v, a) for v, a in zip(m.x, coef[m.cand].tolist()) if a != 0.0]
        obj = pulp.LpAffineExpression(terms)
        if extra is not None:
            obj.addInPlace(extra)
        prob.setObjective(obj)
        rounds = 0
        while True:
            try:
                v = driver.solve(prob, stage)
            except SolverError as exc:
                if first and any(k.startswith("lock[") for k in m.names.values()):
                    locks = sorted(v for v in m.names.values() if v.startswith("lock["))
                    raise InfeasibleError(
                        "the locks " + ", ".join(locks) + " cannot hold together with the hard rules "
                        "(stock, need, capacity): remove or reduce one"
                    ) from exc
                raise
            first = False
            if pool is None:
                break
            pc = np.zeros(len(pool.rows)) if coef is None else coef[pool.rows]
            pos = pool.price(pc, maximize, PRICE_TOL * hold_threshold(prob))
            if not len(pos):
                break
            if slim:  # sifting: keep the working set small while pricing brings columns in
                pool.slim()
            if seed and rounds < SEED_ROUNDS:  # a min-cost flow at the capacity duals' prices
                pos = np.union1d(pos, flow_seed(pool, pc, priced=True))
                pos = pos[~pool.in_model[pos]]
            rounds += 1
            new = pool.add(pos)
            if coef is not None:
                for var, a in zip(new, pc[pos].tolist()):
                    if a != 0.0:
                        prob.objective[var] = a
        objectives[stage] = objectives.get(stage, 0.0) + v
        return v

    def hold(coef: np.ndarray | None) -> None:
        thr = hold_threshold(prob)
        driver.hold(prob)
        if pool is not None:
            pool.ban(np.zeros(len(pool.rows)) if coef is None else coef[pool.rows], thr)

    # 1. treatment first, tier by tier
    all_tiers = cand.tier.to_numpy()
    all_inv = 1.0 / cand.ratio.to_numpy()
    present = pool.rows if pool is not None else m.cand
    tier_list = sorted(set(all_tiers[present].tolist()))
    for t in tier_list:
        coef = np.where(all_tiers == t, all_inv, 0.0)
        run(f"tier[{t}]", coef, True)
        hold(coef)
        if tick:
            tick()

    # 1b. own item before substitutes
    own = own_item_first(data)
    if own is not None and (own[present] == 0).any():
        run("own", own, True)
        hold(own)
        if tick:
            tick()

    # 2. fairness inside each tier and item
    n_tier, n_item = data.needs.tier.to_numpy(), data.needs.item_id.to_numpy()
    for t in tier_list:
        nrows = [n for n in m.fill if n_tier[n] == t]
        by_item: dict[str, list[int]] = {}
        for n in nrows:
            by_item.setdefault(str(n_item[n]), []).append(n)
        active = {i: ns for i, ns in by_item.items() if len(ns) >= 2}
        for rnd in range(FAIR_ROUNDS):
            if not active:
                break
            z, rows = define_fairness(m, data, t, rnd, active)
            run(f"fair[{t}]" if rnd == 0 else f"fair[{t}].{rnd}", None, True,
                pulp.LpAffineExpression([(v, 1.0) for v in z.values()]))
            zval = dict(zip(z, driver.values(list(z.values()))))
            dual = dict(zip(rows, driver.duals(list(rows.values()))))
            hold(None)
            nxt = {}
            for i, ns in active.items():
                free = [n for n in ns if abs(dual[n]) <= 1e-9]
                if zval[i] < 1 - 1e-9 and free and len(free) < len(ns):
                    nxt[i] = free
            active = nxt
        if tick:
            tick()

    # 3. transport
    cost = cand.cost.to_numpy()
    run("transport", cost, False, slim=True, seed=SEED_ROUNDS > 0)  # a new objective: start from the columns in use
    if tick:
        tick()

    # 4-5. tie-breaks, only when they can change something
    g = data.groups.set_index("group")
    exp_days = g.exp_days.reindex(cand.group).to_numpy()
    donated = 1.0 - g.donated_share.reindex(cand.group).to_numpy()
    if np.ptp(exp_days[present]) > 0 or np.ptp(donated[present]) > 0:
        hold(cost)
        if np.ptp(exp_days[present]) > 0:
            run("fefo", exp_days, False)
            if np.ptp(donated[present]) > 0:
                hold(exp_days)
        if np.ptp(donated[present]) > 0:
            run("donated", donated, False)
    if tick:
        tick()
    return np.maximum(driver.values(m.x), 0.0)
