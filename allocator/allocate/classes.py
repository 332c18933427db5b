"""Tier stages on *need classes*: the same optima from a much smaller linear program.

The round's LP (:mod:`allocator.allocate.model`) has a column per candidate
``(g, n)`` (lot group ``g``, need ``n``) with coefficient 1 in ``g``'s stock row,
``1/ratio`` in ``n``'s need row (``<= q_n``) and ``weight`` in the depot's capacity
row when the depot's dispatch capacity is finite. The tier stages
(:mod:`allocator.allocate.stages`) maximise, one tier after another, the units of
need filled in the tier, sum over the tier's candidates of ``x / ratio``, and hold
each optimum; the 1b stage then maximises the units that ship the need's own item.

**Classes.** Needs with the same tier, the same need item and the same set of
eligible lot groups (the groups of their ``data.cand`` rows) form a *class* ``C``.
Every candidate ``(g, n)`` of a class has the same ratio, weight, depot, own-item
flag and tier, so the stages cannot tell the needs of a class apart. Aggregating
``X(g, C) = sum_{n in C} x(g, n)`` with the class row
``sum_{n in C} fill_n <= Q_C = sum_{n in C} q_n`` gives the *class LP*:

* every full solution maps to a class solution with the same stock, capacity and
  objective values (sum the need rows of the class);
* every class solution splits back, ``x(g, n) = X(g, C) q_n / Q_C``, into a full
  solution (``fill_n = fill_C q_n / Q_C <= q_n``; stock, capacity and objectives
  unchanged).

So both LPs have the same stage optima, stage after stage.

**Duals and holds.** With ``y_n = y_C`` for every need of ``C`` and the stock and
capacity duals unchanged, the reduced cost of a candidate ``(g, n)`` equals that of
its class column ``(g, C)``; the mapped duals are feasible for the full LP and, with
the split solution, complementary: an optimal pair of the full LP. By complementary
slackness, a feasible point of the full LP is optimal exactly when it is 0 on every
column with a non-zero reduced cost and at its bound on every row with a non-zero
dual, for *any* optimal dual. The class holds therefore map back exactly:

* a class column with a non-zero reduced cost bans (fixes at 0) all its candidates;
* a class row with a non-zero dual fixes every need row of the class at its bound
  (``fill_C = Q_C`` with ``fill_n <= q_n`` means every need of the class is full);
* stock and capacity rows with non-zero duals are fixed at their bounds, as in the
  full model.

The held full LP aggregates to the held class LP again (a ban is a whole class
column, a fixed class row is all its needs full), so the argument repeats for every
later stage. "Non-zero" uses the full model's rule:
:data:`~allocator.allocate.solver.HOLD_DUAL_TOL` times the largest objective
coefficient (:func:`~allocator.allocate.solver.hold_threshold`).

**Locks.** A ``lock`` row (per depot, site and item) and a ``lock_own`` row (per
site and item) name single needs, so every need that a lock touches is a class of
its own (a *singleton*), and the lock rows are written on its class columns, which
are then exactly its candidates.

On the province synth scenario of ``bench/allocate.py`` (2,000 sites, 20 items,
10,000 lots) the 25,530 needs fall into 433 classes and the 1,525,828 candidates
into 28,845 class columns; the tier, own-item and fairness stages
(:func:`allocator.allocate.stages.leximin`) run on them in about 1.2 s, where the
need-level model took about 22 s.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.allocate.model import LP, NeedClasses, build, dense_codes
from allocator.allocate.prepare import RoundData
from allocator.allocate.solver import Bounds, LPDriver, hold, make_driver
from allocator.errors import InfeasibleError, InvalidArgumentError, SolverError

#: The stages :func:`solve_tiers` knows: every tier stage, then 1b (own item before substitutes).
STAGES = ("tiers", "own")

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# -- classes ---------------------------------------------------------------------------------


def _mix64(a: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a well-spread 64-bit hash of each non-negative integer."""
    with np.errstate(over="ignore"):
        z = (a.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return z ^ (z >> np.uint64(31))


def _group_set_keys(group: np.ndarray, starts: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per need (a block of ``group`` from each start): its size and two 64-bit hashes of its set of groups."""
    top = int(group.max()) + 1 if len(group) else 1
    h1 = _mix64(np.arange(top))
    h2 = _mix64(h1 ^ np.uint64(0x5DEECE66D))
    out = np.zeros((len(starts), 3), dtype=np.int64)
    if len(starts):
        out[:, 0] = count
        out[:, 1] = np.add.reduceat(h1[group], starts).view(np.int64)
        out[:, 2] = np.add.reduceat(h2[group], starts).view(np.int64)
    return out


def _exact_group_set_keys(group: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per need: a code of its exact (sorted) sequence of groups (a loop over needs; only after a hash collision)."""
    if not len(starts):
        return np.zeros((0, 1), dtype=np.int64)
    sets = [blk.tobytes() for blk in np.split(group.astype(np.int64), starts[1:])]
    return pd.factorize(pd.Series(sets, dtype=object))[0].astype(np.int64).reshape(-1, 1)


def lock_index(data: RoundData, need: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For each candidate (its need row and lot group): the index in ``data.locks`` of the lock
    on its (depot, site, item), or -1 (vectorised: a code per group and per need's site)."""
    out = np.full(len(need), -1, dtype=np.int64)
    if not data.locks or not len(need):
        return out
    g = data.groups
    gid = g.group.to_numpy(np.int64)
    pair_codes, pairs = pd.factorize(pd.MultiIndex.from_arrays([g.depot_id.to_numpy(object), g.item_id.to_numpy(object)]))
    gcode = np.full(int(gid.max()) + 1, -1, dtype=np.int64)
    gcode[gid] = pair_codes
    site_codes, sites = pd.factorize(data.needs.site_id.to_numpy(object))
    n_sites = len(sites) + 1
    lk_pair = pd.Index(pairs).get_indexer(pd.MultiIndex.from_tuples([(lk.depot_id, lk.item_id) for lk in data.locks]))
    lk_site = pd.Index(sites).get_indexer(pd.Index([lk.site_id for lk in data.locks]))
    ok = (lk_pair >= 0) & (lk_site >= 0)
    if not ok.any():
        return out
    lk_code = lk_pair[ok] * n_sites + lk_site[ok]
    code = gcode[group] * n_sites + site_codes[need]
    pos = pd.Index(lk_code).get_indexer(code)
    hit = pos >= 0
    out[hit] = np.flatnonzero(ok)[pos[hit]]
    return out


def _need_blocks(need: np.ndarray, group: np.ndarray) -> np.ndarray | None:
    """The order that sorts candidates by (need, group); None when they are sorted already."""
    if len(need) < 2:
        return None
    dn = np.diff(need)
    if (dn > 0).all() or ((dn >= 0).all() and (np.diff(group)[dn == 0] > 0).all()):
        return None
    return np.lexsort((group, need))


def need_classes(data: RoundData, rows: np.ndarray, *, _hash: bool = True) -> NeedClasses:
    """The need classes of the candidate rows ``rows`` of one component (vectorised).

    Needs with the same tier, need item and set of eligible lot groups form a class;
    a need that a lock touches is a class of its own (see the module docstring).

    Parameters
    ----------
    data : RoundData
        The prepared round.
    rows : ndarray of int
        Candidate rows (of ``data.cand``) of one component
        (:func:`allocator.allocate.model.components`).

    Returns
    -------
    NeedClasses

    Notes
    -----
    The sets of groups are compared by two independent 64-bit hashes and their size;
    the result is then verified exactly (every candidate's group is the group of its
    class column at the same rank in the class's sorted list of groups), and in the
    (astronomically unlikely) case of a collision the sets are compared exactly instead.
    Only numeric columns of ``data.cand`` are read (depots and weights come from
    ``data.groups``), so no text column of a million rows is converted.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.allocate.prepare import prepare
    >>> d = prepare(examples.two_hospitals())
    >>> nc = need_classes(d, np.arange(len(d.cand)))
    >>> (len(nc.needs), nc.n_classes, nc.n_cols, nc.quantity.tolist())
    (2, 1, 1, [1600.0])
    """
    rows = np.asarray(rows, dtype=np.int64)
    cand = data.cand
    need0 = cand["need"].to_numpy(np.int64)[rows]
    group0 = cand["group"].to_numpy(np.int64)[rows]
    order = _need_blocks(need0, group0)
    need, group = (need0, group0) if order is None else (need0[order], group0[order])
    P = len(need)
    starts = np.r_[0, np.flatnonzero(np.diff(need)) + 1] if P else np.zeros(0, dtype=np.int64)
    count = np.diff(np.r_[starts, P]).astype(np.int64)
    needs = need[starts]
    nn = len(needs)
    local = np.repeat(np.arange(nn), count)
    rank = np.arange(P) - starts[local]
    nd = data.needs
    tier = nd.tier.to_numpy(np.int64)[needs]
    item_codes, item_names = pd.factorize(nd.item_id.to_numpy(object)[needs])
    # singletons for needs a lock touches
    lock0 = lock_index(data, need0, group0)
    cand_lock = lock0 if order is None else lock0[order]
    locked_need = np.zeros(nn, dtype=bool)
    locked_need[local[cand_lock >= 0]] = True
    single = np.where(locked_need, np.arange(nn) + 1, 0)

    def classify(sets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = np.column_stack([tier, item_codes, single, sets])
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        # number the classes in the order of their first need
        by_first = np.argsort(first, kind="stable")
        relabel = np.empty(len(first), dtype=np.int64)
        relabel[by_first] = np.arange(len(first))
        return relabel[inv], first[by_first]

    if nn:
        need_class, rep = classify(_group_set_keys(group, starts, count) if _hash
                                   else _exact_group_set_keys(group, starts))
    else:
        need_class, rep = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_classes = len(rep)
    # class columns: the groups of each class's first need, in order; a candidate's column is
    # the one at its rank within its need
    width = count[rep]
    col_start = np.r_[0, np.cumsum(width)[:-1]] if n_classes else np.zeros(0, dtype=np.int64)
    J = int(width.sum())
    col_class = np.repeat(np.arange(n_classes), width)
    col_src = np.repeat(starts[rep], width) + (np.arange(J) - np.repeat(col_start, width))
    col_group = group[col_src]
    cand_col = col_start[need_class[local]] + rank
    if _hash and not np.array_equal(col_group[cand_col], group):
        return need_classes(data, rows, _hash=False)  # a hash collision: compare the sets exactly
    if order is not None:  # back to the order of rows
        back = np.empty(P, dtype=np.int64)
        back[order] = np.arange(P)
        cand_col, cand_lock, local = cand_col[back], cand_lock[back], local[back]

    q = nd.quantity.to_numpy(float)[needs]
    size = np.bincount(need_class, minlength=n_classes)
    quantity = np.bincount(need_class, weights=q, minlength=n_classes)
    class_tier = tier[rep]
    class_item = np.asarray(item_names, dtype=object)[item_codes[rep]] if n_classes else np.zeros(0, dtype=object)
    class_locked = locked_need[rep]
    src = col_src if order is None else order[col_src]  # a position in rows of each column's first candidate
    g = data.groups
    gpos = pd.Index(g.group.to_numpy(np.int64)).get_indexer(col_group)
    col_depot = g.depot_id.to_numpy(object)[gpos]
    capped = set(data.capacity)
    return NeedClasses(
        rows=rows, needs=needs, need_class=need_class, cand_need=need0, cand_col=cand_col,
        cand_local=local, cand_lock=cand_lock,
        quantity=quantity, class_size=size, class_tier=class_tier, class_item=class_item,
        class_locked=class_locked, col_group=col_group, col_class=col_class, col_tier=class_tier[col_class],
        col_inv=1.0 / cand["ratio"].to_numpy(float)[rows[src]],
        col_weight=g.weight.to_numpy(float)[gpos], col_depot=col_depot,
        col_own=cand["own"].to_numpy(bool)[rows[src]],
        col_capped=np.fromiter((d in capped for d in col_depot), dtype=bool, count=len(col_depot)),
    )


def need_level(data: RoundData, rows: np.ndarray) -> NeedClasses:
    """Every need a class of its own and every candidate a column: the full model's columns.

    The transport and tie-break stages tell needs apart (travel costs differ by site), so
    they run on this; :func:`allocator.allocate.model.build` writes the same row families
    over it as over :func:`need_classes`.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.allocate.prepare import prepare
    >>> d = prepare(examples.two_hospitals())
    >>> nl = need_level(d, np.arange(len(d.cand)))
    >>> (nl.n_classes, nl.n_cols, nl.quantity.tolist())
    (2, 2, [800.0, 800.0])
    """
    rows = np.asarray(rows, dtype=np.int64)
    cand = data.cand
    need = cand["need"].to_numpy(np.int64)[rows]
    group = cand["group"].to_numpy(np.int64)[rows]
    needs, local = dense_codes(need)
    P, nn = len(rows), len(needs)
    nd = data.needs
    g = data.groups
    gpos = pd.Index(g.group.to_numpy(np.int64)).get_indexer(group)
    g_depot = g.depot_id.to_numpy(object)
    col_depot = g_depot[gpos]
    g_capped = np.fromiter((d in data.capacity for d in g_depot), dtype=bool, count=len(g_depot))
    lock = lock_index(data, need, group)
    locked = np.zeros(nn, dtype=bool)
    locked[local[lock >= 0]] = True
    tier = nd.tier.to_numpy(np.int64)[needs]
    return NeedClasses(
        rows=rows, needs=needs, need_class=np.arange(nn), cand_need=need, cand_col=np.arange(P),
        cand_local=local, cand_lock=lock, quantity=nd.quantity.to_numpy(float)[needs],
        class_size=np.ones(nn, dtype=np.int64), class_tier=tier,
        class_item=nd.item_id.to_numpy(object)[needs], class_locked=locked,
        col_group=group, col_class=local, col_tier=tier[local],
        col_inv=1.0 / cand["ratio"].to_numpy(float)[rows], col_weight=g.weight.to_numpy(float)[gpos],
        col_depot=col_depot, col_own=cand["own"].to_numpy(bool)[rows], col_capped=g_capped[gpos],
    )


# -- holds -----------------------------------------------------------------------------------


@dataclass
class Holds:
    """Holds mapped back to the full model of a component (cumulative up to some stage).

    Attributes
    ----------
    banned : ndarray of bool
        By position in ``rows``: candidates fixed at 0.
    need_fixed : ndarray of int
        Need rows (of ``data.needs``) fixed at their bound (the need is full).
    stock_fixed : ndarray of int
        Lot groups whose stock row is fixed at its bound (the group ships all of it).
    capacity_fixed : list of str
        Capped depots whose capacity row is fixed at its bound.
    lock_own_fixed : ndarray of int
        Need rows whose ``lock_own`` row is fixed at its bound.
    """

    banned: np.ndarray
    need_fixed: np.ndarray
    stock_fixed: np.ndarray
    capacity_fixed: list[str]
    lock_own_fixed: np.ndarray


@dataclass
class TierHolds:
    """What :func:`solve_tiers` hands to the engine for one component.

    Attributes
    ----------
    objectives : dict of str to float
        Each stage's optimum (``tier[t]``, ``own``), as ``result.summary["objectives"]``.
    holds : Holds
        Every hold after the last stage, mapped back to candidates (computed on first use).
    x0 : ndarray of float
        A feasible point, by position in ``rows`` (the class solution split over its
        needs), optimal for every stage solved: a start for HiGHS's crossover.
    classes : NeedClasses
    lp : LP
        The class LP (without the holds).
    col_value : ndarray of float
        The class LP's last solution, by class column.
    col_fixed, row_fixed : ndarray of bool
        The class LP's columns fixed at 0 and rows fixed at their bound after the last
        stage (for an engine that goes on working on classes).
    stage_fixed : dict of str to (ndarray, ndarray)
        ``(col_fixed, row_fixed)`` after each stage; :meth:`after` maps them back.
    seconds, in_solver : float
        Wall time of :func:`solve_tiers` and of its ``Highs.run`` calls.
    iterations : int
        Simplex iterations, over every stage.
    stage_seconds : dict of str to float
        Wall time of each stage (solve and hold).
    driver, bounds : LPDriver, Bounds
        The solver, still loaded with the held class LP, and its bounds.
    """

    objectives: dict[str, float]
    x0: np.ndarray
    classes: NeedClasses
    lp: LP
    col_value: np.ndarray
    col_fixed: np.ndarray
    row_fixed: np.ndarray
    stage_fixed: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    seconds: float = 0.0
    in_solver: float = 0.0
    iterations: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    driver: LPDriver | None = None
    bounds: Bounds | None = None

    @functools.cached_property
    def holds(self) -> Holds:
        """Every hold after the last stage, by candidate, need, group and depot."""
        return _map_holds(self.lp, self.col_fixed, self.row_fixed)

    def after(self, stage: str) -> Holds:
        """The cumulative holds after ``stage`` (a key of :attr:`objectives`), mapped back."""
        if stage not in self.stage_fixed:
            raise InvalidArgumentError(f"no stage {stage!r}: the stages solved are {', '.join(self.stage_fixed)}")
        return _map_holds(self.lp, *self.stage_fixed[stage])


def stage_objectives(nc: NeedClasses, stages: Sequence[str] = STAGES) -> list[tuple[str, np.ndarray]]:
    """The stages to run on the class LP, in order, each as (name, objective by class column).

    ``tier[t]`` for every tier present (``1/ratio`` on the tier's columns), then ``own``
    (1 on the columns that ship the need's own item) when a column ships a substitute,
    in the order :func:`allocator.allocate.stages.solve_component` runs them.

    ``own`` is priority 1b, *own item before substitutes* (allocation-rules.md).
    Maximised after the tier stages and held, it leaves no unit of an item covering
    another item's need while a need for that item itself that the unit's group may
    reach, in the same or a higher tier, is short: moving the unit there keeps every hard
    rule (same group, same depot, same weight) and every tier fill (the higher tier's is
    at its maximum already; in the same tier one unit covers one unit of its own item and
    ``1/ratio`` of the other need, so for ``ratio >= 1`` the tier's fill does not drop)
    and adds one unit of own item. With ``ratio < 1`` such a move would lower the tier's
    fill, which priority 1 forbids.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise InvalidArgumentError(f"unknown stage(s) {', '.join(map(str, unknown))}: choose from {', '.join(STAGES)}")
    out: list[tuple[str, np.ndarray]] = []
    if "tiers" in stages:
        for t in sorted(set(nc.col_tier.tolist())):
            out.append((f"tier[{t}]", np.where(nc.col_tier == t, nc.col_inv, 0.0)))
    if "own" in stages and nc.n_cols and not nc.col_own.all():
        out.append(("own", nc.col_own.astype(float)))
    return out


def solve_tiers(data: RoundData, rows: np.ndarray, stages: Sequence[str] = STAGES,
                classes: NeedClasses | None = None, driver: LPDriver | None = None) -> TierHolds:
    """Run the tier stages and the 1b stage on need classes; map the holds back to candidates.

    Each stage maximises its objective on the class LP (:func:`allocator.allocate.model.build`
    over :func:`need_classes`), warm-started from the previous stage, and holds its optimum
    by complementary slackness (:func:`allocator.allocate.solver.hold`: a class column
    whose reduced cost exceeds :data:`~allocator.allocate.solver.HOLD_DUAL_TOL` x the
    largest objective coefficient is fixed at 0, a row whose dual does is fixed at its
    bound). The module docstring proves that the optima and the holds are exactly those
    of the full model.

    Parameters
    ----------
    data : RoundData
        The prepared round.
    rows : ndarray of int
        Candidate rows of one component.
    stages : sequence of {"tiers", "own"}
        Which stages to run (in the order tiers, own).
    classes : NeedClasses, optional
        ``need_classes(data, rows)``, when the caller has it already.
    driver : LPDriver, optional
        The solver (:func:`allocator.allocate.solver.make_driver`); HiGHS by default.
        It is left loaded with the held class LP (:attr:`TierHolds.driver`), for the
        fairness stage to go on.

    Returns
    -------
    TierHolds

    Raises
    ------
    InfeasibleError
        The locks of the component cannot hold together with the hard rules.
    SolverError
        The solver returned a status other than optimal.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.allocate.prepare import prepare
    >>> d = prepare(examples.three_tiers())
    >>> r = solve_tiers(d, np.arange(len(d.cand)))
    >>> r.objectives
    {'tier[1]': 800.0, 'tier[2]': 200.0, 'tier[4]': 0.0}
    >>> d.needs.site_id[r.holds.need_fixed].tolist(), r.holds.stock_fixed.tolist()
    (['DH'], [0])
    >>> r.x0.tolist()
    [800.0, 200.0, 0.0]
    """
    t_start = time.perf_counter()
    nc = need_classes(data, rows) if classes is None else classes
    plan = stage_objectives(nc, stages)
    lp = build(data, nc)
    J = lp.matrix.shape[1]
    drv = make_driver("highs") if driver is None else driver
    in_before, it_before = drv.seconds_in_solver, drv.iterations
    b = Bounds(np.zeros(J), np.full(J, np.inf), lp.row_lower.copy(), lp.row_upper.copy())
    drv.load(lp.matrix, b.col_lower, b.col_upper, b.row_lower, b.row_upper)
    objectives: dict[str, float] = {}
    stage_fixed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    stage_seconds: dict[str, float] = {}
    x = np.zeros(J)
    first = True
    for name, coef in plan:
        t0 = time.perf_counter()
        drv.set_objective(coef, maximize=True)
        try:
            drv.solve(name)
        except SolverError as exc:
            if first and lp.lock_names:
                raise InfeasibleError("the locks " + ", ".join(sorted(lp.lock_names)) + " cannot hold together "
                                      "with the hard rules (stock, need, capacity): remove or reduce one") from exc
            raise
        first = False
        x = drv.values()
        objectives[name] = float(coef @ x)
        hold(drv, coef, b)
        stage_fixed[name] = (b.col_fixed, b.row_fixed)  # properties: fresh arrays
        stage_seconds[name] = time.perf_counter() - t0
    return TierHolds(objectives=objectives, x0=nc.split(x, data), classes=nc, lp=lp, col_value=x,
                     col_fixed=b.col_fixed, row_fixed=b.row_fixed, stage_fixed=stage_fixed,
                     seconds=time.perf_counter() - t_start, in_solver=drv.seconds_in_solver - in_before,
                     iterations=drv.iterations - it_before, stage_seconds=stage_seconds, driver=drv, bounds=b)


def _map_holds(lp: LP, col_fixed: np.ndarray, row_fixed: np.ndarray) -> Holds:
    nc = lp.classes
    b = lp.blocks
    cls_fixed = row_fixed[b["need"]]
    return Holds(
        banned=col_fixed[nc.cand_col].copy(),
        need_fixed=np.sort(nc.needs[cls_fixed[nc.need_class]]),
        stock_fixed=lp.groups[row_fixed[b["stock"]]].astype(np.int64),
        capacity_fixed=[str(d) for d in lp.depots[row_fixed[b["capacity"]]]],
        lock_own_fixed=lp.lock_own_needs[row_fixed[b["lock_own"]]],
    )
