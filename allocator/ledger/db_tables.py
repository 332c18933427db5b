"""The donation tables computed from the database's stock records, independently of the ledger.

:func:`usage_tables` is the database's own account (lots, allocations,
deliveries, write-offs); publication compares it with what the chain implies
and refuses to publish when they disagree.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.ledger.chain import inspection, published_donor

DB_DONATION_COLUMNS = [
    "donation_id", "provider_org", "item_id", "item_name", "transaction_date", "inspection",
    "received", "allocated", "in_stock", "written_off", "earmark_site_id", "earmark_kind",
]
DB_USAGE_COLUMNS = [
    "donation_id", "provider_org", "item_id", "receiver_org_ref", "receiver_org",
    "allocated", "dispatched", "delivered", "returned", "written_off", "in_stock",
    "first_dispatched", "last_delivered",
]
_TOTALS_D = ("received", "allocated", "in_stock", "written_off")
_TOTALS_U = ("allocated", "dispatched", "delivered", "returned", "written_off", "in_stock")


def usage_tables(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``donations`` and ``donation_usage`` tables computed from the database's stock records.

    Independent of the ledger: received from the lots, allocations from the
    rounds, returns and write-offs from deliveries and write-off records. A
    published snapshot is consistent when these equal what the ledger implies.
    """
    from allocator.store import models as m
    from allocator.store.scenario_io import reserved_by_lot
    from allocator.store.time import iso

    donations = {d.donation_id: d for d in session.scalars(select(m.Donation))}
    items = {i.item_id: i for i in session.scalars(select(m.Item))}
    sites = {s.site_id: s for s in session.scalars(select(m.Site))}
    lots = [lot for lot in session.scalars(select(m.Lot).order_by(m.Lot.position, m.Lot.lot_id))
            if lot.donation_id]
    lot_by_id = {lot.lot_id: lot for lot in lots}
    reserved = reserved_by_lot(session)
    dtot: dict[tuple[str, str], dict[str, Any]] = {}
    inspections: dict[tuple[str, str], set[str]] = defaultdict(set)
    for lot in lots:
        key = (lot.donation_id, lot.item_id)
        t = dtot.setdefault(key, dict.fromkeys(_TOTALS_D, 0))
        t["received"] += lot.received_quantity
        t["in_stock"] += lot.quantity - reserved.get(lot.lot_id, 0)
        inspections[key].add(inspection(lot.status))
    utot: dict[tuple[str, str, str], dict[str, Any]] = {}
    dates: dict[tuple[str, str, str], list[str]] = defaultdict(lambda: ["", ""])

    def urow(key: tuple[str, str, str]) -> dict[str, Any]:
        return utot.setdefault(key, dict.fromkeys(_TOTALS_U, 0))

    q = (select(m.Allocation, m.Round)
         .join(m.Round, m.Round.id == m.Allocation.round_id)
         .where(m.Round.state.in_(("approved", "dispatched", "delivered"))))
    deliveries = {dl.allocation_id: dl for dl in session.scalars(select(m.Delivery))}
    for a, r in session.execute(q):
        lot = lot_by_id.get(a.lot_id)
        if lot is None:
            continue
        key = (lot.donation_id, a.item_id, a.site_id)
        row = urow(key)
        dl = deliveries.get(a.id)
        net = a.quantity - (dl.returned + dl.written_off if dl else 0)
        row["allocated"] += net
        dtot[key[:2]]["allocated"] += net
        if r.state in ("dispatched", "delivered"):
            row["dispatched"] += a.quantity
            first = iso(r.dispatched_at)
            if not dates[key][0] or first < dates[key][0]:
                dates[key][0] = first
        if dl is not None:
            row["delivered"] += dl.received
            row["returned"] += dl.returned
            row["written_off"] += dl.written_off
            dates[key][1] = max(dates[key][1], iso(dl.confirmed_at))
    for wo in session.scalars(select(m.WriteOff)):
        lot = lot_by_id.get(wo.lot_id)
        if lot is not None:
            dtot[(lot.donation_id, lot.item_id)]["written_off"] += wo.quantity
    for key, t in dtot.items():
        row = urow((*key, ""))
        row["in_stock"] = t["in_stock"]
        row["written_off"] = t["written_off"] - sum(
            v["written_off"] for k, v in utot.items() if k[:2] == key and k[2] != "")

    drows = []
    for (did, item), t in sorted(dtot.items()):
        dn = donations[did]
        drows.append({
            "donation_id": did, "provider_org": published_donor(dn), "item_id": item,
            "item_name": items[item].name if item in items else "",
            "transaction_date": "" if dn.received is None else pd.Timestamp(dn.received).date().isoformat(),
            "inspection": ";".join(sorted(inspections[(did, item)])),
            **{k: int(t[k]) for k in _TOTALS_D},
            "earmark_site_id": ";".join(dn.earmark_site_id or []),
            "earmark_kind": ";".join(dn.earmark_kind or []),
        })
    urows = []
    for (did, item, site), t in sorted(utot.items()):
        urows.append({
            "donation_id": did, "provider_org": published_donor(donations[did]), "item_id": item,
            "receiver_org_ref": site, "receiver_org": sites[site].name if site in sites else "",
            **{k: int(t[k]) for k in _TOTALS_U},
            "first_dispatched": dates[(did, item, site)][0], "last_delivered": dates[(did, item, site)][1],
        })
    return (pd.DataFrame(drows, columns=DB_DONATION_COLUMNS), pd.DataFrame(urows, columns=DB_USAGE_COLUMNS))


