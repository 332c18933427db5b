"""``iati-activities.xml``: the publication as IATI 2.03 activities, one per donation.

Computed from the same rows as the CSV files (hence from the chain), so a
verifier recomputes it byte for byte. IATI counts money; these are goods, so
each transaction's ``value`` is 0 in the activity's currency (not valued) and
the units are in an extension element ``sa:quantity`` (IATI allows elements of
another namespace at the end of a transaction). See ``docs/ledger.md``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

NS = "https://github.com/supply-allocator/ns/ledger/1"
VERSION = "2.03"
CURRENCY = "CNY"
#: IATI transaction types used: 1 Incoming Funds (in kind), 2 Outgoing Commitment, 3 Disbursement.
INCOMING, COMMITMENT, DISBURSEMENT = "1", "2", "3"

ET.register_namespace("sa", NS)


def _narr(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    ET.SubElement(el, "narrative").text = text
    return el


def _transaction(act: ET.Element, code: str, day: str, text: str, provider: str,
                 receiver: tuple[str, str] | None, item: str, unit: str, qty: int) -> None:
    tr = ET.SubElement(act, "transaction")
    ET.SubElement(tr, "transaction-type", {"code": code})
    ET.SubElement(tr, "transaction-date", {"iso-date": day})
    val = ET.SubElement(tr, "value", {"currency": CURRENCY, "value-date": day})
    val.text = "0"
    _narr(tr, "description", text)
    _narr(tr, "provider-org", provider)
    if receiver is not None:
        _narr(tr, "receiver-org", receiver[1] or receiver[0], ref=receiver[0])
    q = ET.SubElement(tr, f"{{{NS}}}quantity", {"item-id": item, "unit": unit})
    q.text = str(qty)


def activities_xml(drows: Sequence[Mapping[str, Any]], urows: Sequence[Mapping[str, Any]], *,
                   generated: str, org_ref: str, org_name: str) -> bytes:
    """The IATI activity file of a publication (UTF-8, LF, final newline)."""
    root = ET.Element("iati-activities", {"version": VERSION, "generated-datetime": generated[:19]})
    by_don: dict[str, list[Mapping[str, Any]]] = {}
    for r in drows:
        by_don.setdefault(r["donation_id"], []).append(r)
    use: dict[str, list[Mapping[str, Any]]] = {}
    for r in urows:
        if r["receiver_org_ref"]:
            use.setdefault(r["donation_id"], []).append(r)
    day0 = generated[:10]
    for did, rows in by_don.items():
        first = rows[0]
        donor, day = first["provider_org"], first["transaction_date"] or day0
        act = ET.SubElement(root, "iati-activity", {"last-updated-datetime": generated[:19],
                                                    "default-currency": CURRENCY, "humanitarian": "1"})
        ET.SubElement(act, "iati-identifier").text = f"{org_ref}-{did}"
        _narr(act, "reporting-org", org_name, ref=org_ref, type="10")
        _narr(act, "title", f"In-kind donation {first['reference_code'] or did}")
        _narr(act, "description", "; ".join(f"{r['received']} {r['unit']} {r['item_name']}" for r in rows), type="1")
        _narr(act, "participating-org", donor, role="1")
        _narr(act, "participating-org", org_name, role="4", ref=org_ref)
        ET.SubElement(act, "activity-status", {"code": "2"})
        ET.SubElement(act, "activity-date", {"type": "2", "iso-date": day})
        ET.SubElement(act, "recipient-country", {"code": "CN"})
        for r in rows:
            if r["received"]:
                _transaction(act, INCOMING, day, f"received {r['received']} {r['unit']} {r['item_name']}",
                             donor, (org_ref, org_name), r["item_id"], r["unit"], int(r["received"]))
        for u in use.get(did, []):
            site = (u["receiver_org_ref"], u["receiver_org"])
            when = (u["first_dispatched"] or generated)[:10]
            if u["allocated"]:
                _transaction(act, COMMITMENT, when, f"allocated {u['allocated']} {u['unit']} {u['item_name']}",
                             donor, site, u["item_id"], u["unit"], int(u["allocated"]))
            if u["dispatched"]:
                _transaction(act, DISBURSEMENT, when, f"dispatched {u['dispatched']} {u['unit']} {u['item_name']}",
                             donor, site, u["item_id"], u["unit"], int(u["dispatched"]))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")
