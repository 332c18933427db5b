"""The public donation ledger: a hash chain of every event in each donation's life.

Every event (``pledged``, ``received``, ``inspected``, ``allocated``,
``released``, ``dispatched``, ``delivered``, ``returned``, ``written_off``) is
appended to the ``ledger`` table in the same transaction as the change it
records. Entry ``seq`` carries ``prev_hash`` (the hash of entry ``seq - 1``;
64 zeros for the first) and::

    hash = SHA-256(canonical JSON of {"seq": seq, "prev_hash": prev_hash, **fields})

where canonical JSON has sorted keys, no spaces and UTF-8 text. Editing or
deleting any entry breaks every later link, so anyone holding a published
``ledger.jsonl`` (or just its head hash) can detect it with :func:`verify`.

:func:`publish` writes the public snapshot (``donations.csv``,
``donation_usage.csv``, ``ledger.jsonl``, ``manifest.json``) from the database;
:func:`verify` recomputes the chain and every total from ``ledger.jsonl`` alone
and names the first entry or row that does not match. Donor names are published
as given, or as "anonymous" when the donor chose so (``donations.publish_name``):
the ledger only ever holds the published form. See ``docs/ledger.md`` for the
field mapping to the IATI activity standard.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.errors import StoreError
from allocator.fsutil import atomic_folder

GENESIS = "0" * 64
#: Events, in the order of a donation's life.
EVENTS = ("pledged", "received", "inspected", "allocated", "released", "dispatched",
          "delivered", "returned", "written_off")
#: Inspection results by lot status.
INSPECTION = {"available": "passed", "quarantined": "quarantined", "rejected": "rejected"}
FORMAT = "supply-allocator/ledger/1"
ANONYMOUS = "anonymous"

DONATION_COLUMNS = [
    "donation_id", "provider_org", "item_id", "item_name", "transaction_date", "inspection",
    "received", "allocated", "in_stock", "written_off", "earmark_site_id", "earmark_kind",
]
USAGE_COLUMNS = [
    "donation_id", "provider_org", "item_id", "receiver_org_ref", "receiver_org",
    "allocated", "dispatched", "delivered", "returned", "written_off", "in_stock",
    "first_dispatched", "last_delivered",
]
_TOTALS_D = ("received", "allocated", "in_stock", "written_off")
_TOTALS_U = ("allocated", "dispatched", "delivered", "returned", "written_off", "in_stock")


# --------------------------------------------------------------------------- the chain


def canonical(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8) of a ledger entry.

    Examples
    --------
    >>> canonical({"b": 1, "a": "é"})
    b'{"a":"\\xc3\\xa9","b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(seq: int, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of entry ``seq``: SHA-256 over canonical JSON of seq, prev_hash and the fields.

    Examples
    --------
    >>> h = entry_hash(1, GENESIS, {"event": "pledged", "donation_id": "D1"})
    >>> len(h), h == entry_hash(1, GENESIS, {"donation_id": "D1", "event": "pledged"})
    (64, True)
    """
    reserved = {"seq", "prev_hash", "hash"} & set(fields)
    if reserved:
        raise ValueError(f"ledger fields may not be named {sorted(reserved)}")
    return hashlib.sha256(canonical({"seq": seq, "prev_hash": prev_hash, **fields})).hexdigest()


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest ledger entry; (0, 64 zeros) when empty."""
    from allocator.store import models as m

    h = session.get(m.LedgerHead, 1)
    return (0, GENESIS) if h is None else (int(h.seq), h.hash)


def append(session: Session, event: str, **fields: Any) -> Any:
    """Append one event to the chain, in the caller's transaction.

    The head row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
    transactions are already exclusive) so concurrent appends form one chain.

    Parameters
    ----------
    event : str
        One of :data:`EVENTS`.
    **fields
        ``donation_id`` (required) and the event's own fields (lot_id, item_id,
        site_id, quantity, result, reason, ...); JSON values only.

    Returns
    -------
    LedgerEntry
    """
    from allocator.store import models as m
    from allocator.store.time import iso, utcnow

    if event not in EVENTS:
        raise StoreError(f"unknown ledger event {event!r}")
    if not fields.get("donation_id"):
        raise StoreError(f"ledger event {event!r} needs a donation_id")
    h = session.execute(select(m.LedgerHead).where(m.LedgerHead.id == 1).with_for_update()).scalar_one()
    body = {"event": event, "at": iso(utcnow()), **{k: v for k, v in fields.items() if v is not None}}
    seq = int(h.seq) + 1
    digest = entry_hash(seq, h.hash, body)
    entry = m.LedgerEntry(
        seq=seq, at=body["at"], event=event, donation_id=str(body["donation_id"]),
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


def pledge_fields(donation: Any) -> dict[str, Any]:
    """Ledger fields of a ``pledged`` event."""
    return {
        "donation_id": donation.donation_id,
        "donor": published_donor(donation),
        "date": "" if donation.received is None else pd.Timestamp(donation.received).isoformat(),
        "earmark_site_id": list(donation.earmark_site_id or []),
        "earmark_kind": list(donation.earmark_kind or []),
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


def check_chain(lines: Iterable[Mapping[str, Any]]) -> int | None:
    """The seq of the first entry whose link or hash is wrong, or None when the chain holds."""
    prev, expect = GENESIS, 1
    for line in lines:
        fields = {k: v for k, v in line.items() if k not in ("seq", "prev_hash", "hash")}
        if line.get("seq") != expect or line.get("prev_hash") != prev:
            return expect
        if entry_hash(expect, prev, fields) != line.get("hash"):
            return expect
        prev, expect = line["hash"], expect + 1
    return None


# --------------------------------------------------------------------------- totals


@dataclass
class Totals:
    """Per-donation totals recomputed from ledger events (what :func:`verify` checks)."""

    donations: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    usage: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)


def totals_from_ledger(lines: Iterable[Mapping[str, Any]]) -> Totals:
    """Recompute what each donation received, allocated, holds in stock and wrote off.

    Per (donation, item): ``received = allocated + in_stock + written_off``,
    where ``allocated`` counts units committed to sites (reserved by an
    approved round or sent) net of units returned or written off on delivery.
    Per (donation, item, site): allocated, dispatched, delivered, returned and
    written off on delivery; the site "" row holds what is still in stock.
    """
    d: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_TOTALS_D, 0))
    u: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_TOTALS_U, 0))
    for e in lines:
        ev, q = e["event"], int(e.get("quantity", 0) or 0)
        key = (e["donation_id"], e.get("item_id", ""))
        site = e.get("site_id", "")
        if ev in ("pledged", "inspected"):
            continue
        t = d[key]
        if ev == "received":
            t["received"] += q
            t["in_stock"] += q
        elif ev == "allocated":
            t["allocated"] += q
            t["in_stock"] -= q
            u[(*key, site)]["allocated"] += q
        elif ev in ("released", "returned"):
            t["allocated"] -= q
            t["in_stock"] += q
            u[(*key, site)]["allocated"] -= q
            if ev == "returned":
                u[(*key, site)]["returned"] += q
        elif ev == "dispatched":
            u[(*key, site)]["dispatched"] += q
        elif ev == "delivered":
            u[(*key, site)]["delivered"] += q
        elif ev == "written_off":
            t["written_off"] += q
            if e.get("origin") == "delivery":
                t["allocated"] -= q
                u[(*key, site)]["allocated"] -= q
                u[(*key, site)]["written_off"] += q
            else:
                t["in_stock"] -= q
    for key, t in d.items():
        u[(*key, "")]["in_stock"] = t["in_stock"]
        u[(*key, "")]["written_off"] = t["written_off"] - sum(
            v["written_off"] for k, v in u.items() if k[:2] == key and k[2] != "")
    return Totals(donations=dict(d), usage=dict(u))


# --------------------------------------------------------------------------- publication


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
    return (pd.DataFrame(drows, columns=DONATION_COLUMNS), pd.DataFrame(urows, columns=USAGE_COLUMNS))


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomically(out: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` into folder ``out`` all at once: a reader sees the old folder or the new one."""
    with atomic_folder(out) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return Path(out)


@dataclass(frozen=True)
class Publication:
    """What :func:`publish` wrote."""

    out_dir: Path
    head_seq: int
    head_hash: str
    manifest: dict[str, Any]


def publish(session: Session, out_dir: str | Path, *, by: str = "") -> Publication:
    """Write the public snapshot to ``out_dir`` atomically and record it (caller commits).

    Files: ``donations.csv`` (per donation and item: received, inspection,
    allocated, in stock, written off), ``donation_usage.csv`` (per donation,
    item and site, plus a site-less row for what remains in stock),
    ``ledger.jsonl`` (the chain, one entry a line) and ``manifest.json`` (head
    hash, time, counts, SHA-256 of each file).

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction, import_scenario
    >>> import tempfile
    >>> eng = memory_store()
    >>> with transaction(eng) as s:
    ...     _ = import_scenario(s, examples.grades_and_earmarks())
    ...     pub = publish(s, tempfile.mkdtemp() + "/pub")
    >>> verify(pub.out_dir).ok
    True
    """
    from allocator.store import models as m
    from allocator.store.db import checkpoint
    from allocator.store.time import iso, utcnow

    now = utcnow()
    lines = entries(session)
    seq, digest = head(session)
    if lines and (lines[-1]["seq"], lines[-1]["hash"]) != (seq, digest):
        raise StoreError("the ledger head does not match its last entry: the database was altered")
    bad = check_chain(lines)
    if bad is not None:
        raise StoreError(f"the stored ledger is broken at entry {bad}: refusing to publish")
    dons, usage = usage_tables(session)
    files = {
        "donations.csv": _csv(dons).encode("utf-8"),
        "donation_usage.csv": _csv(usage).encode("utf-8"),
        "ledger.jsonl": b"".join(canonical(line) + b"\n" for line in lines),
    }
    counts: dict[str, int] = {"ledger_entries": len(lines), "donations": int(dons.donation_id.nunique()),
                              "donation_rows": len(dons), "usage_rows": len(usage)}
    for ev in EVENTS:
        counts[f"events_{ev}"] = sum(1 for ln in lines if ln["event"] == ev)
    manifest = {
        "format": FORMAT,
        "published_at": iso(now),
        "head_seq": seq,
        "head_hash": digest,
        "counts": counts,
        "files": {name: _sha(data) for name, data in files.items()},
        "hash_rule": "sha256(canonical_json({seq, prev_hash, **fields})), sorted keys, no spaces, UTF-8",
    }
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    session.add(m.Publication(at=now, out_dir=str(Path(out_dir).resolve()), head_seq=seq,
                              head_hash=digest, by=by))
    session.flush()
    checkpoint("publish")
    out = write_atomically(Path(out_dir), files)
    return Publication(out_dir=out, head_seq=seq, head_hash=digest, manifest=manifest)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify`: ``ok``, and when not, the first failing entry and why."""

    ok: bool
    message: str
    seq: int | None = None
    entries: int = 0

    def __str__(self) -> str:
        return self.message


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def verify(out_dir: str | Path) -> Verification:
    """Recompute the chain and every published total from ``ledger.jsonl``.

    Checks, in order: every line parses and is in canonical form; seq runs 1, 2, ...; each
    ``prev_hash`` is the previous hash; each hash recomputes; the manifest's
    head is the last entry; every total of ``donations.csv`` and
    ``donation_usage.csv`` equals the ledger's; received = allocated + in stock
    + written off; the manifest's file digests match.

    Returns
    -------
    Verification
        ``seq`` names the first ledger entry that does not match (a deleted
        entry is named by its missing seq).

    Examples
    --------
    >>> verify("does-not-exist").ok
    False
    """
    d = Path(out_dir)
    need = ["manifest.json", "ledger.jsonl", "donations.csv", "donation_usage.csv"]
    missing = [n for n in need if not (d / n).is_file()]
    if missing:
        return Verification(False, f"{d}: missing {', '.join(missing)}")
    try:
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return Verification(False, f"manifest.json: not valid JSON ({exc})")
    lines: list[dict[str, Any]] = []
    prev, expect = GENESIS, 1
    with open(d / "ledger.jsonl", "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = json.loads(raw.decode("utf-8"))
                if not isinstance(line, dict):
                    raise ValueError("not an object")
            except (ValueError, UnicodeDecodeError):
                return Verification(False, f"ledger.jsonl line {lineno}: entry {expect} is not valid JSON",
                                    expect, len(lines))
            if raw.rstrip(b"\r\n") != canonical(line):
                return Verification(False, f"entry {expect}: line {lineno} is not in canonical form "
                                    "(sorted keys, no spaces): it was edited", expect, len(lines))
            if line.get("seq") != expect:
                return Verification(
                    False, f"entry {expect}: missing or out of order (line {lineno} has seq {line.get('seq')!r})",
                    expect, len(lines))
            fields = {k: v for k, v in line.items() if k not in ("seq", "prev_hash", "hash")}
            if line.get("prev_hash") != prev:
                return Verification(False, f"entry {expect}: prev_hash does not match the hash of entry {expect - 1}",
                                    expect, len(lines))
            try:
                digest = entry_hash(expect, prev, fields)
            except (TypeError, ValueError) as exc:
                return Verification(False, f"entry {expect}: cannot be hashed ({exc})", expect, len(lines))
            if digest != line.get("hash"):
                return Verification(False, f"entry {expect}: hash does not match its content", expect, len(lines))
            lines.append(line)
            prev, expect = digest, expect + 1
    n = len(lines)
    if manifest.get("head_seq") != n:
        seq = n + 1 if manifest.get("head_seq", 0) > n else n
        return Verification(False, f"entry {seq}: the manifest's head is entry {manifest.get('head_seq')} "
                            f"but the ledger ends at entry {n}", seq, n)
    if manifest.get("head_hash") != prev:
        return Verification(False, f"entry {n}: hash is not the manifest's head hash", n, n)
    first_seq = _first_seq(lines)
    tot = totals_from_ledger(lines)
    problem = _check_totals(d, tot, first_seq)
    if problem is not None:
        return Verification(False, problem[0], problem[1], n)
    for name, digest in (manifest.get("files") or {}).items():
        path = d / name
        if not path.is_file() or _sha(path.read_bytes()) != digest:
            return Verification(False, f"{name}: does not match the manifest's SHA-256", None, n)
    return Verification(True, f"OK: {n} ledger entries, head {prev[:16]}..., all totals match", None, n)


def _first_seq(lines: list[dict[str, Any]]) -> dict[tuple[str, ...], int]:
    """For naming a failing row: the first entry of each donation/item/site."""
    out: dict[tuple[str, ...], int] = {}
    for e in lines:
        key = (e["donation_id"], e.get("item_id", ""))
        out.setdefault(key, e["seq"])
        out.setdefault((*key, e.get("site_id", "")), e["seq"])
    return out


def _int(row: Mapping[str, str], col: str) -> int | None:
    try:
        return int(row.get(col, ""))
    except ValueError:
        return None


def _check_totals(d: Path, tot: Totals, first: dict[tuple[str, ...], int]) -> tuple[str, int | None] | None:
    drows = _read_csv(d / "donations.csv")
    seen = set()
    for i, row in enumerate(drows, start=2):
        key = (row.get("donation_id", ""), row.get("item_id", ""))
        seen.add(key)
        t = tot.donations.get(key)
        if t is None:
            return f"donations.csv:{i}: donation {key[0]} item {key[1]} has no ledger entries", None
        for col in _TOTALS_D:
            if _int(row, col) != t[col]:
                return (f"donations.csv:{i}: {col} of donation {key[0]} item {key[1]} is {row.get(col)!r}, "
                        f"the ledger gives {t[col]}", first.get(key))
        if t["received"] != t["allocated"] + t["in_stock"] + t["written_off"]:
            return (f"donations.csv:{i}: donation {key[0]} item {key[1]}: received != allocated + in stock "
                    "+ written off", first.get(key))
    for key in tot.donations:
        if key not in seen and any(tot.donations[key].values()):
            return f"donations.csv: donation {key[0]} item {key[1]} is in the ledger but not published", first.get(key)
    useen = set()
    for i, row in enumerate(_read_csv(d / "donation_usage.csv"), start=2):
        key = (row.get("donation_id", ""), row.get("item_id", ""), row.get("receiver_org_ref", ""))
        useen.add(key)
        t = tot.usage.get(key)
        if t is None:
            return f"donation_usage.csv:{i}: {key} has no ledger entries", None
        for col in _TOTALS_U:
            if _int(row, col) != t[col]:
                return (f"donation_usage.csv:{i}: {col} of donation {key[0]} item {key[1]} site {key[2] or '(stock)'} "
                        f"is {row.get(col)!r}, the ledger gives {t[col]}", first.get(key))
    for key, t in tot.usage.items():
        if key not in useen and any(t.values()):
            return f"donation_usage.csv: {key} is in the ledger but not published", first.get(key)
    return None
