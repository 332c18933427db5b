"""The ledger in the database: appending to the chain, reading it, the stock records' own account, publishing.

The pure ledger (canonical form, hashing, the chain check, replaying the
chain into tables, totals, verification) is :mod:`allocator.ledger` and needs
no database; this module is its database half. Its public names are also
importable from :mod:`allocator.ledger` (``ledger.append``, ``ledger.publish``, ...).
"""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from allocator.fsutil import atomic_folder
from allocator.ledger import keys, merkle, tables
from allocator.ledger.chain import (
    GENESIS,
    LedgerError,
    canonical,
    check_chain,
    entry_hash,
    inspection,
    json_value,
    published_donor,
)
from allocator.ledger.files import (
    DATA_FILES,
    DEFAULT_ORG_NAME,
    DEFAULT_ORG_REF,
    FORMAT,
    HASH_RULE,
    ORG_NAME_ENV,
    ORG_REF_ENV,
    Publication,
    absolute_path,
    build_files,
    link_target,
    point,
    sha256_hex,
    versions_dir,
)
from allocator.ledger.schema import EVENTS, check_fields
from allocator.store import models as m
from allocator.store.db import checkpoint
from allocator.store.stock import reserved_by_lot
from allocator.store.time import iso, utcnow

__all__ = ["append", "describe_references", "entries", "head", "last_publication", "publish", "repair",
           "usage_tables"]


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest ledger entry; (0, 64 zeros) when empty."""
    h = session.get(m.LedgerHead, 1)
    return (0, GENESIS) if h is None else (int(h.seq), h.hash)


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
    if event not in EVENTS:
        raise LedgerError(f"unknown ledger event {event!r}")
    body = {"event": event, "at": iso(utcnow()),
            **{k: json_value(v) for k, v in fields.items() if v is not None}}
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


def entries(session: Session) -> list[dict[str, Any]]:
    """Every ledger entry as its published line (seq, prev_hash, hash and the fields)."""
    out = []
    for e in session.scalars(select(m.LedgerEntry).order_by(m.LedgerEntry.seq)):
        out.append({"seq": int(e.seq), "prev_hash": e.prev_hash, "hash": e.hash, **json.loads(e.body)})
    return out


def describe_references(session: Session, lines: list[dict[str, Any]]) -> int:
    """Append ``item_described`` / ``site_described`` for every item and site the chain names.

    An item or site gets a new description when the chain has none yet, or
    when its published fields (names, unit, grade, kind, district) changed
    since the last one. Publication calls this first, so every name a
    published file shows is in the chain. Returns the number of entries added.
    """
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
        key = (str(lot.donation_id), lot.item_id)
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
        alot = lot_by_id.get(a.lot_id)
        if alot is None:
            continue
        ukey = (str(alot.donation_id), a.item_id, a.site_id)
        row = urow(ukey)
        dl = deliveries.get(a.id)
        net = a.quantity - (dl.returned + dl.written_off if dl else 0)
        row["allocated"] += net
        dtot[(ukey[0], ukey[1])]["allocated"] += net
        if r.state in ("dispatched", "delivered"):
            row["dispatched"] += a.quantity
            first = iso(r.dispatched_at)
            if not dates[ukey][0] or first < dates[ukey][0]:
                dates[ukey][0] = first
        if dl is not None:
            row["delivered"] += dl.received
            row["returned"] += dl.returned
            row["written_off"] += dl.written_off
            dates[ukey][1] = max(dates[ukey][1], iso(dl.confirmed_at))
    for wo in session.scalars(select(m.WriteOff)):
        wlot = lot_by_id.get(wo.lot_id)
        if wlot is not None:
            dtot[(str(wlot.donation_id), wlot.item_id)]["written_off"] += wo.quantity
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


def repair(session: Session, out_dir: str | Path) -> list[str]:
    """Bring ``out_dir`` in line with the ``publications`` table after a kill.

    Removes versioned folders no publication row names (written before a kill
    that rolled their row back) and points the link at the newest recorded
    version when a kill came between the commit and the swap. Returns what it did.
    """
    out = absolute_path(out_dir)
    vdir = versions_dir(out)
    rows = list(session.scalars(select(m.Publication).where(m.Publication.out_dir == str(out))
                                .order_by(m.Publication.id)))
    known = {r.version for r in rows if r.version}
    done = []
    current = link_target(out)
    if vdir.is_dir():
        for child in sorted(vdir.iterdir()):
            if child.name in known or child.name == current or child.name.startswith("legacy-"):
                continue
            shutil.rmtree(child, ignore_errors=True)
            done.append(f"removed {child.name} (no publication recorded)")
    if rows and rows[-1].version and (vdir / rows[-1].version).is_dir() and current != rows[-1].version:
        point(out, vdir / rows[-1].version)
        done.append(f"pointed {out.name} at {rows[-1].version}")
    return done


def last_publication(session: Session) -> Any:
    """The newest row of the ``publications`` table, or None."""
    return session.scalars(select(m.Publication).order_by(m.Publication.id.desc()).limit(1)).first()


def _check_extends(lines: Sequence[Mapping[str, Any]], last: Any) -> None:
    if last is None or not last.head_seq:
        return
    n = int(last.head_seq)
    if len(lines) < n:
        where = f"the chain ends at entry {len(lines)}"
    elif lines[n - 1]["hash"] != last.head_hash:
        where = f"entry {n} (or an earlier one) differs"
    else:
        return
    raise LedgerError(
        f"refusing to publish: the chain does not extend the head published at {last.at:%Y-%m-%d %H:%M:%S} "
        f"(entry {n}, hash {last.head_hash[:16]}...): {where}; the ledger was rewritten")


def _cross_check(session: Session, st: tables.State) -> list[str]:
    """Where the database's stock records and the chain disagree (lot by lot)."""
    reserved = reserved_by_lot(session)
    out = []
    for lot in session.scalars(select(m.Lot).where(m.Lot.donation_id.is_not(None), m.Lot.retired.is_(False))):
        ls = st.lots.get(lot.lot_id)
        if ls is None:
            out.append(f"lot {lot.lot_id} of donation {lot.donation_id} has no ledger entries")
            continue
        free = lot.quantity - reserved.get(lot.lot_id, 0)
        if (ls.stock, ls.item_id, ls.status) != (free, lot.item_id, lot.status):
            out.append(f"lot {lot.lot_id}: the database holds {free} {lot.item_id} ({lot.status}) in stock, "
                       f"the ledger {ls.stock} {ls.item_id} ({ls.status})")
    return out


def publish(session: Session, out_dir: str | Path, *, by: str = "", key_path: str | Path | None = None) -> Publication:
    """Write the signed public snapshot and record it (caller commits; the link flips after the commit).

    Files: ``ledger.jsonl`` (the chain), ``donations.csv``, ``donation_usage.csv``,
    ``iati-activities.xml`` (all computed from the chain), ``manifest.json``
    (head, previous publication's head, Merkle root, counts, SHA-256 of every
    file) and ``signature.json`` (Ed25519 signature of manifest.json and the
    public key). See ``docs/ledger.md``.

    Raises
    ------
    LedgerError
        The stored chain is broken, does not extend the last published head,
        holds an entry the schema refuses, or disagrees with the stock records.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction, import_scenario
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with transaction(memory_store()) as s:
    ...     _ = import_scenario(s, examples.grades_and_earmarks())
    ...     pub = publish(s, d + "/pub", key_path=d + "/key.pem")
    >>> from allocator.ledger import verify
    >>> verify(pub.out_dir).ok
    True
    """
    out = absolute_path(out_dir)
    key = keys.load_or_create_key(Path(key_path) if key_path else None)
    kp = (Path(key_path) if key_path else keys.key_path()).resolve()
    if kp.is_relative_to(versions_dir(out).resolve()) or (out.exists() and kp.is_relative_to(out.resolve())):
        raise LedgerError(f"the signing key {kp} must not be inside the published folder")
    session.execute(select(m.LedgerHead).where(m.LedgerHead.id == 1).with_for_update()).scalar_one()
    repair(session, out)
    lines = entries(session)
    seq, digest = head(session)
    if lines and (lines[-1]["seq"], lines[-1]["hash"]) != (seq, digest):
        raise LedgerError("the ledger head does not match its last entry: the database was altered")
    bad = check_chain(lines)
    if bad is not None:
        raise LedgerError(f"the stored ledger is broken at entry {bad}: refusing to publish")
    last = last_publication(session)
    _check_extends(lines, last)
    if describe_references(session, lines):
        lines = entries(session)
        seq, digest = head(session)
    for ln in lines:
        problem = check_fields({k: v for k, v in ln.items() if k not in ("seq", "prev_hash", "hash")})
        if problem:
            raise LedgerError(f"entry {ln['seq']}: {problem}: refusing to publish")
    now = utcnow()
    published_at = iso(now)
    org_ref = os.environ.get(ORG_REF_ENV, "").strip() or DEFAULT_ORG_REF
    org_name = os.environ.get(ORG_NAME_ENV, "").strip() or DEFAULT_ORG_NAME
    files, counts, st = build_files(lines, published_at=published_at, org_ref=org_ref, org_name=org_name)
    problems = _cross_check(session, st)
    if problems:
        raise LedgerError(f"the ledger and the stock records disagree ({len(problems)}): " + "; ".join(problems[:5]))
    prev = {"seq": 0, "hash": GENESIS} if last is None else {"seq": int(last.head_seq), "hash": last.head_hash}
    pub_key = keys.public_hex(key)
    manifest = {
        "format": FORMAT,
        "published_at": published_at,
        "head_seq": seq,
        "head_hash": digest,
        "merkle_root": merkle.merkle_root([ln["hash"] for ln in lines]),
        "previous": prev,
        "counts": counts,
        "files": {name: sha256_hex(files[name]) for name in DATA_FILES},
        "iati_org_ref": org_ref,
        "iati_org_name": org_name,
        "public_key": pub_key,
        "hash_rule": HASH_RULE,
    }
    mbytes = canonical(manifest) + b"\n"
    files["manifest.json"] = mbytes
    files["signature.json"] = canonical({"algorithm": keys.ALGORITHM, "public_key": pub_key,
                                         "signed_file": "manifest.json",
                                         "signature": keys.sign(key, mbytes)}) + b"\n"
    version = f"{seq:08d}-{now:%Y%m%dT%H%M%S%f}"
    vdir = versions_dir(out) / version
    with atomic_folder(vdir) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        os.chmod(tmp, 0o755)  # readable by the web server that serves it
    session.add(m.Publication(at=now, out_dir=str(out), head_seq=seq, head_hash=digest, by=by, version=version,
                              prev_seq=prev["seq"], prev_hash=prev["hash"], manifest_sha256=sha256_hex(mbytes),
                              public_key=pub_key))
    session.flush()
    _swap_after_commit(session, out, vdir)
    checkpoint("publish")
    return Publication(out_dir=out, version_dir=vdir, head_seq=seq, head_hash=digest, manifest=manifest)


def _swap_after_commit(session: Session, out: Path, vdir: Path) -> None:

    state = {"done": False}

    def on_commit(_s: Session) -> None:
        if not state["done"]:
            state["done"] = True
            checkpoint("publish:committed")
            point(out, vdir)

    def on_rollback(_s: Session) -> None:
        if not state["done"]:
            state["done"] = True
            shutil.rmtree(vdir, ignore_errors=True)

    event.listen(session, "after_commit", on_commit)
    event.listen(session, "after_rollback", on_rollback)
