"""Build the linear program of a round as arrays: one function per constraint family.

The LP is written over the *columns* of a :class:`~allocator.allocate.classes.NeedClasses`:
either need classes (needs that the priority stages cannot tell apart, aggregated) or
single needs (:func:`~allocator.allocate.classes.need_level`, one column per candidate
shipment). A column ``j`` ships units of its lot group's item to its class; every row
family below is a block of rows of one column-wise ``scipy.sparse`` matrix:

* ``stock``: a group of lots ships at most its usable quantity (hard rule 1);
* ``need``: the units of need covered, substitutes by their ratio, at most the need
  (hard rule 2); a class row is the sum of its needs' rows;
* ``capacity``: the weight shipped from a depot at most its dispatch capacity (rule 7);
* ``lock``: exactly the locked quantity ships (Overrides);
* ``lock_own``: locked units of an item cover the site's own need for it first;
* ``fair``: each class's fill at least a level times its need (priority 2, added by the
  fairness stage, :func:`define_fairness`).

:attr:`LP.blocks` gives each family's rows and :meth:`LP.row_name` a readable name of
every row (``stock[depot=D1,item=n95,group=3]``, ``need[site=H1,item=mask]``, ...), so
that an infeasibility or a written model points at something a person can read.

The model decomposes into independent *components* (:func:`components`): items are
linked when one substitutes for another and when a depot with a finite dispatch
capacity holds both; items in different components share no row, so each component is
its own (smaller) problem and the lexicographic optimum of the whole is that of each part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.allocate.prepare import RoundData


@dataclass
class NeedClasses:
    """The need classes of one component and their class columns.

    Positions ``p`` index the component's candidate rows ``rows``; needs are rows
    of ``data.needs``; classes and class columns are numbered from 0.

    Attributes
    ----------
    rows : ndarray of int
        The component's candidate rows (rows of ``data.cand``), as given.
    needs : ndarray of int
        The component's need rows, ascending.
    need_class : ndarray of int
        The class of each of ``needs``.
    cand_need : ndarray of int
        The need row of each candidate (by position).
    cand_col : ndarray of int
        The class column of each candidate (by position).
    cand_local : ndarray of int
        The position in ``needs`` of each candidate's need.
    cand_lock : ndarray of int
        The index in ``data.locks`` of the lock on each candidate's (depot, site, item), or -1.
    quantity : ndarray of float
        ``Q_C``, the summed need of each class.
    class_size : ndarray of int
        Number of needs in each class.
    class_tier : ndarray of int
        The tier of each class.
    class_item : ndarray of object
        The need item of each class.
    class_locked : ndarray of bool
        Whether the class is the singleton of a need that a lock touches.
    col_group, col_class, col_tier : ndarray of int
        Lot group, class and tier of each class column.
    col_inv, col_weight : ndarray of float
        ``1/ratio`` (its coefficient in the class row) and the unit weight (its
        coefficient in a capacity row) of each class column.
    col_depot : ndarray of object
        The depot of each class column.
    col_own : ndarray of bool
        Whether the class column ships the need's own item.
    col_capped : ndarray of bool
        Whether its depot has a finite dispatch capacity.
    """

    rows: np.ndarray
    needs: np.ndarray
    need_class: np.ndarray
    cand_need: np.ndarray
    cand_col: np.ndarray
    cand_local: np.ndarray
    cand_lock: np.ndarray
    quantity: np.ndarray
    class_size: np.ndarray
    class_tier: np.ndarray
    class_item: np.ndarray
    class_locked: np.ndarray
    col_group: np.ndarray
    col_class: np.ndarray
    col_tier: np.ndarray
    col_inv: np.ndarray
    col_weight: np.ndarray
    col_depot: np.ndarray
    col_own: np.ndarray
    col_capped: np.ndarray

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.quantity)

    @property
    def n_cols(self) -> int:
        """Number of class columns."""
        return len(self.col_group)

    def split(self, col_value: np.ndarray, data: RoundData) -> np.ndarray:
        """Split class column values over their needs: ``x(g, n) = X(g, C) q_n / Q_C``, by position."""
        q = data.needs.quantity.to_numpy(float)[self.needs]
        big_q = self.quantity[self.need_class]
        share = np.divide(q, big_q, out=np.zeros(len(q)), where=big_q > 0)
        return np.maximum(np.asarray(col_value, dtype=float), 0.0)[self.cand_col] * share[self.cand_local]

    def split_least_cost(self, col_value: np.ndarray, data: RoundData, cost: np.ndarray) -> np.ndarray:
        """Split class column values over their needs, cheapest candidates first, by position.

        Each need of a class gets the class's fill ratio (``fill_C q_n / Q_C``), as in
        :meth:`split`, so every stock, need, capacity and lock row keeps its value; but
        inside each class the units go by the *least-cost method* of the transportation
        problem (candidates in order of ``cost``, by position, each taking what its
        class column and its need still have), which gives a sparse point (at most
        ``columns + needs - 1`` candidates per class) near the cheapest split: a start
        for the transport stage.
        """
        X = np.maximum(np.asarray(col_value, dtype=float), 0.0)
        out = np.zeros(len(self.cand_col))
        live = np.flatnonzero(X[self.cand_col] > 0)
        if not len(live):
            return out
        fill = np.bincount(self.col_class, weights=X * self.col_inv, minlength=self.n_classes)
        ratio = np.divide(fill, self.quantity, out=np.zeros(self.n_classes), where=self.quantity > 0)
        q = data.needs.quantity.to_numpy(float)[self.needs]
        order = live[np.lexsort((cost[live], self.col_class[self.cand_col[live]]))]
        supply = X.tolist()
        dem = (ratio[self.need_class] * q).tolist()
        cols, locs = self.cand_col[order].tolist(), self.cand_local[order].tolist()
        invs = self.col_inv[self.cand_col[order]].tolist()
        res = [0.0] * len(order)
        for k, (j, n, a) in enumerate(zip(cols, locs, invs)):
            s, d = supply[j], dem[n]
            if s <= 0.0 or d <= 0.0:
                continue
            u = min(s, d / a)
            res[k] = u
            supply[j] = s - u
            dem[n] = d - u * a
        out[order] = res
        return out


#: The row families of :class:`LP`, in the order of their blocks.
FAMILIES = ("stock", "need", "capacity", "lock", "lock_own")


@dataclass
class Rows:
    """One constraint family: ``lower <= A @ x <= upper`` as coordinates (local row, column, value)."""

    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    names: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.lower)


def _empty() -> Rows:
    z = np.zeros(0)
    return Rows(np.zeros(0, np.int64), np.zeros(0, np.int64), z, z, z)


@dataclass
class LP:
    """The LP of one component over the columns of ``classes`` (no objective: the stages set it).

    Attributes
    ----------
    classes : NeedClasses
        Whose columns and classes the LP is written over.
    matrix : scipy.sparse.csc_matrix
        Rows x columns.
    row_lower, row_upper : ndarray
        Row bounds (``-inf``/``inf`` where there is none).
    blocks : dict of str to slice
        The rows of each family of :data:`FAMILIES`.
    groups : ndarray of int
        The lot group of each ``stock`` row.
    depots : ndarray of object
        The depot of each ``capacity`` row.
    lock_names : list of str
        The lock of each ``lock`` row.
    lock_own_needs : ndarray of int
        The need row of each ``lock_own`` row.
    """

    classes: NeedClasses
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    blocks: dict[str, slice]
    groups: np.ndarray
    depots: np.ndarray
    lock_names: list[str]
    lock_own_needs: np.ndarray
    names: list[str] = field(default_factory=list)

    def row_name(self, i: int) -> str:
        """The readable name of row ``i``."""
        return self.names[i]


def components(data: RoundData) -> list[np.ndarray]:
    """Candidate rows of each independent part (items linked by substitutes and shared capacity).

    Items are linked when a candidate ships one for the other's need and when a depot with
    a finite dispatch capacity ships both. Worked on codes per lot group and per need (the
    candidate table is only read as two integer columns). Parts come in the order of their
    representative item's id, each with its candidate rows ascending.
    """
    c = data.cand
    if c.empty:
        return []
    g, nd = data.groups, data.needs
    items = pd.Index(sorted(set(g.item_id.astype(str)) | set(nd.item_id.astype(str))))
    gid = g.group.to_numpy(np.int64)
    g_item = np.full(int(gid.max()) + 1, -1, dtype=np.int64)
    g_item[gid] = items.get_indexer(pd.Index(g.item_id.astype(str)))
    n_item = items.get_indexer(pd.Index(nd.item_id.astype(str)))
    cg, cn = c.group.to_numpy(np.int64), c.need.to_numpy(np.int64)
    ci, cni = g_item[cg], n_item[cn]
    K = len(items)
    parent = list(range(K))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    for code in np.flatnonzero(np.bincount(ci * K + cni, minlength=K * K)).tolist():
        union(code // K, code % K)
    present = np.zeros(len(g_item), dtype=bool)
    present[cg] = True
    if data.capacity:
        gpos = np.flatnonzero(g.depot_id.isin(list(data.capacity)).to_numpy() & present[gid])
        for _, its in pd.Series(g_item[gid[gpos]]).groupby(g.depot_id.to_numpy(object)[gpos]):
            u = its.to_numpy()
            for b in u[1:].tolist():
                union(int(u[0]), b)
    root = np.array([find(k) for k in range(K)], dtype=np.int64)
    # name each part by its root item, as a union-find over the item ids would: order by the root's id
    comp = root[ci]
    out = []
    for r in sorted(set(comp.tolist()), key=lambda k: items[k]):
        out.append(np.flatnonzero(comp == r))
    return out


def dense_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for small non-negative integers, in linear time.

    >>> u, code = dense_codes(np.array([7, 2, 7, 5]))
    >>> u.tolist(), code.tolist()
    ([2, 5, 7], [2, 0, 2, 1])
    """
    if not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    present = np.zeros(int(keys.max()) + 1, dtype=bool)
    present[keys] = True
    code = np.cumsum(present) - 1
    return np.flatnonzero(present), code[keys]


def define_stock_limits(data: RoundData, nc: NeedClasses) -> tuple[Rows, np.ndarray]:
    """``stock[...]``: a group of lots ships at most its usable quantity; also returns the groups by row."""
    groups, row = dense_codes(nc.col_group)
    g = data.groups.set_index("group").reindex(groups)
    names = []
    for gid, dep, item, ems, emk in zip(groups.tolist(), g.depot_id, g.item_id, g.em_sites, g.em_kinds):
        em = "+".join(list(ems) + list(emk))
        names.append(f"stock[depot={dep},item={item},group={gid}" + (f",earmark={em}]" if em else "]"))
    J = nc.n_cols
    return Rows(row.reshape(-1).astype(np.int64), np.arange(J), np.ones(J), np.full(len(groups), -np.inf),
                g.quantity.to_numpy(float), names), groups


def define_need_limits(data: RoundData, nc: NeedClasses) -> Rows:
    """``need[site=S,item=I]``: units of need covered (substitutes by their ratio) <= the need (a class: the sum)."""
    nd = data.needs
    first = nc.needs[np.unique(nc.need_class, return_index=True)[1]] if len(nc.needs) else np.zeros(0, np.int64)
    site, item = nd.site_id.to_numpy(object), nd.item_id.to_numpy(object)
    names = [f"need[site={site[n]},item={item[n]}]" + (f"+{k - 1}" if k > 1 else "")
             for n, k in zip(first.tolist(), nc.class_size.tolist())]
    J = nc.n_cols
    return Rows(nc.col_class.astype(np.int64), np.arange(J), nc.col_inv.astype(float),
                np.full(nc.n_classes, -np.inf), nc.quantity.astype(float), names)


def define_capacity_limits(data: RoundData, nc: NeedClasses) -> tuple[Rows, np.ndarray]:
    """``capacity[depot=D]``: weight shipped from a depot <= its dispatch capacity; also the depots by row."""
    cols = np.flatnonzero(nc.col_capped)
    groups, gcode = dense_codes(nc.col_group[cols])  # a group's depot, looked up once per group
    first = np.zeros(len(groups), dtype=np.int64)
    first[gcode[::-1]] = np.arange(len(cols))[::-1]
    gdepot = np.asarray(nc.col_depot[cols[first]], dtype=object)
    depots = np.array(sorted({str(d) for d in gdepot}), dtype=object)
    if not len(depots):
        return _empty(), depots
    row = pd.Index(depots).get_indexer(gdepot)[gcode]
    return Rows(row.astype(np.int64), cols, nc.col_weight[cols].astype(float), np.full(len(depots), -np.inf),
                np.array([data.capacity[str(d)] for d in depots], dtype=float),
                [f"capacity[depot={d}]" for d in depots]), depots


def define_locks(data: RoundData, nc: NeedClasses) -> Rows:
    """``lock[depot=D,site=S,item=I]``: exactly the locked quantity ships (any need it covers).

    A lock names single needs, so their classes are singletons
    (:func:`~allocator.allocate.classes.need_classes`) and the row is written on their columns.
    """
    codes = nc.cand_lock
    if not data.locks or not len(codes) or (codes < 0).all():
        return _empty()
    present = np.unique(codes[codes >= 0])
    lrow = np.full(len(data.locks), -1, dtype=np.int64)
    lrow[present] = np.arange(len(present))
    hit = codes >= 0
    # a column may stand for several candidates only when its class has one need: no double count
    row, col = lrow[codes[hit]], nc.cand_col[hit]
    lq = np.array([float(data.locks[k].quantity) for k in present], dtype=float)
    return Rows(row, col, np.ones(len(row)), lq, lq.copy(), [str(data.locks[k]) for k in present])


def define_lock_own_first(data: RoundData, nc: NeedClasses) -> tuple[Rows, np.ndarray]:
    """``lock_own[site=S,item=I]``: locked units of I at S cover S's own need for I first.

    The units the locks ship of item I to site S (from any depot) that cover S's need for
    I are at least ``min(locked, need)``: only what exceeds the need may cover a need that
    I substitutes for (allocation-rules.md, Overrides), so a lock never lowers the fill of
    the item it locks. Returns the rows and the need row of each.
    """
    codes = nc.cand_lock
    none = np.zeros(0, dtype=np.int64)
    if not data.locks or not len(codes):
        return _empty(), none
    locked: dict[tuple[str, str], int] = {}
    for lk in data.locks:
        locked[(lk.site_id, lk.item_id)] = locked.get((lk.site_id, lk.item_id), 0) + lk.quantity
    lock_q = np.array([lk.quantity for lk in data.locks] + [0], dtype=np.int64)
    own_hit = nc.col_own[nc.cand_col] & (lock_q[codes] > 0)  # codes == -1 -> the trailing 0
    if not own_hit.any():
        return _empty(), none
    hn = nc.cand_need[own_hit]
    un = np.unique(hn)
    nd = data.needs
    need_q = nd.quantity.to_numpy(float)[un]
    sites, items = nd.site_id.to_numpy(object)[un], nd.item_id.to_numpy(object)[un]
    lk_q = np.array([float(locked[(str(s), str(i))]) for s, i in zip(sites, items)], dtype=float)
    rhs = np.minimum(lk_q, need_q)
    keep = rhs > 0
    un, rhs, sites, items = un[keep], rhs[keep], sites[keep], items[keep]
    sel = np.isin(hn, un)
    row = np.searchsorted(un, hn[sel])
    col = nc.cand_col[own_hit][sel]
    return Rows(row, col, np.ones(len(row)), rhs, np.full(len(un), np.inf),
                [f"lock_own[site={s},item={i}]" for s, i in zip(sites, items)]), un


def define_fairness(lp: LP, members: np.ndarray, level_col: int, slack_cols: np.ndarray) -> sp.csr_matrix:
    """``fair[...]``: each class of ``members`` fills at least ``(t + s_C)`` times its need (priority 2).

    Row ``k`` reads ``fill_C - Q_C t - Q_C s_C >= 0`` for class ``C = members[k]``, with the
    level column ``t`` (index ``level_col``) and a slack column ``s_C`` (``slack_cols[k]``):
    the fairness stage (:func:`allocator.allocate.stages.leximin`) maximises ``t`` and then
    tests which classes can rise above it with the ``s`` columns. Returns the rows (lower
    bound 0, no upper bound) over ``lp``'s columns plus the new ones.
    """
    nc = lp.classes
    block = lp.matrix[lp.blocks["need"], :].tocsr()[members]
    k = len(members)
    q = nc.quantity[members]
    n_cols = lp.matrix.shape[1]
    width = max(n_cols, level_col + 1, int(slack_cols.max()) + 1 if k else 0)
    extra = sp.csr_matrix((np.r_[-q, -q], (np.r_[np.arange(k), np.arange(k)], np.r_[np.full(k, level_col), slack_cols])),
                          shape=(k, width))
    block.resize((k, width))
    return (block + extra).tocsr()


def build(data: RoundData, nc: NeedClasses) -> LP:
    """The LP of one component over the columns of ``nc``: every hard row, family by family."""
    stock, groups = define_stock_limits(data, nc)
    cap, depots = define_capacity_limits(data, nc)
    own, own_needs = define_lock_own_first(data, nc)
    fams = {"stock": stock, "need": define_need_limits(data, nc), "capacity": cap,
            "lock": define_locks(data, nc), "lock_own": own}
    ri, ci, vals, lower, upper, names = [], [], [], [], [], []
    blocks: dict[str, slice] = {}
    base = 0
    for name in FAMILIES:
        r = fams[name]
        ri.append(r.row + base)
        ci.append(r.col)
        vals.append(r.val)
        lower.append(r.lower)
        upper.append(r.upper)
        names.extend(r.names)
        blocks[name] = slice(base, base + r.n)
        base += r.n
    idx = np.int32 if max(base, nc.n_cols) < 2**31 - 1 else np.int64
    A = sp.coo_matrix((np.concatenate(vals), (np.concatenate(ri).astype(idx), np.concatenate(ci).astype(idx))),
                      shape=(base, nc.n_cols)).tocsc()
    A.sum_duplicates()
    return LP(classes=nc, matrix=A, row_lower=np.concatenate(lower), row_upper=np.concatenate(upper),
              blocks=blocks, groups=groups.astype(np.int64), depots=depots,
              lock_names=fams["lock"].names, lock_own_needs=own_needs, names=names)
