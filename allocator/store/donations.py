"""Donations as the command centre receives them: registration, inspection, receipts.

- :func:`register_donation` records a donation and its lots (donor, consent to
  be named, earmarks), appends ``pledged`` and one ``received`` per lot to the
  ledger, and returns a :class:`Receipt`: the donation's public reference code
  (given to every donor, anonymous or not), the seq and hash of its ``pledged``
  entry and the ledger head that contains it;
- :func:`inspect_lot` records an inspection (pass, downgrade to civil grade,
  reject, with a reason) and appends ``inspected``;
- :func:`receipt` gives the receipt of a stored donation again, and
  :func:`check_receipt` lets anyone holding a receipt check that their entry is
  still in the ledger unchanged: by code and hash, and by a Merkle inclusion
  proof against a (signed) publication's ``merkle_root``.

Every function works in the caller's transaction; the donation, its lots and
their ledger entries commit together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocator import ledger
from allocator.errors import InvalidRequestError, NotFoundError, StoreError
from allocator.store import models as m
from allocator.store.stock import reserved_by_lot
from allocator.store.time import utcnow
from allocator.store.users import require_role

#: Who may register donations and record inspections.
CAN_REGISTER = ("officer", "admin")
#: Inspection results an officer may record, and the lot status each leaves.
RESULTS = {"passed": "available", "downgraded": "available", "rejected": "rejected", "quarantined": "quarantined"}
RECEIPT_FORMAT = "supply-allocator/receipt/1"


@dataclass(frozen=True)
class LotSpec:
    """One lot of a donation as it arrives.

    Attributes
    ----------
    item_id, depot_id : str
        A known item and the depot that holds the lot.
    quantity : int
        Whole units, > 0.
    lot_id : str, optional
        Default ``<donation_id>-<n>``.
    expires : date, optional
    """

    item_id: str
    depot_id: str
    quantity: int
    lot_id: str | None = None
    expires: date | datetime | str | None = None


@dataclass(frozen=True)
class Receipt:
    """What a donor keeps: the reference code, their ``pledged`` entry and the head that contains it."""

    reference_code: str
    donation_id: str
    seq: int
    entry_hash: str
    head_seq: int
    head_hash: str
    lots: tuple[str, ...] = field(default_factory=tuple)
    format: str = RECEIPT_FORMAT

    def to_json(self) -> str:
        """The receipt as canonical JSON text (what a donor saves or prints)."""
        d = asdict(self)
        d["lots"] = list(self.lots)
        return ledger.canonical(d).decode("utf-8")

    @classmethod
    def from_json(cls, text: str) -> Receipt:
        """Read a receipt saved with :meth:`to_json`; :class:`StoreError` when it is not one."""
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.get("format") != RECEIPT_FORMAT:
                raise ValueError("not a supply-allocator receipt")
            return cls(reference_code=str(d["reference_code"]), donation_id=str(d["donation_id"]),
                       seq=int(d["seq"]), entry_hash=str(d["entry_hash"]), head_seq=int(d["head_seq"]),
                       head_hash=str(d["head_hash"]), lots=tuple(map(str, d.get("lots", ()))))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequestError(f"not a donation receipt: {exc}") from exc


@dataclass(frozen=True)
class ReceiptCheck:
    """Result of :func:`check_receipt`: ``ok``, a message code with parameters, and the English text."""

    ok: bool
    code: str
    params: dict[str, Any]
    message: str

    def __str__(self) -> str:
        return self.message


def new_reference_code(session: Session) -> str:
    """A fresh, unused reference code such as ``SA-7K4M-9QXD-2FHB``."""
    for _ in range(20):
        code = ledger.random_reference_code()
        if session.scalar(select(m.Donation.donation_id).where(m.Donation.reference_code == code)) is None:
            return code
    raise StoreError("could not draw an unused reference code")  # pragma: no cover


def _date(v: Any, what: str) -> datetime | None:
    if v is None or v == "":
        return None
    try:
        ts = pd.Timestamp(v)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(f"{what}: not an ISO 8601 date (got {v!r})") from exc
    if pd.isna(ts):
        raise InvalidRequestError(f"{what}: not an ISO 8601 date (got {v!r})")
    return ts.to_pydatetime().replace(tzinfo=None)


def _problems(session: Session, donor: str, lots: Sequence[LotSpec], earmark_site_id: Sequence[str],
              earmark_kind: Sequence[str], donation_id: str | None) -> list[str]:
    from allocator.schema import tables

    out = []
    if not str(donor).strip():
        out.append("donor: a name is required (it is published as 'anonymous' when the donor does not consent)")
    if donation_id is not None and session.get(m.Donation, donation_id) is not None:
        out.append(f"donation_id: {donation_id} already exists")
    if not lots:
        out.append("lots: a donation needs at least one lot")
    seen = set()
    for i, lot in enumerate(lots, start=1):
        it = session.get(m.Item, str(lot.item_id))
        if it is None or it.retired:
            out.append(f"lot {i}: item_id: no such item (got {lot.item_id!r})")
        dp = session.get(m.Depot, str(lot.depot_id))
        if dp is None or dp.retired:
            out.append(f"lot {i}: depot_id: no such depot (got {lot.depot_id!r})")
        q = lot.quantity
        if isinstance(q, bool) or not isinstance(q, int) or q <= 0:
            out.append(f"lot {i}: quantity: must be a whole number > 0 (got {q!r})")
        if lot.lot_id is not None:
            if lot.lot_id in seen or session.get(m.Lot, lot.lot_id) is not None:
                out.append(f"lot {i}: lot_id: {lot.lot_id} already exists")
            seen.add(lot.lot_id)
        try:
            _date(lot.expires, f"lot {i}: expires")
        except StoreError as exc:
            out.append(str(exc))
    for s in earmark_site_id:
        st = session.get(m.Site, str(s))
        if st is None or st.retired:
            out.append(f"earmark_site_id: no such site (got {s!r})")
    kinds = tables()["sites"].column("kind").choices
    for k in earmark_kind:
        if k not in kinds:
            out.append(f"earmark_kind: must be one of {', '.join(kinds)} (got {k!r})")
    return out


def register_donation(
    session: Session,
    *,
    donor: str,
    lots: Sequence[LotSpec],
    user: str,
    publish_name: bool = True,
    earmark_site_id: Sequence[str] = (),
    earmark_kind: Sequence[str] = (),
    received: date | datetime | str | None = None,
    note: str = "",
    donation_id: str | None = None,
) -> Receipt:
    """Register a donation and its lots, append them to the ledger, and return the donor's receipt.

    Parameters
    ----------
    donor : str
        The donor's name (kept in the database; published only with consent).
    lots : sequence of LotSpec
        What arrived: item, depot, whole units. Lots start ``quarantined``
        until :func:`inspect_lot` passes them.
    user : str
        The officer registering it (officer or admin role).
    publish_name : bool
        The donor's consent to be named; otherwise the ledger says "anonymous".
    earmark_site_id, earmark_kind : sequence of str
        The donor's earmarks: only these sites / kinds of site may receive it.
    received : date, optional
        Date received (default today, UTC).
    donation_id : str, optional
        Default ``DON-`` and the reference code's characters.

    Returns
    -------
    Receipt

    Raises
    ------
    StoreError
        Every problem at once (unknown item, depot or site, bad quantity,
        duplicate ids), or a user without the role.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction, import_scenario, add_user
    >>> with transaction(memory_store()) as s:
    ...     _ = import_scenario(s, examples.two_hospitals())
    ...     _ = add_user(s, "wang", "pw", ["officer"])
    ...     r = register_donation(s, donor="A citizen", publish_name=False, user="wang",
    ...                           lots=[LotSpec("n95", "D1", 200)])
    ...     check_receipt(r, s).ok, r.reference_code.startswith("SA-")
    (True, True)
    """
    require_role(session, user, CAN_REGISTER, "register a donation")
    earmark_site_id = [str(s) for s in earmark_site_id]
    earmark_kind = [str(k) for k in earmark_kind]
    problems = _problems(session, donor, lots, earmark_site_id, earmark_kind, donation_id)
    if problems:
        raise InvalidRequestError(f"the donation cannot be registered: {len(problems)} problem(s): " + "; ".join(problems))
    code = new_reference_code(session)
    did = donation_id or f"DON-{code[3:].replace('-', '')}"
    when = _date(received, "received") or utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    pos = int(session.scalar(select(func.coalesce(func.max(m.Donation.position), -1))) or 0) + 1
    don = m.Donation(donation_id=did, position=pos, donor=str(donor).strip(), publish_name=bool(publish_name),
                     received=when, earmark_site_id=earmark_site_id, earmark_kind=earmark_kind, note=note,
                     extra={} if publish_name else {"publish_name": "false"}, retired=False,
                     reference_code=code)
    session.add(don)
    session.flush()
    pledge = ledger.append(session, "pledged", **ledger.pledge_fields(don))
    lot_pos = int(session.scalar(select(func.coalesce(func.max(m.Lot.position), -1))) or 0) + 1
    lot_ids = []
    for i, spec in enumerate(lots, start=1):
        lot = m.Lot(lot_id=spec.lot_id or f"{did}-{i}", position=lot_pos + i - 1, depot_id=str(spec.depot_id),
                    item_id=str(spec.item_id), quantity=int(spec.quantity), received_quantity=int(spec.quantity),
                    expires=_date(spec.expires, "expires"), status="quarantined", donation_id=did,
                    source="donation", extra={}, retired=False)
        session.add(lot)
        session.flush()
        ledger.append(session, "received", **ledger.lot_fields(session, lot), quantity=int(spec.quantity))
        lot_ids.append(lot.lot_id)
    seq, head_hash = ledger.head(session)
    return Receipt(reference_code=code, donation_id=did, seq=int(pledge.seq), entry_hash=pledge.hash,
                   head_seq=seq, head_hash=head_hash, lots=tuple(lot_ids))


def inspect_lot(session: Session, lot_id: str, result: str, *, user: str, reason: str = "",
                to_item_id: str | None = None) -> Any:
    """Record an inspection of a donated lot and append it to the ledger.

    Parameters
    ----------
    result : {"passed", "downgraded", "rejected", "quarantined"}
        ``passed`` makes the lot available; ``downgraded`` makes it available
        as a civil-grade item (``to_item_id``, default the one civil item of
        the same category; civil goods never go to clinical sites); ``rejected``
        keeps it out of every round; ``quarantined`` holds it for a new inspection.
    reason : str
        Required for ``downgraded`` and ``rejected``; published with the lot.

    Returns
    -------
    LedgerEntry
        The ``inspected`` entry.

    Raises
    ------
    StoreError
        Unknown lot, a lot that is not a donation's, a result not listed, a
        missing reason, no civil item to downgrade to, or a downgrade of a lot
        whose units are reserved by an approved round.
    """
    require_role(session, user, CAN_REGISTER, "record an inspection")
    lot = session.get(m.Lot, lot_id, with_for_update=True)
    if lot is None or lot.retired:
        raise NotFoundError(f"no lot {lot_id}")
    if not lot.donation_id:
        raise StoreError(f"lot {lot_id} is not a donation's: only donated lots are inspected on the ledger")
    if result not in RESULTS:
        raise StoreError(f"inspection result must be one of {', '.join(RESULTS)} (got {result!r})")
    if result in ("downgraded", "rejected") and not reason.strip():
        raise StoreError(f"lot {lot_id}: a {result} inspection needs a reason")
    extra: dict[str, Any] = {}
    fields = ledger.lot_fields(session, lot)
    if result == "downgraded":
        item = session.get(m.Item, lot.item_id)
        if item is None:
            raise StoreError(f"lot {lot_id}: its item {lot.item_id} is not in the database")
        if to_item_id is None:
            civil = [i.item_id for i in session.scalars(select(m.Item).where(
                m.Item.category == item.category, m.Item.grade == "civil", m.Item.retired.is_(False)))]
            if len(civil) != 1:
                raise StoreError(f"lot {lot_id}: name the civil-grade item to downgrade to (to_item_id): "
                                 f"{len(civil)} civil {item.category} item(s) exist")
            to_item_id = civil[0]
        target = session.get(m.Item, to_item_id)
        if target is None or target.retired or target.grade != "civil":
            raise StoreError(f"lot {lot_id}: to_item_id must be a civil-grade item (got {to_item_id!r})")
        if reserved_by_lot(session).get(lot.lot_id, 0):
            raise StoreError(f"lot {lot_id}: units are reserved by an approved round; dispatch or cancel it first")
        if lot.quantity <= 0:
            raise StoreError(f"lot {lot_id}: nothing in stock to downgrade")
        extra = {"to_item_id": target.item_id, "quantity": int(lot.quantity)}
        lot.item_id = target.item_id
    lot.status = RESULTS[result]
    session.flush()
    return ledger.append(session, "inspected", **fields, result=result, reason=reason.strip() or None, **extra)


def receipt(session: Session, key: str) -> Receipt:
    """The receipt of a stored donation, by donation id or reference code (its ``pledged`` entry)."""
    don = session.get(m.Donation, key) or session.scalar(select(m.Donation).where(m.Donation.reference_code == key))
    if don is None:
        raise StoreError(f"no donation {key!r}")
    e = session.scalar(select(m.LedgerEntry).where(m.LedgerEntry.event == "pledged",
                                                   m.LedgerEntry.donation_id == don.donation_id))
    if e is None:
        raise StoreError(f"donation {don.donation_id} has no pledged entry in the ledger")
    lots = [lot.lot_id for lot in session.scalars(select(m.Lot).where(m.Lot.donation_id == don.donation_id)
                                                  .order_by(m.Lot.position))]
    seq, h = ledger.head(session)
    return Receipt(reference_code=don.reference_code or "", donation_id=don.donation_id, seq=int(e.seq),
                   entry_hash=e.hash, head_seq=seq, head_hash=h, lots=tuple(lots))


def _result(ok: bool, key: str, **params: Any) -> ReceiptCheck:
    from allocator.i18n import t

    return ReceiptCheck(ok, key, params, t(key, "en", **params))


def check_receipt(rcpt: Receipt, source: Session | str | Path) -> ReceiptCheck:
    """Check that a receipt's entry is still in the ledger, unchanged.

    Parameters
    ----------
    source : Session or path
        A database session, or a published folder: then the publication is
        verified first (chain, signature, every file), and the entry is
        checked by seq, hash and reference code, and by a Merkle inclusion
        proof against the manifest's signed ``merkle_root``.

    Returns
    -------
    ReceiptCheck
        ``ok`` and a message code from ``ledger.toml`` (``ledger.receipt.*``).
    """
    from allocator.ledger import merkle

    if isinstance(source, Session):
        lines = ledger.entries(source)
        bad = ledger.check_chain(lines)
        if bad is not None:
            return _result(False, "ledger.receipt.broken_chain", seq=bad)
        root = None
    else:
        res = ledger.verify(source)
        if not res.ok:
            return _result(False, "ledger.receipt.publication_invalid", reason=res.message)
        lines = ledger.read_entries(Path(source))
        root = ledger.read_manifest(Path(source)).get("merkle_root")
    if len(lines) < rcpt.seq or rcpt.seq < 1:
        return _result(False, "ledger.receipt.missing", seq=rcpt.seq, code=rcpt.reference_code)
    e = lines[rcpt.seq - 1]
    if e.get("hash") != rcpt.entry_hash:
        return _result(False, "ledger.receipt.changed", seq=rcpt.seq, code=rcpt.reference_code)
    if e.get("event") != "pledged" or e.get("donation_id") != rcpt.donation_id or (
            rcpt.reference_code and e.get("reference_code") != rcpt.reference_code):
        return _result(False, "ledger.receipt.not_yours", seq=rcpt.seq, code=rcpt.reference_code)
    if len(lines) < rcpt.head_seq or lines[rcpt.head_seq - 1]["hash"] != rcpt.head_hash:
        return _result(False, "ledger.receipt.head_changed", seq=rcpt.head_seq, code=rcpt.reference_code)
    if root is not None:
        hashes = [ln["hash"] for ln in lines]
        proof = merkle.inclusion_proof(hashes, rcpt.seq - 1)
        if not merkle.verify_inclusion(rcpt.entry_hash, rcpt.seq - 1, len(hashes), proof, root):
            return _result(False, "ledger.receipt.changed", seq=rcpt.seq, code=rcpt.reference_code)
    return _result(True, "ledger.receipt.ok", seq=rcpt.seq, code=rcpt.reference_code, entries=len(lines))


def inclusion_proof(rcpt: Receipt, published: str | Path) -> dict[str, Any]:
    """A compact proof that the receipt's entry is in a publication: ``log2(n)`` hashes, not the ledger.

    Returns ``{"seq", "entry_hash", "size", "merkle_root", "proof"}``: anyone
    holding it and the publication's signed ``manifest.json`` checks it with
    :func:`check_inclusion_proof` (RFC 9162 inclusion proof; ``docs/ledger.md``).

    Raises
    ------
    StoreError
        The publication does not verify, or does not hold the entry.
    """
    from allocator.ledger import merkle

    res = ledger.verify(published)
    if not res.ok:
        raise StoreError(f"the publication does not verify: {res.message}")
    lines = ledger.read_entries(Path(published))
    if not 1 <= rcpt.seq <= len(lines) or lines[rcpt.seq - 1]["hash"] != rcpt.entry_hash:
        raise StoreError(f"receipt {rcpt.reference_code}: entry {rcpt.seq} is not in this publication unchanged")
    hashes = [ln["hash"] for ln in lines]
    return {"seq": rcpt.seq, "entry_hash": rcpt.entry_hash, "size": len(hashes),
            "merkle_root": ledger.read_manifest(Path(published))["merkle_root"],
            "proof": merkle.inclusion_proof(hashes, rcpt.seq - 1)}


def check_inclusion_proof(proof: dict[str, Any], rcpt: Receipt, merkle_root: str) -> bool:
    """Whether ``proof`` shows the receipt's entry under ``merkle_root`` (from a signed manifest)."""
    from allocator.ledger import merkle

    try:
        return (int(proof["seq"]) == rcpt.seq and proof["entry_hash"] == rcpt.entry_hash
                and proof["merkle_root"] == merkle_root
                and merkle.verify_inclusion(rcpt.entry_hash, rcpt.seq - 1, int(proof["size"]),
                                            list(proof["proof"]), merkle_root))
    except (KeyError, TypeError, ValueError):
        return False
