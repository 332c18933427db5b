"""Per-donation totals from the chain, in the database's terms (what the store's tests compare)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from allocator.ledger import tables


@dataclass
class Totals:
    """``donations[(donation, item)]`` and ``usage[(donation, item, site)]`` totals from the chain."""

    donations: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    usage: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)


def totals_from_ledger(lines: Iterable[Mapping[str, Any]]) -> Totals:
    """Received (every unit that entered a lot: ``received + adjusted``), allocated, in stock, written off.

    Per (donation, item): ``received = allocated + in_stock + written_off``;
    per (donation, item, site) the usage columns; site "" holds what is in stock.
    """
    st = tables.replay(list(lines))
    d = {}
    for r in tables.donation_rows(st):
        d[(r["donation_id"], r["item_id"])] = {"received": r["received"] + r["adjusted"],
                                               "allocated": r["allocated"], "in_stock": r["in_stock"],
                                               "written_off": r["written_off"]}
    u = {}
    for r in tables.usage_rows(st):
        u[(r["donation_id"], r["item_id"], r["receiver_org_ref"])] = {
            c: r[c] for c in ("allocated", "dispatched", "delivered", "returned", "written_off", "in_stock")}
    return Totals(donations=d, usage=u)
