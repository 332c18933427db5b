"""The hash chain: canonical JSON, entry hashes, the fields of each event, the chain check.

Pure: no database. Appending to the ``ledger`` table is :mod:`allocator.store.ledger`'s.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from allocator.errors import StoreError
from allocator.ledger.schema import LINE_KEYS

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


def json_value(v: Any) -> Any:
    """JSON value of a field: NFC text, plain ints, lists of text."""
    if isinstance(v, str):
        return unicodedata.normalize("NFC", v)
    if isinstance(v, list | tuple):
        return [json_value(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
        return v.item()
    return v


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


def lot_fields(session: Any, lot: Any) -> dict[str, Any]:
    """Ledger fields naming a donated lot."""
    return {"donation_id": lot.donation_id, "lot_id": lot.lot_id, "item_id": lot.item_id,
            "depot_id": lot.depot_id}


def inspection(status: str) -> str:
    """The inspection result recorded for a lot status."""
    return INSPECTION.get(status, status)


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
