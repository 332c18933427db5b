"""Recompute every rule of a round from its output tables (independent of the model).

:func:`check_round` is used after every solve in the test suite, on the examples,
on hypothesis-generated scenarios and on the demo scenario. It only reads the
scenario, the travel matrix and the result's tables; it does not look at the LP.

Checked: the eight hard rules (stock, need with the whole-pack exception,
substitution, grade, earmarks, reachability, capacity, integers), exclusions and
locks (each ships exactly its quantity, and covers the site's own need for its item
first), the consistency of ``fill.csv`` with ``allocations.csv``, and the
priorities that can be verified from the tables: no unit that could fill a
higher tier's need goes to a lower tier, no need is short while a lot that could
serve it sits idle, no unit covers a substitute need while a need for its own item
that it may reach in the same or a higher tier is short (priority 1b), and the least-filled site of a tier and item could not be
helped by moving units from a better-filled site of the same tier and item.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.allocate.explain import REASONS
from allocator.allocate.prepare import allows, travel_for
from allocator.allocate.result import RoundResult
from allocator.scenario import Scenario

TOL = 1e-6


def check_round(scenario: Scenario, result: RoundResult, travel: pd.DataFrame | None = None) -> list[str]:
    """Every rule the round breaks, as readable strings (empty when all hold).

    Parameters
    ----------
    scenario : Scenario
        The scenario the round was run on.
    result : RoundResult
        What :func:`allocator.allocate` returned.
    travel : DataFrame, optional
        The travel matrix the round was given (default: what the round would compute).

    Examples
    --------
    >>> from allocator import allocate, examples
    >>> sc = examples.three_tiers()
    >>> check_round(sc, allocate(sc))
    []
    """
    v: list[str] = []
    sc = scenario
    a = result.allocations
    at = sc.at
    items = sc.items.set_index("item_id")
    weight = items.unit_weight_kg.fillna(1.0)
    sites = sc.sites.set_index("site_id")
    depots = sc.depots.set_index("depot_id")
    stock = sc.stock.set_index("lot_id")
    don = sc.donations.set_index("donation_id")
    minutes = travel_for(sc, travel).minutes
    excluded = set(result.summary.get("excluded", []))
    ratio = {(i, i): 1.0 for i in items.index}
    for r in sc.substitutes.itertuples(index=False):
        ratio[(str(r.item_id), str(r.substitute_id))] = float(r.ratio)
    needs = result.fill.set_index(["site_id", "item_id"])

    # 8. integers (and positive)
    q = a.quantity.to_numpy(float) if len(a) else np.zeros(0)
    for r in a[(np.mod(q, 1) != 0) | (q <= 0)].itertuples():
        v.append(f"integers: allocation of lot {r.lot_id} to {r.site_id} has quantity {r.quantity}")

    # 1. stock
    for lot, qty in a.groupby("lot_id").quantity.sum().items():
        if lot not in stock.index:
            v.append(f"stock: lot {lot} does not exist")
            continue
        s = stock.loc[lot]
        if s.status != "available":
            v.append(f"stock: lot {lot} is {s.status} and shipped {qty}")
        if pd.notna(s.expires) and s.expires <= at:
            v.append(f"stock: lot {lot} expired {s.expires:%Y-%m-%d} and shipped {qty}")
        if qty > s.quantity:
            v.append(f"stock: lot {lot} ships {qty} > its quantity {s.quantity}")
    for r in a.itertuples(index=False):
        if r.lot_id in stock.index:
            s = stock.loc[r.lot_id]
            if s.depot_id != r.depot_id or s.item_id != r.item_id:
                v.append(f"stock: lot {r.lot_id} is {s.item_id} at {s.depot_id}, not {r.item_id} at {r.depot_id}")
        # 3. substitution
        if (r.need_item_id, r.item_id) not in ratio:
            v.append(f"substitution: {r.item_id} may not cover {r.need_item_id} (at {r.site_id})")
        # 4. grade
        if r.item_id in items.index and items.at[r.item_id, "grade"] == "civil" and bool(sites.at[r.site_id, "clinical"]):
            v.append(f"grade: civil-grade {r.item_id} (lot {r.lot_id}) sent to clinical site {r.site_id}")
        # 5. earmarks
        if r.lot_id in stock.index:
            did = stock.at[r.lot_id, "donation_id"]
            if did and did in don.index:
                d = don.loc[did]
                if not allows(tuple(d.earmark_site_id or ()), tuple(d.earmark_kind or ()), r.site_id, sites.at[r.site_id, "kind"]):
                    v.append(f"earmark: lot {r.lot_id} of donation {did} sent to {r.site_id}, which its earmark excludes")
        # 6. reachability
        t = minutes.at[r.depot_id, r.site_id] if (r.depot_id in minutes.index and r.site_id in minutes.columns) else np.inf
        if not np.isfinite(t):
            v.append(f"reachability: {r.depot_id} cannot reach {r.site_id} but ships {r.quantity} {r.item_id}")
        if r.depot_id in excluded or r.site_id in excluded:
            v.append(f"exclusion: {r.depot_id} -> {r.site_id} ships although excluded")

    # 2. need (whole-pack exception)
    if len(a):
        a2 = a.assign(r=[ratio.get((n, i), np.nan) for n, i in zip(a.need_item_id, a.item_id)])
        a2["covered"] = a2.quantity / a2.r
        a2["pack"] = items.pack_size.reindex(a2.item_id).to_numpy()
        for (s, n), df in a2.groupby(["site_id", "need_item_id"]):
            need = float(needs.at[(s, n), "need"]) if (s, n) in needs.index else 0.0
            got = float(df.covered.sum())
            slack = float(((df.pack - 1) / df.r).max())
            if got > need + TOL + slack:
                v.append(f"need: {s} receives {got:g} units of {n} and needs {need:g}")
            elif got > need + TOL and (df.pack <= 1).all():
                v.append(f"need: {s} receives {got:g} units of {n} and needs {need:g}")

    # 7. capacity
    if len(a):
        kg = (a.quantity * weight.reindex(a.item_id).to_numpy()).groupby(a.depot_id).sum()
        for d, w in kg.items():
            cap = depots.at[d, "dispatch_capacity_kg"]
            if pd.notna(cap) and w > cap + TOL:
                v.append(f"capacity: {d} dispatches {w:g} kg > its capacity {cap:g} kg")

    # locks
    locks = result.summary.get("locks", [])
    for lk in locks:
        got = a[(a.depot_id == lk["depot_id"]) & (a.site_id == lk["site_id"]) & (a.item_id == lk["item_id"])].quantity.sum()
        if got != lk["quantity"]:
            v.append(f"lock: {lk} ships {got}")

    # locks count toward the site's own need for the locked item first (Overrides)
    own_locked: dict[tuple[str, str], int] = {}
    for lk in locks:
        own_locked[(lk["site_id"], lk["item_id"])] = own_locked.get((lk["site_id"], lk["item_id"]), 0) + int(lk["quantity"])
    for (s, i), q in own_locked.items():
        if q <= 0 or (s, i) not in needs.index:
            continue
        deps = {lk["depot_id"] for lk in locks if lk["site_id"] == s and lk["item_id"] == i}
        own = a[(a.site_id == s) & (a.item_id == i) & (a.need_item_id == i) & a.depot_id.isin(deps)].quantity.sum()
        want = min(q, float(needs.at[(s, i), "need"]))
        if own < want - TOL:
            v.append(f"lock: {q} locked {i} to {s} cover only {own} of its own need for {i} (at least {want:g})")

    # fill.csv consistent with allocations.csv
    f = result.fill
    cov = {}
    if len(a):
        cov = a2.groupby(["site_id", "need_item_id"]).covered.sum().to_dict()
    for r in f.itertuples(index=False):
        exp = min(float(r.need), cov.get((r.site_id, r.item_id), 0.0))
        if abs(float(r.filled) - exp) > 1e-5:
            v.append(f"fill: {r.site_id}/{r.item_id} filled {r.filled} but allocations cover {exp:g}")
        if abs(float(r.need) - float(r.filled) - float(r.shortage)) > 1e-5:
            v.append(f"fill: {r.site_id}/{r.item_id} shortage {r.shortage} != need - filled")
        if r.shortage > TOL and r.reason not in REASONS:
            v.append(f"fill: {r.site_id}/{r.item_id} is short without a valid reason (got {r.reason!r})")
        if r.shortage <= TOL and r.reason:
            v.append(f"fill: {r.site_id}/{r.item_id} is not short but has reason {r.reason!r}")

    v.extend(_priorities(sc, result, minutes, ratio, excluded, cov))
    v.extend(_own_item_first(sc, result, minutes, ratio, excluded))
    return v


def _own_item_first(sc: Scenario, result: RoundResult, minutes: pd.DataFrame, ratio: dict,
                    excluded: set[str]) -> list[str]:
    """Priority 1b from the tables: no unit covers a substitute need while its own item is short.

    A violation is a unit of lot L (item I) covering another item's need at site A while a
    need for I at a site B that L may legally reach (reachability, grade, earmark; the same
    depot and weight, so stock and capacity allow the move) is short by a whole unit, and B
    is in a higher tier than A, or in the same tier with a ratio >= 1 (so that the move does
    not lower the tier's fill). A locked shipment may only move within its own site, and no
    unit may join a locked (depot, site, item) at another site.
    """
    v: list[str] = []
    a = result.allocations
    if a.empty:
        return v
    subs = a[a.item_id != a.need_item_id]
    if subs.empty:
        return v
    f = result.fill
    short = f[(f.shortage >= 1 - TOL) & ~f.site_id.isin(excluded)]
    if short.empty:
        return v
    items = sc.items.set_index("item_id")
    sites = sc.sites.set_index("site_id")
    don = sc.donations.set_index("donation_id")
    stock = sc.stock.set_index("lot_id")
    locked = {(lk["depot_id"], lk["site_id"], lk["item_id"]) for lk in result.summary.get("locks", [])}
    by_item = {i: df for i, df in short.groupby("item_id")}
    for r in subs.itertuples(index=False):
        own = by_item.get(r.item_id)
        if own is None or r.lot_id not in stock.index or r.depot_id not in minutes.index:
            continue
        lot = stock.loc[r.lot_id]
        t_a = int(sites.at[r.site_id, "tier"])
        rt = ratio.get((r.need_item_id, r.item_id), 1.0)
        dm = minutes.loc[r.depot_id]
        for b in own.itertuples(index=False):
            if int(b.tier) > t_a or (int(b.tier) == t_a and rt < 1 - TOL):
                continue
            lk = (r.depot_id, r.site_id, r.item_id) in locked or (r.depot_id, b.site_id, r.item_id) in locked
            if lk and b.site_id != r.site_id:
                continue
            if b.site_id in sites.index and _serves(lot, sites.loc[b.site_id], b.site_id, dm, items, don):
                v.append(f"own item: {r.quantity} {r.item_id} of lot {r.lot_id} cover {r.need_item_id} at "
                         f"{r.site_id} (tier {t_a}) while {b.site_id} (tier {b.tier}) is short of "
                         f"{b.shortage:g} {r.item_id}")
                break
    return v


def _serves(lot: pd.Series, site: pd.Series, site_id: str, depot_min: pd.Series, items: pd.DataFrame, don: pd.DataFrame) -> bool:
    if not np.isfinite(depot_min.get(site_id, np.inf)):
        return False
    if items.at[lot.item_id, "grade"] == "civil" and bool(site.clinical):
        return False
    if lot.donation_id and lot.donation_id in don.index:
        d = don.loc[lot.donation_id]
        return allows(tuple(d.earmark_site_id or ()), tuple(d.earmark_kind or ()), site_id, str(site.kind))
    return True


def _covering(usable: pd.DataFrame, ratio: dict, need_item: str):
    ships = {i for (n, i) in ratio if n == need_item}
    return usable[usable.item_id.isin(ships)].iterrows()


def _priorities(sc: Scenario, result: RoundResult, minutes: pd.DataFrame, ratio: dict, excluded: set[str],
                cov: dict) -> list[str]:
    """Tier priority, idle stock and max-min fairness, checked by single-unit moves."""
    v: list[str] = []
    a = result.allocations
    f = result.fill
    items = sc.items.set_index("item_id")
    sites = sc.sites.set_index("site_id")
    don = sc.donations.set_index("donation_id")
    weight = items.unit_weight_kg.fillna(1.0)
    at = sc.at
    s = sc.stock
    usable = s[(s.status == "available") & (s.quantity > 0) & ~(s.expires.notna() & (s.expires <= at))
               & ~s.depot_id.isin(excluded)].set_index("lot_id")
    shipped = a.groupby("lot_id").quantity.sum()
    left = usable.quantity - shipped.reindex(usable.index).fillna(0)
    locked = {(lk["depot_id"], lk["site_id"], lk["item_id"]) for lk in result.summary.get("locks", [])}
    kg = (a.quantity * weight.reindex(a.item_id).to_numpy()).groupby(a.depot_id).sum() if len(a) else pd.Series(dtype=float)
    depots = sc.depots.set_index("depot_id")
    short = f[(f.shortage > TOL) & ~f.site_id.isin(excluded)]
    for r in short.itertuples(index=False):
        site = sites.loc[r.site_id]
        for lot_id, lot in _covering(usable, ratio, r.item_id):
            rt = ratio[(r.item_id, lot.item_id)]
            if float(r.shortage) * rt < 1 - TOL or (lot.depot_id, r.site_id, lot.item_id) in locked:
                continue
            if lot.depot_id not in minutes.index or r.site_id not in minutes.columns:
                continue
            dm = minutes.loc[lot.depot_id]
            if not _serves(lot, site, r.site_id, dm, items, don):
                continue
            # idle stock that could fill this need (capacity permitting)
            cap = depots.at[lot.depot_id, "dispatch_capacity_kg"]
            room = np.inf if pd.isna(cap) else cap - float(kg.get(lot.depot_id, 0.0))
            if left[lot_id] >= 1 and room >= weight[lot.item_id] - TOL:
                v.append(f"tier: {r.site_id} (tier {r.tier}) is short of {r.item_id} while lot {lot_id} "
                         f"at {lot.depot_id} could send it {int(left[lot_id])} more")
                break
            # units of this lot sent to a lower tier
            low = a[(a.lot_id == lot_id)]
            for x in low.itertuples(index=False):
                t = int(sites.at[x.site_id, "tier"])
                if t > r.tier and (x.depot_id, x.site_id, x.item_id) not in locked:
                    v.append(f"tier: lot {lot_id} sends {x.quantity} to {x.site_id} (tier {t}) while "
                             f"{r.site_id} (tier {r.tier}) is short of {r.item_id}")
                    break
    # fairness: the unique least-filled site of a tier and item cannot be helped by a better-filled one
    for (t, item), df in f[(f.need > 0) & ~f.site_id.isin(excluded)].groupby(["tier", "item_id"]):
        if len(df) < 2:
            continue
        df = df.sort_values("fill_ratio")
        lo = df.iloc[0]
        unit_lo = 1.0 / float(lo.need)
        if float(df.iloc[1].fill_ratio) <= float(lo.fill_ratio) + 2 * unit_lo + TOL:
            continue
        site = sites.loc[lo.site_id]
        for hi in df.iloc[1:].itertuples(index=False):
            rows = a[(a.site_id == hi.site_id) & (a.need_item_id == item)]
            for x in rows.itertuples(index=False):
                if ((x.depot_id, x.site_id, x.item_id) in locked or (x.depot_id, lo.site_id, x.item_id) in locked
                        or x.lot_id not in usable.index):
                    continue
                rt = ratio[(item, x.item_id)]
                after_hi = (float(hi.filled) - 1.0 / rt) / float(hi.need)
                after_lo = (float(lo.filled) + 1.0 / rt) / float(lo.need)
                if after_hi <= after_lo + TOL:
                    continue
                lot = usable.loc[x.lot_id]
                if lot.depot_id in minutes.index and _serves(lot, site, lo.site_id, minutes.loc[lot.depot_id], items, don):
                    v.append(f"fairness: {lo.site_id} has the lowest fill of {item} in tier {t} "
                             f"({float(lo.fill_ratio):.3f}) while lot {x.lot_id} could move a unit to it from "
                             f"{hi.site_id} ({float(hi.fill_ratio):.3f})")
                    break
            else:
                continue
            break
    return v
