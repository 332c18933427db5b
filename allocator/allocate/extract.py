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

import numpy as np
import pandas as pd

from allocator.allocate.prepare import RoundData

EPS = 1e-6


class _State:
    def __init__(self, data: RoundData, q: np.ndarray):
        c = data.cand
        self.c = c
        self.q = q
        self.group = c.group.to_numpy()
        self.need = c.need.to_numpy()
        self.ratio = c.ratio.to_numpy()
        self.w = c.weight.to_numpy()
        self.dep = c.depot_id.to_numpy()
        gq = data.groups.set_index("group").quantity
        self.stock_left = np.zeros(int(gq.index.max()) + 1 if len(gq) else 0)
        self.stock_left[gq.index.to_numpy()] = gq.to_numpy(float)
        np.subtract.at(self.stock_left, self.group, q)
        nq = data.needs.quantity.to_numpy(float)
        self.need_left = nq.copy()
        np.subtract.at(self.need_left, self.need, q / self.ratio)
        self.cap_left = dict(data.capacity)
        for d, v in pd.Series(q * self.w).groupby(self.dep).sum().items():
            if d in self.cap_left:
                self.cap_left[d] -= v

    def room(self, k: int) -> int:
        """Whole units candidate ``k`` can still take without breaking stock, need or capacity."""
        r = min(self.stock_left[self.group[k]], np.floor(self.need_left[self.need[k]] * self.ratio[k] + EPS))
        d = self.dep[k]
        if d in self.cap_left and self.w[k] > 0:
            r = min(r, np.floor(self.cap_left[d] / self.w[k] + EPS))
        return max(int(np.floor(r + EPS)), 0)

    def give(self, k: int, units: int) -> None:
        if units <= 0:
            return
        self.q[k] += units
        self.stock_left[self.group[k]] -= units
        self.need_left[self.need[k]] -= units / self.ratio[k]
        d = self.dep[k]
        if d in self.cap_left:
            self.cap_left[d] -= units * self.w[k]


def to_integers(data: RoundData, x: np.ndarray) -> np.ndarray:
    """Whole-unit shipments per candidate from the LP's values ``x`` (see the module docstring)."""
    c = data.cand
    if c.empty:
        return np.zeros(0, dtype=np.int64)
    q = np.floor(x + EPS)
    st = _State(data, q)
    frac = x - q
    tier = c.tier.to_numpy()
    travel = c.travel_min.to_numpy()

    # 2. locks back to their quantity
    for lk in data.locks:
        ks = np.flatnonzero((c.depot_id.to_numpy() == lk.depot_id) & (c.site_id.to_numpy() == lk.site_id)
                            & (c.item_id.to_numpy() == lk.item_id))
        deficit = lk.quantity - int(round(q[ks].sum()))
        own_first = np.lexsort((-frac[ks], ~c.own.to_numpy(dtype=bool)[ks]))
        for k in ks[own_first]:
            if deficit <= 0:
                break
            u = min(deficit, st.room(int(k)))
            st.give(int(k), u)
            deficit -= u
    locked = np.zeros(len(c), dtype=bool)
    if data.locks:
        key = set((lk.depot_id, lk.site_id, lk.item_id) for lk in data.locks)
        locked = np.array([(d, s, i) in key for d, s, i in zip(c.depot_id, c.site_id, c.item_id)])

    # 3. tier by tier: restore the LP's fractional units (larger fractions first), then
    #    give any need that can still take a whole unit (lowest fill ratio first)
    nq = data.needs.quantity.to_numpy(float)
    need_of = c.need.to_numpy()
    order = np.lexsort((travel, need_of))
    starts = np.searchsorted(need_of[order], np.arange(len(nq) + 1))
    ntier = data.needs.tier.to_numpy()
    own = c.own.to_numpy(dtype=bool)
    has_sub = np.zeros(len(nq), dtype=bool)  # needs a substitute may cover (the second pass)
    has_sub[need_of[~own]] = True
    fk = np.flatnonzero((frac > EPS) & ~locked)
    for t in sorted(set(ntier.tolist())):
        ft = fk[tier[fk] == t]
        for k in ft[np.argsort(-frac[ft], kind="stable")]:
            st.give(int(k), min(1, st.room(int(k))))
        open_ = [n for n in np.flatnonzero(ntier == t) if st.need_left[n] > EPS]
        open_.sort(key=lambda n: 1 - st.need_left[n] / nq[n])
        for own_pass in (True, False):
            for n in (open_ if own_pass else [n for n in open_ if has_sub[n] and st.need_left[n] > EPS]):
                ks = order[starts[n]:starts[n + 1]]
                ks = ks[(own[ks] == own_pass) & ~locked[ks]]  # own items first, then substitutes
                for k in ks[st.stock_left[st.group[ks]] >= 1 - EPS]:
                    if st.need_left[n] * st.ratio[k] < 1 - EPS:
                        break
                    st.give(int(k), st.room(int(k)))

    # 4. whole packs
    pack = data.items.pack_size.reindex(c.item_id).to_numpy()
    ks = np.flatnonzero((pack > 1) & (st.q > 0) & ~locked)
    if len(ks):
        by_group = {int(str(g)): np.asarray(v) for g, v in pd.Series(np.arange(len(c))).groupby(st.group).indices.items()}
        for k in ks:
            k = int(k)
            extra = int(-st.q[k] % pack[k])
            if extra == 0 or st.stock_left[st.group[k]] < extra - EPS:
                continue
            d = st.dep[k]
            if d in st.cap_left and st.cap_left[d] < extra * st.w[k] - EPS:
                continue
            if st.need_left[st.need[k]] - extra / st.ratio[k] < -(pack[k] - 1) / st.ratio[k] - EPS:
                continue  # the need's total excess would reach a whole pack
            others = by_group[st.group[k]]
            short = (st.need_left[st.need[others]] * st.ratio[others] >= 1 - EPS) & (tier[others] <= tier[k])
            if short.any():
                continue
            st.q[k] += extra
            st.stock_left[st.group[k]] -= extra
            st.need_left[st.need[k]] -= extra / st.ratio[k]
            if d in st.cap_left:
                st.cap_left[d] -= extra * st.w[k]

    # 5. own item before substitutes
    own_item_first(data, st, locked)
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
    site = c.site_id.to_numpy()
    travel = c.travel_min.to_numpy()
    # own-item candidates of those groups whose need is still short by a whole unit
    ownk = np.flatnonzero(own & np.isin(st.group, np.unique(st.group[subk])))
    ownk = ownk[st.need_left[st.need[ownk]] >= 1 - EPS]
    if not len(ownk):
        return 0
    ownk = ownk[np.lexsort((travel[ownk], tier[ownk]))]
    by_group: dict[int, list[int]] = {}
    for k in ownk.tolist():
        by_group.setdefault(int(st.group[k]), []).append(k)
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


def assign_lots(data: RoundData, q: np.ndarray) -> pd.DataFrame:
    """Allocation rows (one per lot, site and need) from whole-unit shipments per candidate."""
    c = data.cand.assign(quantity=q)
    c = c[c.quantity > 0]
    cols = ["lot_id", "depot_id", "site_id", "item_id", "need_item_id", "quantity", "travel_min"]
    if c.empty:
        return pd.DataFrame({k: pd.Series(dtype="int64" if k == "quantity" else ("float64" if k == "travel_min" else "string")) for k in cols})
    lots = data.lots.assign(_never=data.lots.expires.isna(), _reserve=~data.lots.donated)
    lots = lots.sort_values(["group", "_never", "expires", "_reserve", "lot_id"])
    by_group = {g: list(zip(df.lot_id, df.quantity)) for g, df in lots.groupby("group", sort=False)}
    c = c.sort_values(["group", "tier", "travel_min", "site_id", "need_item_id"])
    out = []
    for g, df in c.groupby("group", sort=False):
        queue = [[lid, int(qty)] for lid, qty in by_group[g]]
        li = 0
        for r in df.to_dict("records"):
            left = int(r["quantity"])
            while left > 0:
                take = min(left, queue[li][1])
                if take > 0:
                    out.append((queue[li][0], r["depot_id"], r["site_id"], r["item_id"], r["need_item_id"], take,
                                float(r["travel_min"])))
                    queue[li][1] -= take
                    left -= take
                if queue[li][1] == 0:
                    li += 1
    rows = pd.DataFrame(out, columns=cols)
    df = pd.DataFrame(rows.groupby(cols[:5] + ["travel_min"], as_index=False, sort=False)["quantity"].sum())[cols]
    for k in ("lot_id", "depot_id", "site_id", "item_id", "need_item_id"):
        df[k] = df[k].astype("string")
    df["quantity"] = df.quantity.astype("int64")
    return df.sort_values(["site_id", "need_item_id", "depot_id", "lot_id"]).reset_index(drop=True)
