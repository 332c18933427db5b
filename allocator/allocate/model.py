"""Build the linear program of a round: variables and one function per constraint family.

Variables exist only for candidate shipments (see :mod:`allocator.allocate.prepare`):
``x[k]`` is the number of units of the group's item shipped for candidate ``k``
(a group, a site and the need item it covers). Every constraint is named after
its index (``stock[depot=D1,item=n95,group=3]``, ``need[site=H1,item=mask]``,
``capacity[depot=EXPO]``, ``lock[depot=D1,site=H1,item=n95]``,
``lock_own[site=H1,item=n95]``) so that an
infeasibility or a dual points at something a person can read. PuLP replaces
brackets and some other characters in names by ``_``; :attr:`Model.names` keeps the
readable name of every row.

The model decomposes into independent *components*: items are linked when one
substitutes for another and when a depot with a finite dispatch capacity holds
both; items in different components share no constraint, so each component is
its own (smaller) problem and the lexicographic optimum of the whole is that of
each part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pulp

from allocator.allocate.prepare import RoundData


@dataclass
class Model:
    """One independent part of a round's linear program."""

    prob: pulp.LpProblem
    cand: np.ndarray  # global candidate row of each variable
    x: list[pulp.LpVariable]
    fill: dict[int, pulp.LpAffineExpression]  # need row -> units of need covered
    names: dict[str, str] = field(default_factory=dict)  # PuLP name -> readable name
    stock_rows: dict[int, pulp.LpConstraint] = field(default_factory=dict)  # group -> stock row
    need_rows: dict[int, pulp.LpConstraint] = field(default_factory=dict)  # need row -> need row
    cap_rows: dict[str, pulp.LpConstraint] = field(default_factory=dict)  # depot -> capacity row
    fair_rows: dict[int, list[pulp.LpConstraint]] = field(default_factory=dict)  # need row -> fairness rows
    fair_list: list[tuple[int, pulp.LpConstraint]] = field(default_factory=list)  # (need row, fairness row)

    def add(self, expr: pulp.LpAffineExpression, sense: int, rhs: float, name: str) -> pulp.LpConstraint:
        c = pulp.LpConstraint(expr, sense, rhs=rhs, name=name)
        self.prob.addConstraint(c)
        self.names[c.name] = name
        return c

    @property
    def size(self) -> tuple[int, int]:
        """(variables, constraints)."""
        return len(self.prob._variables), len(self.prob._constraints)


def components(data: RoundData) -> list[np.ndarray]:
    """Candidate rows of each independent part (items linked by substitutes and shared capacity)."""
    c = data.cand
    if c.empty:
        return []
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        root = a
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(a, a) != root:
            parent[a], a = root, parent[a]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    pairs = c[["item_id", "need_item_id"]].drop_duplicates()
    for a, b in zip(pairs.item_id, pairs.need_item_id):
        union(a, b)
    capped = c[c.depot_id.isin(list(data.capacity))]
    for _, items in capped.groupby("depot_id").item_id:
        u = list(dict.fromkeys(items))
        for b in u[1:]:
            union(u[0], b)
    codes, uniq = pd.factorize(c.item_id)
    root = np.array([find(str(u)) for u in uniq], dtype=object)[codes]
    return [np.asarray(ix) for _, ix in sorted(pd.Series(root).groupby(root).indices.items())]


def _expr(vars_: list[pulp.LpVariable], coefs: np.ndarray | list[float]) -> pulp.LpAffineExpression:
    return pulp.LpAffineExpression(list(zip(vars_, np.asarray(coefs, dtype=float).tolist())))


def _groups(keys: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """(key, positions) for each distinct key, positions in ascending order."""
    if not len(keys):
        return []
    return [(k, np.asarray(v)) for k, v in pd.Series(np.arange(len(keys))).groupby(keys, sort=True).indices.items()]


def define_variables(prob: pulp.LpProblem, rows: np.ndarray) -> list[pulp.LpVariable]:
    """One non-negative variable per candidate shipment, named ``x_<candidate row>``."""
    return [prob.add_variable(f"x_{k}", lowBound=0) for k in rows.tolist()]


def define_stock_limits(m: Model, data: RoundData, sub: pd.DataFrame) -> None:
    """``stock[...]``: a group of lots ships at most its usable quantity."""
    g = data.groups.set_index("group")
    dep, item, qty = g.depot_id.to_dict(), g.item_id.to_dict(), g.quantity.to_dict()
    ems, emk = g.em_sites.to_dict(), g.em_kinds.to_dict()
    for gid, pos in _groups(sub.group.to_numpy()):
        em = "+".join(ems[gid] + emk[gid])
        name = f"stock[depot={dep[gid]},item={item[gid]},group={gid}" + (f",earmark={em}]" if em else "]")
        m.stock_rows[int(gid)] = m.add(_expr([m.x[i] for i in pos], np.ones(len(pos))), pulp.LpConstraintLE,
                                       float(qty[gid]), name)


def define_need_limits(m: Model, data: RoundData, sub: pd.DataFrame) -> None:
    """``need[site=S,item=I]``: units of need covered (substitutes by their ratio) <= the need."""
    inv = 1.0 / sub.ratio.to_numpy()
    site, item, qty = (data.needs[k].to_numpy() for k in ("site_id", "item_id", "quantity"))
    for n, pos in _groups(sub.need.to_numpy()):
        e = _expr([m.x[i] for i in pos], inv[pos])
        m.fill[int(n)] = e
        m.need_rows[int(n)] = m.add(e, pulp.LpConstraintLE, float(qty[n]), f"need[site={site[n]},item={item[n]}]")


def define_capacity_limits(m: Model, data: RoundData, sub: pd.DataFrame) -> None:
    """``capacity[depot=D]``: weight shipped from a depot <= its dispatch capacity."""
    w = sub.weight.to_numpy()
    capped = sub.depot_id.isin(list(data.capacity)).to_numpy()
    if not capped.any():
        return
    for d, pos in _groups(np.where(capped, sub.depot_id.to_numpy(), "")):
        if d == "":
            continue
        m.cap_rows[str(d)] = m.add(_expr([m.x[i] for i in pos], w[pos]), pulp.LpConstraintLE,
                                   data.capacity[str(d)], f"capacity[depot={d}]")


def define_locks(m: Model, data: RoundData, sub: pd.DataFrame) -> None:
    """``lock[depot=D,site=S,item=I]``: exactly the locked quantity ships (any need it covers)."""
    if not data.locks:
        return
    key = pd.Series(list(zip(sub.depot_id, sub.site_id, sub.item_id)))
    for lk in data.locks:
        pos = np.flatnonzero((key == (lk.depot_id, lk.site_id, lk.item_id)).to_numpy())
        if len(pos) == 0:
            continue  # a zero lock without candidates, or another component's lock
        m.add(_expr([m.x[i] for i in pos], np.ones(len(pos))), pulp.LpConstraintEQ, float(lk.quantity),
              f"lock[depot={lk.depot_id},site={lk.site_id},item={lk.item_id}]")


def define_lock_own_first(m: Model, data: RoundData, sub: pd.DataFrame) -> None:
    """``lock_own[site=S,item=I]``: locked units of I at S cover S's own need for I first.

    The units the locks ship of item I to site S (from any depot) that cover S's need for
    I are at least ``min(locked, need)``: only what exceeds the need may cover a need that
    I substitutes for (allocation-rules.md, Overrides), so a lock never lowers the fill of
    the item it locks.
    """
    if not data.locks or sub.empty:
        return
    locked: dict[tuple[str, str], int] = {}
    for lk in data.locks:
        locked[(lk.site_id, lk.item_id)] = locked.get((lk.site_id, lk.item_id), 0) + lk.quantity
    keys = {(lk.depot_id, lk.site_id, lk.item_id) for lk in data.locks if lk.quantity > 0}
    own = sub.own.to_numpy(dtype=bool)
    trip = list(zip(sub.depot_id.tolist(), sub.site_id.tolist(), sub.item_id.tolist()))
    hit = np.array([o and t in keys for o, t in zip(own.tolist(), trip)], dtype=bool)
    if not hit.any():
        return
    need_q = data.needs.quantity.to_numpy(float)
    for n, pos in _groups(np.where(hit, sub.need.to_numpy(), -1)):
        if int(n) < 0:
            continue
        site, item = trip[pos[0]][1], trip[pos[0]][2]
        rhs = min(float(locked[(site, item)]), float(need_q[int(n)]))
        if rhs > 0:
            m.add(_expr([m.x[i] for i in pos], np.ones(len(pos))), pulp.LpConstraintGE, rhs,
                  f"lock_own[site={site},item={item}]")


def define_fairness(
    m: Model, data: RoundData, tier: int, rnd: int, active: dict[str, list[int]]
) -> tuple[dict[str, pulp.LpVariable], dict[int, pulp.LpConstraint]]:
    """``fair[tier=T,round=R,site=S,item=I]``: each active need's fill >= z_I x its need (max-min, rule 2).

    One level variable ``z_I`` in [0, 1] per item of ``active`` (item -> need rows of the tier still
    being raised) and one row per need; the fairness stage (:func:`allocator.allocate.stages.solve_stages`)
    maximises the levels. Returns the level variables by item and the rows by need row.
    """
    site, qty = data.needs.site_id.to_numpy(), data.needs.quantity.to_numpy(float)
    z = {i: m.prob.add_variable(f"z_t{tier}_r{rnd}_{i}", lowBound=0, upBound=1) for i in active}
    rows: dict[int, pulp.LpConstraint] = {}
    for i, ns in active.items():
        for n in ns:
            e = m.fill[n].copy()
            e.addterm(z[i], -float(qty[n]))
            rows[n] = m.add(e, pulp.LpConstraintGE, 0.0, f"fair[tier={tier},round={rnd},site={site[n]},item={i}]")
            m.fair_rows.setdefault(n, []).append(rows[n])
            m.fair_list.append((n, rows[n]))
    return z, rows


def build(data: RoundData, rows: np.ndarray, name: str = "round") -> Model:
    """The model of one component (candidate rows ``rows``), every hard rule as a constraint."""
    prob = pulp.LpProblem(name, pulp.LpMaximize)
    sub = data.cand.iloc[rows].reset_index(drop=True)
    m = Model(prob=prob, cand=rows, x=define_variables(prob, rows), fill={})
    define_stock_limits(m, data, sub)
    define_need_limits(m, data, sub)
    define_capacity_limits(m, data, sub)
    define_locks(m, data, sub)
    define_lock_own_first(m, data, sub)
    return m
