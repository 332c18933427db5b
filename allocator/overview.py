"""What the officers' Overview page shows, computed from the store and the scenario (no UI here).

Every function returns plain DataFrames or dataclasses with ids and codes;
the app renders them in the reader's language.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocator import rules
from allocator.scenario import Scenario
from allocator.store import models as m

__all__ = ["data_fingerprint", "Overview", "overview", "stock_by_depot", "needs_by_tier", "site_days", "expiring_lots",
           "unreachable_sites", "alerts", "ALERT_KINDS", "ALERT_COLUMNS", "HORIZON_DAYS", "LOW_DAYS"]


def data_fingerprint(session: Session) -> str:
    """A short fingerprint of everything the current scenario depends on.

    It changes when a scenario is imported or edited, when the ledger grows
    (donations, inspections, write-offs), and when a round, trip or delivery
    changes state (reservations move the available stock). Caches key on it.

    Examples
    --------
    >>> from allocator.store import memory_store, transaction
    >>> with transaction(memory_store()) as s:
    ...     len(data_fingerprint(s))
    16
    """
    info = session.get(m.ScenarioInfo, 1)
    head = session.get(m.LedgerHead, 1)
    parts = [
        "" if info is None or info.imported_at is None else info.imported_at.isoformat(),
        "" if head is None else f"{head.seq}:{head.hash}",
        session.scalar(select(func.count()).select_from(m.Round)),
        session.scalar(select(func.coalesce(func.sum(m.Round.version), 0))),
        session.scalar(select(func.count()).select_from(m.Trip)),
        session.scalar(select(func.count()).select_from(m.Delivery)),
        session.scalar(select(func.count()).select_from(m.WriteOff)),
        session.scalar(select(func.coalesce(func.sum(m.Lot.quantity), 0))),
        session.scalar(select(func.count()).select_from(m.Lot)),
    ]
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- stock and needs

#: Days ahead in which an expiring lot is an alert (the planning horizon of a round).
HORIZON_DAYS = 7.0
#: Days of supply below which a site is flagged.
LOW_DAYS = 1.0


def stock_by_depot(scenario: Scenario) -> pd.DataFrame:
    """Units per depot and item, split into usable now, quarantined, rejected and expired.

    Returns
    -------
    DataFrame
        ``depot_id, item_id, available, quarantined, rejected, expired, lots``
        (``available`` is what a round may allocate: status available, not
        expired at ``as_of``), in depot and item order.

    Examples
    --------
    >>> from allocator import examples
    >>> stock_by_depot(examples.two_hospitals(supply=1000))[["depot_id", "available"]].values.tolist()
    [['D1', 1000]]
    """
    cols = ["depot_id", "item_id", "available", "quarantined", "rejected", "expired", "lots"]
    s = scenario.stock
    if not len(s):
        return pd.DataFrame(columns=cols)
    expired = rules.lot_expired(s.expires, scenario.at)
    bucket = np.where(expired, "expired", s.status.astype(str))
    df = pd.DataFrame({"depot_id": s.depot_id.astype(str), "item_id": s.item_id.astype(str),
                       "bucket": bucket, "quantity": s.quantity.astype("int64")})
    out = df.pivot_table(index=["depot_id", "item_id"], columns="bucket", values="quantity",
                         aggfunc="sum", fill_value=0)
    for c in ("available", "quarantined", "rejected", "expired"):
        if c not in out.columns:
            out[c] = 0
    out["lots"] = df.groupby(["depot_id", "item_id"]).size()
    out = out.reset_index()
    order = {d: i for i, d in enumerate(scenario.depots.depot_id.astype(str))}
    iorder = {d: i for i, d in enumerate(scenario.items.item_id.astype(str))}
    out = out.sort_values(["depot_id", "item_id"], key=lambda c: c.map(order if c.name == "depot_id" else iorder))
    return out[cols].astype({c: "int64" for c in cols[2:]}).reset_index(drop=True)


def needs_by_tier(scenario: Scenario, days_of_cover: float = 3) -> pd.DataFrame:
    """Needs per tier and item against the usable stock, before any round: a first look at shortages.

    The needs are those a round would use (:func:`allocator.demand.needs_for_round`:
    requests, estimates for sites that sent none). Stock is shared out in tier
    order (tier 1 first), own item only, ignoring transport, substitutes,
    earmarks and grades: ``projected_shortage`` is a lower bound of what the
    round can leave short, not its result (the Round page shows that).

    Returns
    -------
    DataFrame
        ``tier, item_id, sites, need, projected_served, projected_shortage``.

    Examples
    --------
    >>> from allocator import examples
    >>> t = needs_by_tier(examples.three_tiers(supply=1000))
    >>> t.groupby("tier").projected_shortage.sum().tolist()
    [0, 300, 300]
    """
    from allocator.demand import needs_for_round
    from allocator.validate import usable_lots

    cols = ["tier", "item_id", "sites", "need", "projected_served", "projected_shortage"]
    nd = needs_for_round(scenario, days_of_cover=days_of_cover)
    if not len(nd):
        return pd.DataFrame(columns=cols)
    tiers = scenario.sites.set_index("site_id").tier.astype(int)
    nd = nd.assign(tier=nd.site_id.map(tiers).astype(int))
    g = (nd.groupby(["tier", "item_id"], sort=True)
         .agg(sites=("site_id", "nunique"), need=("quantity", "sum")).reset_index())
    supply = usable_lots(scenario).groupby("item_id").quantity.sum().to_dict()
    left = {k: int(v) for k, v in supply.items()}
    served = []
    for r in g.to_dict("records"):
        take = min(int(r["need"]), left.get(r["item_id"], 0))
        left[r["item_id"]] = left.get(r["item_id"], 0) - take
        served.append(take)
    g["projected_served"] = served
    g["projected_shortage"] = g.need - g.projected_served
    return g[cols].astype({"tier": "int64", "sites": "int64", "need": "int64", "projected_served": "int64",
                           "projected_shortage": "int64"})


def site_days(scenario: Scenario) -> pd.DataFrame:
    """Days of supply per site: the item that runs out first, from the norms and from the counts.

    At a site that reported counts (``site_stock``) only the counted items are
    compared (an item never counted there is unknown, not zero); at other
    sites every item with a daily use is, at the stock of 0 the scenario knows.

    Returns
    -------
    DataFrame
        ``site_id, tier, days_of_supply, item_id, days_of_supply_burn`` per
        site with a daily use, lowest first (``inf`` when nothing is used).
    """
    from allocator.demand import days_of_supply

    cols = ["site_id", "tier", "days_of_supply", "item_id", "days_of_supply_burn"]
    d = days_of_supply(scenario)
    d = d[d.daily_use > 0]
    if scenario.has("site_stock") and len(scenario.site_stock):
        ss = scenario.site_stock
        pairs = set(zip(ss.site_id.astype(str), ss.item_id.astype(str)))
        counted = {p[0] for p in pairs}
        keep = [(s not in counted) or ((s, i) in pairs) for s, i in zip(d.site_id.astype(str), d.item_id.astype(str))]
        d = d[keep]
    if not len(d):
        return pd.DataFrame(columns=cols)
    first = d.sort_values(["site_id", "days_of_supply"], kind="stable").drop_duplicates("site_id")
    burn = d.groupby("site_id").days_of_supply_burn.min()
    out = first[["site_id", "days_of_supply", "item_id"]].copy()
    out["days_of_supply_burn"] = out.site_id.map(burn)
    out["tier"] = out.site_id.map(scenario.sites.set_index("site_id").tier.astype(int))
    return out.sort_values(["days_of_supply", "tier", "site_id"], kind="stable")[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- alerts

#: Alert kinds, in the order the Overview page lists them. Render as ``app.alert.<kind>``.
ALERT_KINDS = ("unreachable", "expiring", "quarantined", "review", "low_days")
ALERT_COLUMNS = ["kind", "site_id", "depot_id", "lot_id", "item_id", "quantity", "days", "detail"]


def _alert(kind: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ALERT_COLUMNS, "")
    row.update(quantity=0, days=float("nan"))
    row.update(kind=kind, **kw)
    return row


def expiring_lots(scenario: Scenario, horizon_days: float = HORIZON_DAYS) -> pd.DataFrame:
    """Usable lots that expire within ``horizon_days`` of ``as_of`` (soonest first)."""
    from allocator.validate import usable_lots

    lots = usable_lots(scenario)
    end = scenario.at + pd.Timedelta(days=horizon_days)
    soon = lots[rules.lot_expired(lots.expires, end)].copy()  # expired by the end of the horizon
    soon["days"] = (soon.expires - scenario.at).dt.total_seconds() / 86400.0
    return soon.sort_values(["expires", "lot_id"], kind="stable").reset_index(drop=True)


def unreachable_sites(scenario: Scenario, travel: Any | None = None) -> list[str]:
    """Sites that no vehicle of any depot can reach under the traffic control in force."""
    from allocator.network import travel_times

    travel = travel_times(scenario) if travel is None else travel
    minutes = travel.minutes
    if not minutes.shape[0]:
        return [str(s) for s in scenario.sites.site_id]
    # any(axis=0) of a 2-D array is an array; asarray tells mypy so (the stub also allows np.bool)
    reach = np.asarray(rules.reachable(minutes.to_numpy(float)).any(axis=0)).tolist()
    return [str(s) for s, ok in zip(minutes.columns, reach) if not ok]


def alerts(scenario: Scenario, *, horizon_days: float = HORIZON_DAYS, days_of_cover: float = 3,
           travel: Any | None = None, days: pd.DataFrame | None = None) -> pd.DataFrame:
    """Everything an officer should look at before a round, one row per alert.

    Kinds (see :data:`ALERT_KINDS`): ``unreachable`` (a site no vehicle can
    reach), ``expiring`` (a usable lot expiring within the horizon),
    ``quarantined`` (a donated lot awaiting inspection), ``review`` (a site's
    request for an item category more than 2x or under 0.5x the estimate,
    :func:`allocator.demand.estimate`), ``low_days`` (a site with less than
    :data:`LOW_DAYS` of some item, among sites that reported stock counts in
    ``site_stock``). ``days`` is :func:`site_days` when already computed.

    Returns
    -------
    DataFrame
        :data:`ALERT_COLUMNS`; ``detail`` holds a category or date as text.

    Examples
    --------
    >>> from allocator import examples
    >>> set(alerts(examples.donated_city()).kind) <= set(ALERT_KINDS)
    True
    """
    from allocator.demand import estimate

    rows: list[dict[str, Any]] = []
    for sid in unreachable_sites(scenario, travel):
        rows.append(_alert("unreachable", site_id=sid))
    for x in expiring_lots(scenario, horizon_days).to_dict("records"):
        rows.append(_alert("expiring", depot_id=str(x["depot_id"]), lot_id=str(x["lot_id"]), item_id=str(x["item_id"]),
                           quantity=int(x["quantity"]), days=float(x["days"]),
                           detail=pd.Timestamp(x["expires"]).date().isoformat()))
    s = scenario.stock
    q = s[(s.status == "quarantined") & (s.quantity > 0)]
    for x in q.to_dict("records"):
        don = "" if pd.isna(x["donation_id"]) else str(x["donation_id"])
        rows.append(_alert("quarantined", depot_id=str(x["depot_id"]), lot_id=str(x["lot_id"]), item_id=str(x["item_id"]),
                           quantity=int(x["quantity"]), detail=don))
    e = estimate(scenario, days_of_cover=days_of_cover)
    far = e[e.review.fillna(False).astype(bool)]
    for (site, cat), part in far.groupby(["site_id", "category"], sort=False):
        est = part.estimate.fillna(0).sum()
        got = part.requested.fillna(0).sum()
        rows.append(_alert("review", site_id=str(site), quantity=int(got), days=float(est), detail=str(cat)))
    counted = set(scenario.site_stock.site_id.astype(str)) if scenario.has("site_stock") else set()
    for x in (site_days(scenario) if days is None else days).to_dict("records"):
        if x["days_of_supply"] < LOW_DAYS and str(x["site_id"]) in counted:
            rows.append(_alert("low_days", site_id=str(x["site_id"]), item_id=str(x["item_id"]),
                               days=float(x["days_of_supply"])))
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)


@dataclass(frozen=True)
class Overview:
    """Everything the Overview page shows (see the functions of the same names)."""

    stock: pd.DataFrame
    tiers: pd.DataFrame
    days: pd.DataFrame
    alerts: pd.DataFrame


def overview(scenario: Scenario, *, horizon_days: float = HORIZON_DAYS, days_of_cover: float = 3) -> Overview:
    """Stock by depot, needs and projected shortages by tier, days of supply and alerts, in one call.

    Examples
    --------
    >>> from allocator import examples
    >>> ov = overview(examples.three_tiers())
    >>> int(ov.stock.available.sum()), int(ov.tiers.need.sum())
    (1000, 1600)
    """
    days = site_days(scenario)
    return Overview(
        stock=stock_by_depot(scenario),
        tiers=needs_by_tier(scenario, days_of_cover=days_of_cover),
        days=days,
        alerts=alerts(scenario, horizon_days=horizon_days, days_of_cover=days_of_cover, days=days),
    )
