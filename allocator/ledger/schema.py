"""The schema of every ledger event: which fields, of which type, which are optional.

One table (:data:`EVENT_FIELDS`) is the single home of the rule; :func:`check_entry`
applies it to one published line and :func:`allocator.ledger.append` to every new
entry, so the chain only ever holds entries an outside verifier accepts. The
same table is printed in ``docs/ledger.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

#: Field types: ``str`` (NFC text), ``int`` (a JSON integer, never a fraction),
#: ``id`` (non-empty text), ``ts`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), ``list`` (of text).
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

_LOT = {"donation_id": "id", "lot_id": "id", "item_id": "id", "depot_id": "id"}
_SHIP = {**_LOT, "site_id": "id", "quantity": "qty", "round_id": "int"}

#: event -> (required fields, optional fields); every entry also has ``event`` and ``at`` (ts).
EVENT_FIELDS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "item_described": ({"item_id": "id", "name": "str", "name_zh": "str", "unit": "str", "grade": "str",
                        "category": "str"}, {}),
    "site_described": ({"site_id": "id", "name": "str", "name_zh": "str", "kind": "str", "district": "str"}, {}),
    "pledged": ({"donation_id": "id", "donor": "str", "date": "str", "earmark_site_id": "list",
                 "earmark_kind": "list"}, {"reference_code": "id"}),
    "donor_changed": ({"donation_id": "id", "donor": "str", "amended": "list", "reason": "str"}, {}),
    "received": ({**_LOT, "quantity": "qty"}, {}),
    "inspected": ({**_LOT, "result": "result"}, {"reason": "str", "to_item_id": "id", "quantity": "qty"}),
    "allocated": (dict(_SHIP), {}),
    "released": (dict(_SHIP), {"reason": "str"}),
    "dispatched": ({**_SHIP, "trip_id": "int"}, {}),
    "delivered": ({**_SHIP, "quantity": "count", "trip_id": "int"}, {"discrepancy": "str", "confirmed_by": "str",
                                                "confirmed_as": "confirmer", "corrects": "int",
                                                "reason": "str"}),
    "returned": (dict(_SHIP), {"reason": "str", "corrects": "int", "trip_id": "int"}),
    "written_off": ({**_LOT, "quantity": "qty", "origin": "origin", "reason": "str"},
                    {"site_id": "id", "round_id": "int", "corrects": "int", "trip_id": "int"}),
}
#: Events in the order of a donation's life (and the two reference events).
EVENTS = tuple(EVENT_FIELDS)
#: Inspection results.
RESULTS = ("passed", "quarantined", "rejected", "downgraded")
ORIGINS = ("stock", "delivery")
CONFIRMERS = ("site", "dispatch")
#: Keys of a published line that are not event fields.
LINE_KEYS = ("seq", "prev_hash", "hash")


def _text_ok(v: Any) -> bool:
    return isinstance(v, str) and unicodedata.is_normalized("NFC", v)


#: A schema problem: a catalogue key (``ledger.schema.*``) and its parameters.
Problem = tuple[str, dict[str, Any]]


def _type_problem(kind: str, v: Any) -> Problem | None:
    """What is wrong with value ``v`` for a field of type ``kind`` (None when it fits)."""
    got = repr(v)[:80]
    if kind in ("int", "qty", "count"):
        if isinstance(v, bool) or not isinstance(v, int):
            return ("ledger.schema.fraction" if isinstance(v, float) else "ledger.schema.not_whole"), {"got": got}
        if kind == "qty" and v <= 0:
            return "ledger.schema.not_positive", {"got": got}
        if kind == "count" and v < 0:
            return "ledger.schema.negative", {"got": got}
        if not -(2**63) <= v < 2**63:
            return "ledger.schema.out_of_range", {"got": got}
        return None
    if kind == "list":
        if not isinstance(v, list) or not all(_text_ok(x) and x for x in v):
            return "ledger.schema.not_list", {"got": got}
        return None
    if not isinstance(v, str):
        return "ledger.schema.not_text", {"got": got}
    if not unicodedata.is_normalized("NFC", v):
        return "ledger.schema.not_nfc", {"got": got}
    if kind == "id" and not v:
        return "ledger.schema.empty", {"got": got}
    allowed = {"result": RESULTS, "origin": ORIGINS, "confirmer": CONFIRMERS}.get(kind)
    if allowed and v not in allowed:
        return "ledger.schema.not_one_of", {"allowed": ", ".join(allowed), "got": got}
    if kind == "ts" and not TS.match(v):
        return "ledger.schema.bad_time", {"got": got}
    return None


def field_problem(fields: Mapping[str, Any]) -> Problem | None:
    """The first schema problem of an entry's fields (without seq/prev_hash/hash) as a code, or None."""
    event = fields.get("event")
    if not isinstance(event, str) or event not in EVENT_FIELDS:
        if event is None:
            return "ledger.schema.no_event", {}
        return "ledger.schema.unknown_event", {"event": repr(event)[:80]}
    required, optional = EVENT_FIELDS[event]
    spec = {"event": "str", "at": "ts", **required}
    if "corrects" in fields and "quantity" in spec:  # a corrected delivery: the change, either sign
        spec["quantity"] = "int"
    for name, kind in spec.items():
        if name not in fields:
            return "ledger.schema.missing_field", {"event": event, "field": name}
        p = _type_problem(kind, fields[name])
        if p:
            return p[0], {"field": name, **p[1]}
    for name, v in fields.items():
        if name in spec:
            continue
        if name not in optional:
            return "ledger.schema.unknown_field", {"event": event, "field": name}
        p = _type_problem(optional[name], v)
        if p:
            return p[0], {"field": name, **p[1]}
    if event == "inspected" and fields["result"] == "downgraded":
        if "to_item_id" not in fields or "quantity" not in fields:
            return "ledger.schema.downgrade_fields", {}
    return None


def check_fields(fields: Mapping[str, Any], lang: str = "en") -> str | None:
    """The first schema problem of an entry's fields, as text in ``lang``, or None.

    Examples
    --------
    >>> check_fields({"event": "teleported", "at": "2020-02-10T08:00:00.000000Z"})
    "unknown event 'teleported'"
    >>> check_fields({"event": "received", "at": "2020-02-10T08:00:00.000000Z", "donation_id": "D",
    ...               "lot_id": "L", "item_id": "n95", "depot_id": "EXPO", "quantity": 2.5})
    'quantity must be a whole number (got a fraction 2.5)'
    """
    from allocator.i18n import t

    p = field_problem(fields)
    return None if p is None else t(p[0], lang, **p[1])
