"""The hash chain: canonical JSON, entry hashes, appending to the ``ledger`` table."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.errors import StoreError
from allocator.ledger.schema import EVENTS, LINE_KEYS, check_fields

GENESIS = "0" * 64
#: Inspection results by lot status.
INSPECTION = {"available": "passed", "quarantined": "quarantined", "rejected": "rejected"}
ANONYMOUS = "anonymous"


class LedgerError(StoreError):
    """A ledger entry or a publication is malformed (a typed error, never a traceback)."""


def canonical(obj: Any) -> bytes:
    """Canonical JSON of a ledger entry or manifest (see ``docs/ledger.md``).

    Keys sorted by code point, separators ``,`` and ``:`` without spaces,
    non-ASCII text as raw UTF-8 (never ``\\u`` escapes, except the control
    characters U+0000-U+001F), integers in plain decimal. Floats are refused.

    Examples
    --------
    >>> canonical({"b": 1, "a": "é"})
    b'{"a":"\\xc3\\xa9","b":1}'
    """
    _no_floats(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _no_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise LedgerError(f"canonical JSON holds no fractions (got {obj!r})")
    if isinstance(obj, dict):
        for v in obj.values():
            _no_floats(v)
    elif isinstance(obj, list):
        for v in obj:
            _no_floats(v)


def entry_hash(seq: int, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of entry ``seq``: SHA-256 over canonical JSON of seq, prev_hash and the fields.

    Examples
    --------
    >>> h = entry_hash(1, GENESIS, {"event": "pledged", "donation_id": "D1"})
    >>> len(h), h == entry_hash(1, GENESIS, {"donation_id": "D1", "event": "pledged"})
    (64, True)
    """
    reserved = set(LINE_KEYS) & set(fields)
    if reserved:
        raise LedgerError(f"ledger fields may not be named {sorted(reserved)}")
    return hashlib.sha256(canonical({"seq": seq, "prev_hash": prev_hash, **fields})).hexdigest()


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest ledger entry; (0, 64 zeros) when empty."""
    from allocator.store import models as m

    h = session.get(m.LedgerHead, 1)
    return (0, GENESIS) if h is None else (int(h.seq), h.hash)


def _clean(v: Any) -> Any:
    """JSON value of a field: NFC text, plain ints, lists of text."""
    if isinstance(v, str):
        return unicodedata.normalize("NFC", v)
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
        return v.item()
    return v


def append(session: Session, event: str, **fields: Any) -> Any:
    """Append one event to the chain, in the caller's transaction.

    The head row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
    transactions are already exclusive) so concurrent appends form one chain.
    The entry is checked against :data:`allocator.ledger.schema.EVENT_FIELDS`
    first, so the chain only holds entries a verifier accepts.

    Parameters
    ----------
    event : str
        One of :data:`allocator.ledger.schema.EVENTS`.
    **fields
        The event's fields (``None`` values are left out).

    Returns
    -------
    LedgerEntry

    Raises
    ------
    LedgerError
        An unknown event, a missing or mistyped field.
    """
    from allocator.store import models as m
    from allocator.store.time import iso, utcnow

    if event not in EVENTS:
        raise LedgerError(f"unknown ledger event {event!r}")
    body = {"event": event, "at": iso(utcnow()),
            **{k: _clean(v) for k, v in fields.items() if v is not None}}
    problem = check_fields(body)
    if problem:
        raise LedgerError(f"ledger event {event!r}: {problem}")
    h = session.execute(select(m.LedgerHead).where(m.LedgerHead.id == 1).with_for_update()).scalar_one()
    seq = int(h.seq) + 1
    digest = entry_hash(seq, h.hash, body)
    entry = m.LedgerEntry(
        seq=seq, at=body["at"], event=event, donation_id=str(body.get("donation_id", "")),
        lot_id=str(body.get("lot_id", "")), item_id=str(body.get("item_id", "")),
        site_id=str(body.get("site_id", "")), quantity=int(body.get("quantity", 0)),
        body=canonical(body).decode("utf-8"), prev_hash=h.hash, hash=digest,
    )
    session.add(entry)
    h.seq, h.hash = seq, digest
    session.flush()
    return entry


def published_donor(donation: Any) -> str:
    """The donor's name as published: as given, or "anonymous" by the donor's choice."""
    return donation.donor if donation.publish_name else ANONYMOUS


#: Reference codes: ``SA-`` and 12 characters of Crockford's base 32 (60 random bits), in groups of four.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_reference_code() -> str:
    """A random reference code such as ``SA-7K4M-9QXD-2FHB`` (unique index in the database)."""
    import secrets

    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"SA-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def pledge_fields(donation: Any) -> dict[str, Any]:
    """Ledger fields of a ``pledged`` event.

    Gives the donation its public reference code first when it has none (a
    donation imported from a scenario gets one as registered ones do).
    """
    if hasattr(donation, "reference_code") and not donation.reference_code:
        donation.reference_code = random_reference_code()
    return {
        "donation_id": donation.donation_id,
        "donor": published_donor(donation),
        "date": "" if donation.received is None else pd.Timestamp(donation.received).isoformat(),
        "earmark_site_id": list(donation.earmark_site_id or []),
        "earmark_kind": list(donation.earmark_kind or []),
        "reference_code": getattr(donation, "reference_code", None) or None,
    }


def lot_fields(session: Session, lot: Any) -> dict[str, Any]:
    """Ledger fields naming a donated lot."""
    return {"donation_id": lot.donation_id, "lot_id": lot.lot_id, "item_id": lot.item_id,
            "depot_id": lot.depot_id}


def inspection(status: str) -> str:
    """The inspection result recorded for a lot status."""
    return INSPECTION.get(status, status)


def entries(session: Session) -> list[dict[str, Any]]:
    """Every ledger entry as its published line (seq, prev_hash, hash and the fields)."""
    from allocator.store import models as m

    out = []
    for e in session.scalars(select(m.LedgerEntry).order_by(m.LedgerEntry.seq)):
        out.append({"seq": int(e.seq), "prev_hash": e.prev_hash, "hash": e.hash, **json.loads(e.body)})
    return out


def fields_of(line: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's fields: the line without seq, prev_hash and hash."""
    return {k: v for k, v in line.items() if k not in LINE_KEYS}


def check_chain(lines: Iterable[Mapping[str, Any]]) -> int | None:
    """The seq of the first entry whose link or hash is wrong, or None when the chain holds."""
    prev, expect = GENESIS, 1
    for line in lines:
        if line.get("seq") != expect or line.get("prev_hash") != prev:
            return expect
        try:
            if entry_hash(expect, prev, fields_of(line)) != line.get("hash"):
                return expect
        except (LedgerError, TypeError, ValueError):
            return expect
        prev, expect = line["hash"], expect + 1
    return None


def describe_references(session: Session, lines: list[dict[str, Any]]) -> int:
    """Append ``item_described`` / ``site_described`` for every item and site the chain names.

    An item or site gets a new description when the chain has none yet, or
    when its published fields (names, unit, grade, kind, district) changed
    since the last one. Publication calls this first, so every name a
    published file shows is in the chain. Returns the number of entries added.
    """
    from allocator.store import models as m

    items: dict[str, dict[str, Any]] = {}
    sites: dict[str, dict[str, Any]] = {}
    want_items: set[str] = set()
    want_sites: set[str] = set()
    for ln in lines:
        ev = ln.get("event")
        if ev == "item_described":
            items[ln["item_id"]] = ln
        elif ev == "site_described":
            sites[ln["site_id"]] = ln
        else:
            for k in ("item_id", "to_item_id"):
                if ln.get(k):
                    want_items.add(ln[k])
            if ln.get("site_id"):
                want_sites.add(ln["site_id"])
            want_sites.update(ln.get("earmark_site_id") or [])
    n = 0
    for item_id in sorted(want_items):
        it = session.get(m.Item, item_id)
        if it is None:
            continue
        f = {"item_id": it.item_id, "name": it.name, "name_zh": it.name_zh or "", "unit": it.unit,
             "grade": it.grade, "category": it.category}
        last = items.get(item_id)
        if last is None or any(last.get(k) != unicodedata.normalize("NFC", str(v)) for k, v in f.items()):
            append(session, "item_described", **f)
            n += 1
    for site_id in sorted(want_sites):
        st = session.get(m.Site, site_id)
        if st is None:
            continue
        f = {"site_id": st.site_id, "name": st.name, "name_zh": st.name_zh or "", "kind": st.kind,
             "district": st.district or ""}
        last = sites.get(site_id)
        if last is None or any(last.get(k) != unicodedata.normalize("NFC", str(v)) for k, v in f.items()):
            append(session, "site_described", **f)
            n += 1
    return n
