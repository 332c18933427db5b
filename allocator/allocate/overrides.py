"""Check an officer's locks before solving, so an impossible lock is named with the rule it breaks."""

from __future__ import annotations

import math

import numpy as np

from allocator import rules
from allocator.allocate.prepare import Lock, RoundData
from allocator.errors import InfeasibleError, LockError


def _fail(lk: Lock, rule: str, why: str) -> None:
    raise InfeasibleError(f"{lk} breaks the {rule} rule: {why}")


def check_locks(data: RoundData) -> None:
    """Raise :class:`InfeasibleError` naming the first lock that cannot hold and the rule it breaks.

    A lock naming an unknown depot, site or item raises :class:`LockError`.

    Checked one lock at a time and per depot: existence and exclusion, reachability,
    grade, need (counting substitutes by their ratio), stock, earmarks, capacity.
    Combinations that only fail together are reported by the solve stage.
    """
    sc = data.scenario
    sites, depots = set(sc.sites.site_id), set(sc.depots.depot_id)
    items = data.items
    lots = data.lots
    per_depot_item: dict[tuple[str, str], int] = {}
    per_depot_kg: dict[str, float] = {}
    for lk in data.locks:
        if lk.depot_id not in depots:
            raise LockError(f"{lk}: there is no depot {lk.depot_id}")
        if lk.site_id not in sites:
            raise LockError(f"{lk}: there is no site {lk.site_id}")
        if lk.item_id not in items.index:
            raise LockError(f"{lk}: there is no item {lk.item_id}")
        if lk.quantity == 0:
            continue
        if lk.depot_id in data.excluded:
            _fail(lk, "exclusion", f"depot {lk.depot_id} is excluded from this round")
        if lk.site_id in data.excluded:
            _fail(lk, "exclusion", f"site {lk.site_id} is excluded from this round")
        t = rules.travel_lookup(data.travel.minutes, [lk.depot_id], [lk.site_id])
        if not rules.reachable(t)[0]:
            _fail(lk, "reachability", f"no vehicle of {lk.depot_id} can reach {lk.site_id} under the traffic control in force")
        site = data.sites.loc[lk.site_id]
        if not rules.grade_allows(items.at[lk.item_id, "grade"], bool(site.clinical))[0]:
            _fail(lk, "grade", f"{lk.item_id} is civil-grade and {lk.site_id} is a clinical site")
        nd = data.needs[data.needs.site_id == lk.site_id]
        ratio = [dict(data.subs.get(str(n), [])).get(lk.item_id, math.nan) for n in nd.item_id]
        room = float(np.nansum(rules.need_room(nd.quantity, ratio)))
        if lk.quantity > room + 1e-9:
            _fail(lk, "need", f"{lk.site_id} needs at most {room:g} units of {lk.item_id} (its needs, counting substitutes)")
        mine = lots[(lots.depot_id == lk.depot_id) & (lots.item_id == lk.item_id)]
        have = int(mine.quantity.sum())
        key = (lk.depot_id, lk.item_id)
        per_depot_item[key] = per_depot_item.get(key, 0) + lk.quantity
        if per_depot_item[key] > have:
            _fail(lk, "stock", f"{lk.depot_id} holds {have} usable units of {lk.item_id} "
                  f"and the locks on it ask for {per_depot_item[key]}")
        ok = rules.earmark_allows(mine.em_sites.tolist(), mine.em_kinds.tolist(), [lk.site_id] * len(mine),
                                  [str(site.kind)] * len(mine))
        allowed = int(mine.quantity[ok].sum()) if len(mine) else 0
        if lk.quantity > allowed:
            _fail(lk, "earmark", f"only {allowed} of {lk.depot_id}'s {lk.item_id} may go to {lk.site_id}; "
                  "the rest is earmarked for other sites")
        kg = float(rules.shipment_kg(lk.quantity, items.at[lk.item_id, "weight"]))
        per_depot_kg[lk.depot_id] = per_depot_kg.get(lk.depot_id, 0.0) + kg
        cap = data.capacity.get(lk.depot_id, math.inf)
        if per_depot_kg[lk.depot_id] > cap + 1e-9:
            _fail(lk, "capacity", f"the locks on {lk.depot_id} weigh {per_depot_kg[lk.depot_id]:g} kg, "
                  f"above its dispatch capacity of {cap:g} kg")
