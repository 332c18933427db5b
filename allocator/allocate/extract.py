"""From the LP's solution to whole units, whole packs and lots.

:func:`to_integers` rounds the LP's shipments (units of the shipped item) so that
every hard rule still holds and no unit moves from a higher tier to a lower one:

1. every shipment is rounded down (stock, need and capacity stay satisfied);
2. locks are topped back up to their locked quantity, the site's own need for the
   locked item first;
3. tier by tier, highest first, the fractional units the LP wanted are restored,
   then any need that can still take a whole unit from a group with stock left
   gets it (lowest fill ratio first, shortest travel first; own items before
   substitutes), so a unit of stock goes to a lower tier only when no higher-tier
   need can take it;
4. a shipment of an item with ``pack_size > 1`` is rounded up to a whole pack when
   the group has the units and capacity left and no site of the same or a higher
   tier that the group can serve is still short;
5. :func:`own_item_first` moves any unit that rounding left covering a substitute need
   to a short need of its own item that its group may serve (priority 1b).

:func:`assign_lots` then splits each group's shipments over its lots, earliest
expiry first, donated before reserve.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from allocator.allocate.prepare import RoundData

EPS = 1e-6


class _State:
    """What rounding has shipped so far and what is left of stock, need and capacity.

    Depots are numbered (``dep``: the depot of each candidate, ``cap_left`` and ``has_cap``
    by depot number), so that the loops below index plain arrays, never pandas objects.
    """

    def __init__(self, data: RoundData, q: np.ndarray):
        c = data.cand
        self.c = c
        self.q = q
        self.group = c.group.to_numpy()
        self.need = c.need.to_numpy()
        self.ratio = c.ratio.to_numpy()
        self.w = c.weight.to_numpy()
        codes, depots = pd.factorize(c.depot_id)
        self.dep = codes
        gq = data.groups.set_index("group").quantity
        self.stock_left = np.zeros(int(gq.index.max()) + 1 if len(gq) else 0)
        self.stock_left[gq.index.to_numpy()] = gq.to_numpy(float)
        moved = np.flatnonzero(q)  # subtracting a zero shipment changes nothing
        np.subtract.at(self.stock_left, self.group[moved], q[moved])
        nq = data.needs.quantity.to_numpy(float)
        self.need_left = nq.copy()
        np.subtract.at(self.need_left, self.need[moved], q[moved] / self.ratio[moved])
        self.cap_left, self.has_cap = _capacity_left(data.capacity, list(depots), codes, q * self.w)

    def room(self, k: int) -> int:
        """Whole units candidate ``k`` can still take without breaking stock, need or capacity."""
        r = min(self.stock_left[self.group[k]], _floor(self.need_left[self.need[k]] * self.ratio[k] + EPS))
        d = self.dep[k]
        if d >= 0 and self.has_cap[d] and self.w[k] > 0:
            r = min(r, _floor(self.cap_left[d] / self.w[k] + EPS))
        return max(int(_floor(r + EPS)), 0)

    def give(self, k: int, units: int) -> None:
        """Add ``units`` to candidate ``k`` (nothing when ``units <= 0``)."""
        if units <= 0:
            return
        self.q[k] += units
        self.stock_left[self.group[k]] -= units
        self.need_left[self.need[k]] -= units / self.ratio[k]
        d = self.dep[k]
        if d >= 0 and self.has_cap[d]:
            self.cap_left[d] -= units * self.w[k]


def _floor(v: float) -> float:
    """``np.floor`` of a scalar, with Python's faster ``math.floor`` for finite values (same value)."""
    return math.floor(v) if math.isfinite(v) else float(np.floor(v))


def _capacity_left(capacity: dict[str, float], depots: list[str], dep: np.ndarray,
                   kg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch capacity left by depot number, and whether the depot has a capacity at all.

    Parameters
    ----------
    capacity : dict
        Finite dispatch capacities (kg) by depot id.
    depots : list of str
        Depot ids by number (``pd.factorize`` of the candidates' depots).
    dep : ndarray of int
        Depot number of each candidate.
    kg : ndarray of float
        Weight each candidate already ships; summed per depot by pandas (the same sums,
        in the same order, as grouping by depot id).
    """
    has_cap = np.array([d in capacity for d in depots], dtype=bool)
    cap_left = np.array([float(capacity[d]) if d in capacity else 0.0 for d in depots])
    used = pd.Series(kg).groupby(dep).sum()
    for d, v in zip(used.index.to_numpy().tolist(), used.to_numpy().tolist()):
        if 0 <= d < len(depots) and has_cap[d]:
            cap_left[d] -= v
    return cap_left, has_cap


def _codes(col: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """Integer codes of a column of ids and the code of each id (``-1`` for a missing value)."""
    codes, uniques = pd.factorize(col)
    return codes, {str(u): j for j, u in enumerate(uniques)}


def _locks(data: RoundData, st: _State, frac: np.ndarray) -> np.ndarray:
    """Step 2: top locked shipments back up to their quantity; the mask of locked candidates."""
    c = data.cand
    locked = np.zeros(len(c), dtype=bool)
    if not data.locks:
        return locked
    key = np.zeros(len(c), dtype=np.int64)
    lookups = []
    for col in ("depot_id", "site_id", "item_id"):
        codes, code_of = _codes(c[col])
        key = key * (len(code_of) + 1) + (codes + 1)
        lookups.append(code_of)

    def key_of(ids: tuple[str, str, str]) -> int:
        k = 0
        for code_of, ident in zip(lookups, ids):
            j = code_of.get(ident)
            if j is None:
                return -1  # an id no candidate has: the lock matches nothing
            k = k * (len(code_of) + 1) + j + 1
        return k

    own = c.own.to_numpy(dtype=bool)
    for lk in data.locks:
        ks = np.flatnonzero(key == key_of((lk.depot_id, lk.site_id, lk.item_id)))
        deficit = lk.quantity - int(round(st.q[ks].sum()))
        own_first = np.lexsort((-frac[ks], ~own[ks]))
        for k in ks[own_first]:
            if deficit <= 0:
                break
            u = min(deficit, st.room(int(k)))
            st.give(int(k), u)
            deficit -= u
    keys = [key_of(lk.key) for lk in data.locks]
    return np.isin(key, [k for k in keys if k >= 0])


def _top_up(st: _State, cands: np.ndarray, travel: np.ndarray, needs: list[int]) -> None:
    """Give each of ``needs`` (in that order) whole units from its candidates among ``cands``.

    For a need, its candidates are taken nearest first (then in candidate order);
    those whose group had less than one unit left when the need's turn came are passed
    over, the others give what they can until the need is short by less than one unit
    of the candidate's item.
    """
    if not len(cands) or not needs:
        return
    wanted = np.zeros(len(st.need_left), dtype=bool)
    wanted[needs] = True
    # a group out of stock now stays so, and only these needs take: drop the rest first
    cands = cands[wanted[st.need[cands]] & (st.stock_left[st.group[cands]] >= 1 - EPS)]
    if not len(cands):
        return
    cands = cands[np.lexsort((travel[cands], st.need[cands]))]
    nrun = st.need[cands]
    lo = np.searchsorted(nrun, needs, "left").tolist()
    hi = np.searchsorted(nrun, needs, "right").tolist()
    ks, gs, rs = cands.tolist(), st.group[cands].tolist(), st.ratio[cands].tolist()
    ds, ws = st.dep[cands].tolist(), st.w[cands].tolist()
    # copies kept equal to st's arrays, faster to read
    stock, cap, has_cap = st.stock_left.tolist(), st.cap_left.tolist(), st.has_cap.tolist()
    for n, a, b in zip(needs, lo, hi):
        before: dict[int, float] = {}  # stock of a group given to during this need's turn, before
        left = st.need_left[n]
        for j in range(a, b):
            g = gs[j]
            if (before[g] if g in before else stock[g]) < 1 - EPS:
                continue
            if left * rs[j] < 1 - EPS:
                break
            d = ds[j]
            if d >= 0 and has_cap[d] and ws[j] > 0 and cap[d] / ws[j] + EPS < 1:
                continue  # the depot cannot carry one more unit: room() is 0
            k = ks[j]
            u = st.room(k)
            if u > 0:
                before.setdefault(g, stock[g])
                st.give(k, u)
                stock[g] = float(st.stock_left[g])
                if d >= 0:
                    cap[d] = float(st.cap_left[d])
                left = st.need_left[n]


def _tiers(data: RoundData, st: _State, frac: np.ndarray, locked: np.ndarray) -> None:
    """Step 3: tier by tier, the LP's fractional units back (larger fractions first), then
    every need that can still take a whole unit (lowest fill ratio first; own items first,
    then substitutes)."""
    c = data.cand
    tier = c.tier.to_numpy()
    travel = c.travel_min.to_numpy()
    nq = data.needs.quantity.to_numpy(float)
    need_of = st.need
    ntier = data.needs.tier.to_numpy()
    own = c.own.to_numpy(dtype=bool)
    has_sub = np.zeros(len(nq), dtype=bool)  # needs a substitute may cover (the second pass)
    has_sub[need_of[~own]] = True
    fk = np.flatnonzero((frac > EPS) & ~locked)
    free_tier = np.where(locked, -1, ntier[need_of])  # the tier of each unlocked candidate's need
    for t in sorted(set(ntier.tolist())):
        ft = fk[tier[fk] == t]
        for k in ft[np.argsort(-frac[ft], kind="stable")].tolist():
            st.give(k, min(1, st.room(k)))
        open_ = [n for n in np.flatnonzero(ntier == t).tolist() if st.need_left[n] > EPS]
        open_.sort(key=lambda n: 1 - st.need_left[n] / nq[n])
        block = np.flatnonzero(free_tier == t)
        for own_pass in (True, False):
            needs = open_ if own_pass else [n for n in open_ if has_sub[n] and st.need_left[n] > EPS]
            _top_up(st, block[own[block] == own_pass], travel, needs)


def _packs(data: RoundData, st: _State, locked: np.ndarray) -> None:
    """Step 4: round shipments up to a whole pack when the group has the units and capacity
    and no need of the same or a higher tier that the group serves is short by a unit."""
    c = data.cand
    tier = c.tier.to_numpy()
    ks = np.flatnonzero((st.q > 0) & ~locked)
    pack = data.items.pack_size.reindex(c.item_id.take(ks)).to_numpy()
    ks, pack = ks[pack > 1], pack[pack > 1]
    if not len(ks):
        return
    short = _ShortByGroup(st, ks)
    for k, pk in zip(ks.tolist(), pack.tolist()):
        g = st.group[k]
        extra = int(-st.q[k] % pk)
        if extra == 0 or st.stock_left[g] < extra - EPS:
            continue
        d = st.dep[k]
        if d >= 0 and st.has_cap[d] and st.cap_left[d] < extra * st.w[k] - EPS:
            continue
        if st.need_left[st.need[k]] - extra / st.ratio[k] < -(pk - 1) / st.ratio[k] - EPS:
            continue  # the need's total excess would reach a whole pack
        if short.any(g, tier[k]):
            continue
        st.q[k] += extra
        st.stock_left[g] -= extra
        st.need_left[st.need[k]] -= extra / st.ratio[k]
        if d >= 0 and st.has_cap[d]:
            st.cap_left[d] -= extra * st.w[k]


class _ShortByGroup:
    """The candidates of a group whose need is short by at least one unit of its item.

    Rounding up to packs only lowers what needs lack, so a candidate that is not short
    never becomes short again: each group's list is computed once (for the groups of
    ``ks``) and only ever filtered.
    """

    def __init__(self, st: _State, ks: np.ndarray):
        self.st = st
        self.tier = st.c.tier.to_numpy()
        mark = np.zeros(len(st.stock_left), dtype=bool)
        mark[st.group[ks]] = True
        pool = np.flatnonzero(mark[st.group] & self._short(np.arange(len(st.group))))
        pool = pool[np.argsort(st.group[pool], kind="stable")]
        bounds = np.searchsorted(st.group[pool], np.arange(len(st.stock_left) + 1)).tolist()
        self.of: dict[int, np.ndarray] = {}
        self.pool, self.bounds = pool, bounds

    def _short(self, ks: np.ndarray) -> np.ndarray:
        st = self.st
        return st.need_left[st.need[ks]] * st.ratio[ks] >= 1 - EPS

    def any(self, g: int, tier: int) -> bool:
        """Whether a candidate of group ``g`` in tier ``tier`` or a higher one is short now."""
        g = int(g)
        ks = self.of.get(g)
        if ks is None:
            ks = self.pool[self.bounds[g]:self.bounds[g + 1]]
        ks = ks[self._short(ks)]
        self.of[g] = ks
        return bool((self.tier[ks] <= tier).any())


def to_integers(data: RoundData, x: np.ndarray) -> np.ndarray:
    """Whole-unit shipments per candidate from the LP's values ``x`` (see the module docstring)."""
    c = data.cand
    if c.empty:
        return np.zeros(0, dtype=np.int64)
    q = np.floor(x + EPS)
    st = _State(data, q)
    frac = x - q
    locked = _locks(data, st, frac)  # 2. locks back to their quantity
    _tiers(data, st, frac, locked)  # 3. tier by tier
    _packs(data, st, locked)  # 4. whole packs
    own_item_first(data, st, locked)  # 5. own item before substitutes
    return st.q.astype(np.int64)


def own_item_first(data: RoundData, st: _State, locked: np.ndarray) -> int:
    """Priority 1b in whole units: move substitute units to short needs of their own item.

    A unit of group ``g`` that covers a need for another item moves to a need for ``g``'s own
    item that ``g`` may serve (a candidate of the same group: same depot, stock, weight and
    legality) when that need is short by a whole unit and sits in a higher tier, or in the
    same tier with ``ratio >= 1`` (so the tier's fill does not drop). Lower-priority shipments
    give first. A locked shipment moves only to the same site's own need (the lock's total
    is kept). Returns the number of units moved.
    """
    c = data.cand
    own = c.own.to_numpy(dtype=bool)
    subk = np.flatnonzero((st.q > 0) & ~own)
    if not len(subk):
        return 0
    tier = c.tier.to_numpy()
    travel = c.travel_min.to_numpy()
    # own-item candidates of those groups whose need is still short by a whole unit
    ownk = np.flatnonzero(own & np.isin(st.group, np.unique(st.group[subk])))
    ownk = ownk[st.need_left[st.need[ownk]] >= 1 - EPS]
    if not len(ownk):
        return 0
    site = _codes(c.site_id)[0] if locked.any() else np.zeros(len(c), dtype=np.int64)
    ownk = ownk[np.lexsort((travel[ownk], tier[ownk]))]
    by_group: dict[int, list[int]] = {}
    for k, g in zip(ownk.tolist(), st.group[ownk].tolist()):
        by_group.setdefault(g, []).append(k)
    moved = 0
    for k in subk[np.lexsort((-travel[subk], -tier[subk]))].tolist():
        for k2 in by_group.get(int(st.group[k]), ()):
            if st.q[k] < 1 - EPS:
                break
            if tier[k2] > tier[k] or (tier[k2] == tier[k] and st.ratio[k] < 1 - EPS):
                continue
            if (locked[k] or locked[k2]) and site[k2] != site[k]:
                continue
            u = int(min(st.q[k], np.floor(st.need_left[st.need[k2]] + EPS)))
            if u <= 0:
                continue
            st.q[k] -= u
            st.need_left[st.need[k]] += u / st.ratio[k]
            st.q[k2] += u
            st.need_left[st.need[k2]] -= u
            moved += u
    return moved


def _lot_queues(lots: pd.DataFrame) -> dict[int, list[list]]:
    """Each group's lots as ``[lot_id, units left]``: earliest expiry first (never-expiring
    last), donated before reserve, then by lot id."""
    lots = lots.assign(_never=lots.expires.isna(), _reserve=~lots.donated)
    lots = lots.sort_values(["group", "_never", "expires", "_reserve", "lot_id"])
    out: dict[int, list[list]] = {}
    for g, lid, qty in zip(lots.group.tolist(), lots.lot_id.tolist(), lots.quantity.tolist()):
        out.setdefault(g, []).append([lid, int(qty)])
    return out


def assign_lots(data: RoundData, q: np.ndarray) -> pd.DataFrame:
    """Allocation rows (one per lot, site and need) from whole-unit shipments per candidate.

    Each group's shipments, highest tier first, then nearest, take its lots in the order
    of :func:`_lot_queues`.
    """
    cols = ["lot_id", "depot_id", "site_id", "item_id", "need_item_id", "quantity", "travel_min"]
    pos = np.flatnonzero(q > 0)
    if not len(pos):
        return pd.DataFrame({k: pd.Series(dtype="int64" if k == "quantity" else ("float64" if k == "travel_min" else "string")) for k in cols})
    c = data.cand[["group", "tier", "travel_min", "site_id", "need_item_id", "depot_id", "item_id"]].take(pos)
    c = c.assign(quantity=q[pos]).sort_values(["group", "tier", "travel_min", "site_id", "need_item_id"])
    queues = _lot_queues(data.lots)
    sums: dict[tuple, int] = {}  # as a groupby without sorting: first appearance first, NaN keys dropped
    g_prev, queue, li = None, [], 0
    for g, dep, site, item, need_item, qty, travel in zip(
            c.group.tolist(), c.depot_id.tolist(), c.site_id.tolist(), c.item_id.tolist(),
            c.need_item_id.tolist(), c.quantity.tolist(), c.travel_min.tolist()):
        if g != g_prev:
            g_prev, queue, li = g, [list(x) for x in queues[g]], 0
        left = int(qty)
        travel = float(travel)
        while left > 0:
            take = min(left, queue[li][1])
            if take > 0:
                if travel == travel:
                    key = (queue[li][0], dep, site, item, need_item, travel)
                    sums[key] = sums.get(key, 0) + take
                queue[li][1] -= take
                left -= take
            if queue[li][1] == 0:
                li += 1
    keys = list(sums)
    df = pd.DataFrame({
        **{k: pd.array([key[j] for key in keys], dtype="string") for j, k in enumerate(cols[:5])},
        "quantity": np.array(list(sums.values()), dtype=np.int64),
        "travel_min": np.array([key[5] for key in keys], dtype=np.float64),
    })
    return df.sort_values(["site_id", "need_item_id", "depot_id", "lot_id"]).reset_index(drop=True)
