"""The published tables, computed from the chain alone (what :func:`verify` recomputes).

:func:`replay` walks the entries once and keeps, per lot, where its units are;
:func:`donation_rows` and :func:`usage_rows` turn that into the rows of
``donations.csv`` and ``donation_usage.csv``; :func:`render_csv` writes them in
the publication's CSV dialect. Every cell comes from an entry, so a verifier
recomputes each published cell and compares it byte for byte.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from allocator.cells import escape_formula
from allocator.ledger.chain import LedgerError

DONATION_COLUMNS = [
    "donation_id", "reference_code", "provider_org", "item_id", "item_name", "item_name_zh", "unit", "grade",
    "transaction_date", "inspection", "received", "adjusted", "allocated", "in_stock", "available",
    "quarantined", "rejected", "rejection_reasons", "written_off", "write_off_reasons",
    "earmark_site_id", "earmark_kind",
]
USAGE_COLUMNS = [
    "donation_id", "reference_code", "provider_org", "item_id", "item_name", "item_name_zh", "unit",
    "receiver_org_ref", "receiver_org", "receiver_org_zh", "receiver_kind", "receiver_district",
    "allocated", "dispatched", "delivered", "delivered_site_confirmed", "delivered_dispatch_confirmed",
    "returned", "written_off", "in_stock", "available", "quarantined", "rejected",
    "first_dispatched", "last_delivered",
]
#: Integer columns (every other column is text).
INT_COLUMNS = frozenset({
    "received", "adjusted", "allocated", "in_stock", "available", "quarantined", "rejected", "written_off",
    "dispatched", "delivered", "delivered_site_confirmed", "delivered_dispatch_confirmed", "returned",
})
_STATUS = {"passed": "available", "downgraded": "available", "quarantined": "quarantined",
           "rejected": "rejected"}


class ReplayError(LedgerError):
    """An entry that contradicts the entries before it: names the entry, with a ``ledger.replay.*`` code."""

    def __init__(self, seq: int, key: str, **params: Any):
        from allocator.i18n import t

        self.seq, self.key, self.params = seq, f"ledger.replay.{key}", {"seq": seq, **params}
        super().__init__(t(self.key, "en", **self.params))


@dataclass
class Lot:
    donation_id: str
    item_id: str
    status: str = "quarantined"  # until inspected
    reason: str = ""
    stock: int = 0
    received: bool = False


@dataclass
class State:
    """Everything the published tables need, replayed from the chain."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    pledges: dict[str, dict[str, Any]] = field(default_factory=dict)
    lots: dict[str, Lot] = field(default_factory=dict)
    rows: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    reasons: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)
    inspections: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    usage: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    first_seq: dict[tuple[str, ...], int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def row(self, key: tuple[str, str]) -> dict[str, int]:
        if key not in self.rows:
            self.rows[key] = dict.fromkeys(("received", "adjusted", "allocated", "written_off"), 0)
            self.reasons[key] = {"rejected": set(), "written_off": set()}
            self.inspections[key] = set()
        return self.rows[key]

    def use(self, key: tuple[str, str, str]) -> dict[str, Any]:
        if key not in self.usage:
            self.usage[key] = {**dict.fromkeys(("allocated", "dispatched", "delivered", "delivered_site_confirmed",
                                                "delivered_dispatch_confirmed", "returned", "written_off"), 0),
                               "first_dispatched": "", "last_delivered": ""}
        return self.usage[key]


def replay(lines: Iterable[Mapping[str, Any]]) -> State:
    """Replay schema-checked entries into per-lot stock and per-row totals.

    Raises
    ------
    ReplayError
        An entry for a donation never pledged, a lot never received, an item
        that is not its lot's, or a quantity its lot does not hold.
    """
    st = State()
    for e in lines:
        seq, ev = int(e["seq"]), e["event"]
        st.counts[ev] = st.counts.get(ev, 0) + 1
        if ev == "item_described":
            st.items[e["item_id"]] = dict(e)
            continue
        if ev == "site_described":
            st.sites[e["site_id"]] = dict(e)
            continue
        did = e["donation_id"]
        if ev == "pledged":
            if did in st.pledges:
                raise ReplayError(seq, "pledged_twice", donation=did)
            st.pledges[did] = dict(e)
            continue
        if did not in st.pledges:
            raise ReplayError(seq, "never_pledged", donation=did)
        if ev == "donor_changed":  # a donor's later change of name or of consent to be named
            st.pledges[did] = {**st.pledges[did], "donor": e["donor"]}
            continue
        lot_id, item, q = e["lot_id"], e["item_id"], int(e.get("quantity", 0))
        lot = st.lots.get(lot_id)
        if ev == "received":
            if lot is None:
                lot = st.lots[lot_id] = Lot(did, item)
        if lot is None:
            raise ReplayError(seq, "never_received", lot=lot_id)
        if (lot.donation_id, lot.item_id) != (did, item):
            raise ReplayError(seq, "lot_mismatch", lot=lot_id, lot_item=lot.item_id, lot_donation=lot.donation_id,
                              item=item, donation=did)
        key = (did, item)
        site = e.get("site_id", "")
        t = st.row(key)
        st.first_seq.setdefault(key, seq)
        if ev in ("allocated", "released", "dispatched", "delivered", "returned") or (
                ev == "written_off" and e["origin"] == "delivery"):
            st.first_seq.setdefault((*key, site), seq)
        if ev == "received":
            t["adjusted" if lot.received else "received"] += q
            lot.received = True
            lot.stock += q
        elif ev == "inspected":
            result = e["result"]
            st.inspections[key].add(result)
            if result == "downgraded":
                if q != lot.stock:
                    raise ReplayError(seq, "beyond_stock", what="downgrade", q=q, lot=lot_id, stock=lot.stock)
                new = (did, e["to_item_id"])
                t["adjusted"] -= q
                st.row(new)["adjusted"] += q
                st.first_seq.setdefault(new, seq)
                lot.item_id = e["to_item_id"]
            lot.status = _STATUS[result]
            lot.reason = e.get("reason", "")
            if result == "rejected":
                st.reasons[key]["rejected"].add(lot.reason or "rejected")
        elif ev == "allocated":
            if q > lot.stock:
                raise ReplayError(seq, "beyond_stock", what="allocated", q=q, lot=lot_id, stock=lot.stock)
            lot.stock -= q
            t["allocated"] += q
            st.use((*key, site))["allocated"] += q
        elif ev in ("released", "returned"):
            lot.stock += q
            t["allocated"] -= q
            u = st.use((*key, site))
            u["allocated"] -= q
            if ev == "returned":
                u["returned"] += q
        elif ev == "dispatched":
            u = st.use((*key, site))
            u["dispatched"] += q
            if not u["first_dispatched"] or e["at"] < u["first_dispatched"]:
                u["first_dispatched"] = e["at"]
        elif ev == "delivered":
            u = st.use((*key, site))
            u["delivered"] += q
            who = "site" if e.get("confirmed_as") == "site" else "dispatch"
            u[f"delivered_{who}_confirmed"] += q
            u["last_delivered"] = max(u["last_delivered"], e["at"])
        elif ev == "written_off":
            t["written_off"] += q
            st.reasons[key]["written_off"].add(e["reason"])
            if e["origin"] == "delivery":
                t["allocated"] -= q
                u = st.use((*key, site))
                u["allocated"] -= q
                u["written_off"] += q
            else:
                if q > lot.stock:
                    raise ReplayError(seq, "beyond_stock", what="written_off", q=q, lot=lot_id, stock=lot.stock)
                lot.stock -= q
    return st


def _stock(st: State) -> dict[tuple[str, str], dict[str, int]]:
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("in_stock", "available", "quarantined", "rejected"), 0))
    for lot in st.lots.values():
        s = out[(lot.donation_id, lot.item_id)]
        s["in_stock"] += lot.stock
        s[lot.status] += lot.stock
    return out


def _item(st: State, item: str) -> dict[str, Any]:
    return st.items.get(item, {})


def _pledge_date(p: Mapping[str, Any]) -> str:
    return str(p.get("date") or p.get("at") or "")[:10]


def _nonzero(row: Mapping[str, Any]) -> bool:
    return any(row[c] for c in row if c in INT_COLUMNS)


def donation_rows(st: State) -> list[dict[str, Any]]:
    """Rows of ``donations.csv``: one per donation and item with any units, sorted by both."""
    stock = _stock(st)
    out = []
    for key in sorted(st.rows):
        did, item = key
        p, it, t = st.pledges[did], _item(st, item), st.rows[key]
        row = {
            "donation_id": did, "reference_code": p.get("reference_code", ""), "provider_org": p["donor"],
            "item_id": item, "item_name": it.get("name", ""), "item_name_zh": it.get("name_zh", ""),
            "unit": it.get("unit", ""), "grade": it.get("grade", ""), "transaction_date": _pledge_date(p),
            "inspection": ";".join(sorted(st.inspections[key])),
            "received": t["received"], "adjusted": t["adjusted"], "allocated": t["allocated"],
            **stock[key],
            "rejection_reasons": ";".join(sorted(st.reasons[key]["rejected"])) if stock[key]["rejected"] else "",
            "written_off": t["written_off"], "write_off_reasons": ";".join(sorted(st.reasons[key]["written_off"])),
            "earmark_site_id": ";".join(p["earmark_site_id"]), "earmark_kind": ";".join(p["earmark_kind"]),
        }
        if _nonzero(row):
            out.append(row)
    return out


def usage_rows(st: State) -> list[dict[str, Any]]:
    """Rows of ``donation_usage.csv``: per donation, item and site, plus a stock row (site "")."""
    stock = _stock(st)
    keys = set(st.usage) | {(*k, "") for k in st.rows}
    out = []
    for key in sorted(keys):
        did, item, site = key
        p, it = st.pledges[did], _item(st, item)
        u = st.usage.get(key) or st.use(key)
        sd = st.sites.get(site, {}) if site else {}
        row: dict[str, Any] = {
            "donation_id": did, "reference_code": p.get("reference_code", ""), "provider_org": p["donor"],
            "item_id": item, "item_name": it.get("name", ""), "item_name_zh": it.get("name_zh", ""),
            "unit": it.get("unit", ""), "receiver_org_ref": site, "receiver_org": sd.get("name", ""),
            "receiver_org_zh": sd.get("name_zh", ""), "receiver_kind": sd.get("kind", ""),
            "receiver_district": sd.get("district", ""),
            **{c: u[c] for c in ("allocated", "dispatched", "delivered", "delivered_site_confirmed",
                                 "delivered_dispatch_confirmed", "returned", "written_off")},
            "in_stock": 0, "available": 0, "quarantined": 0, "rejected": 0,
            "first_dispatched": u["first_dispatched"], "last_delivered": u["last_delivered"],
        }
        if not site:
            row.update(stock[(did, item)])
            t = st.rows.get((did, item))
            row["written_off"] = (t["written_off"] if t else 0) - sum(
                v["written_off"] for k, v in st.usage.items() if k[:2] == (did, item) and k[2])
        if _nonzero(row):
            out.append(row)
    return out


def cell(column: str, value: Any) -> str:
    """The published text of one cell: integers in decimal, text escaped against formulas."""
    if column in INT_COLUMNS:
        return str(int(value))
    return str(escape_formula(str(value)))


def render_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The publication's CSV dialect: UTF-8 without BOM, comma, ``"`` quoting only when needed, LF."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(columns)
    for r in rows:
        w.writerow([cell(c, r[c]) for c in columns])
    return buf.getvalue().encode("utf-8")


def counts(st: State, lines: Sequence[Mapping[str, Any]], drows: Sequence[Any], urows: Sequence[Any]) -> dict[str, int]:
    """The manifest's ``counts``: entries, donations, rows, entries per event."""
    from allocator.ledger.schema import EVENTS

    out = {"ledger_entries": len(lines), "donations": len(st.pledges), "donation_rows": len(drows),
           "usage_rows": len(urows)}
    for ev in EVENTS:
        out[f"events_{ev}"] = st.counts.get(ev, 0)
    return out
