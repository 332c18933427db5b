"""Import a scenario into the database and export the stored state as a scenario.

The round trip is lossless: ``export_scenario(import_scenario(load(p)))`` has
the same tables, columns (extras included), dtypes and values as ``load(p)``.
Export goes through the contract's text form and the same parser as
:func:`allocator.scenario.load`, so what comes out of the database is checked
exactly like a file would be.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from allocator import schema
from allocator.errors import ConflictError, InvalidRequestError, NotFoundError
from allocator.i18n import t
from allocator.scenario import RawScenario, Scenario, _fmt
from allocator.store import models as m
from allocator.store.db import checkpoint
from allocator.store.stock import reserved_by_lot
from allocator.store.time import utcnow

#: Tables with their own model, keyed by the contract's key column.
KEYED: dict[str, tuple[Any, str]] = {  # the model (each has extra, position, retired) and its key
    "items": (m.Item, "item_id"),
    "sites": (m.Site, "site_id"),
    "depots": (m.Depot, "depot_id"),
    "donations": (m.Donation, "donation_id"),
    "stock": (m.Lot, "lot_id"),
}
#: Tables with their own model and no key.
LISTED: dict[str, Any] = {"needs": m.Need, "substitutes": m.Substitute}
#: Tables stored generically, every cell as the contract's text.
GENERIC = ("road_nodes", "roads", "traffic_control", "vehicles", "site_stock")
#: Import order (references first).
ORDER = ("items", "sites", "depots", "donations", "stock", "needs", "substitutes", *GENERIC)

_FALSE = {"false", "no", "0", "n", "f"}


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed: rows per table, and ledger entries appended."""

    rows: dict[str, int]
    retired: dict[str, int]
    ledger_entries: int
    #: needs added, replaced (a new quantity), kept and withdrawn, as (site_id, item_id)
    needs: Any = None
    #: the first import into an empty database (the only import that receives donated goods)
    first: bool = True
    #: (lot_id, counted - book) of every lot a stock take adjusted
    adjustments: list[tuple[str, int]] = field(default_factory=list)


# --------------------------------------------------------------------------- values


def _py(value: Any, ctype: str) -> Any:
    """A typed cell as a plain Python value for the database (None for not given)."""
    if isinstance(value, tuple | list):
        return [str(v) for v in value]
    if value is None:
        return None
    try:
        if pd.isna(value):
            return [] if ctype in ("list", "enum_list") else None
    except (TypeError, ValueError):
        pass
    if ctype in ("date", "datetime"):
        return pd.Timestamp(value).to_pydatetime()
    if ctype == "bool":
        return bool(value)
    if ctype == "int":
        return int(value)
    if ctype == "float":
        return float(value)
    return str(value)


def _text(value: Any, ctype: str) -> str:
    if isinstance(value, datetime):
        value = pd.Timestamp(value)
    if isinstance(value, list):
        value = tuple(value)
    return _fmt(value, ctype)


def _ctypes(table: str) -> dict[str, str]:
    return {c.name: c.type for c in schema.tables()[table].columns}


def _record(table: str, row: Mapping[Any, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split one typed row into model columns and the extras (kept as text)."""
    types = _ctypes(table)
    cols = {k: _py(v, types[k]) for k, v in row.items() if k in types}
    extra = {str(k): _text(v, "str") for k, v in row.items() if k not in types}
    return cols, extra


# --------------------------------------------------------------------------- import


def _info(session: Session) -> m.ScenarioInfo:
    info = session.get(m.ScenarioInfo, 1)
    if info is None:
        info = m.ScenarioInfo(id=1, name="scenario", description="", meta={}, tables={})
        session.add(info)
    return info


def import_scenario(session: Session, scenario: Scenario, *, user: str = "import") -> ImportSummary:
    """Store ``scenario`` as the current state (one transaction: the caller commits).

    Keyed rows (items, sites, depots, donations, lots) are inserted or updated
    by id; keyed rows absent from ``scenario`` are retired (kept for history,
    left out of exports). Substitutes and the network tables are replaced.
    Needs are requests: an unchanged (site, item) request keeps what earlier
    rounds cover, a changed one replaces it (see :mod:`allocator.store.needs`).

    ``stock.quantity`` is the count on hand in the depot. The first import
    into an empty database receives the stock: ``pledged`` for each donation,
    ``received`` and ``inspected`` for each donated lot. Every later import is
    a stock take: a counted difference is a stock adjustment with reason
    "stock count" (:func:`stock_count`), never a receipt; a new donated lot is
    an error (donated goods are received by registering the donation); a count
    below what approved rounds reserve is an error. Every problem is reported
    at once and nothing is stored. ``inspected`` is appended when a lot's
    status changes, and a donor's change of name or of consent to be named is
    kept (:class:`~allocator.store.models.DonorChange`) and appended as an
    amending ``pledged`` event.

    A ``publish_name`` extra column in ``donations.csv`` (``false`` / ``no`` /
    ``0``) records the donor's choice to be published as "anonymous".

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction
    >>> eng = memory_store()
    >>> with transaction(eng) as s:
    ...     summary = import_scenario(s, examples.two_hospitals())
    >>> summary.rows["stock"]
    1
    """
    from allocator import ledger

    now = utcnow()
    info = _info(session)
    info.name = scenario.name
    info.description = scenario.description
    info.as_of = scenario.as_of.to_pydatetime() if scenario.as_of is not None else None
    info.meta = json.loads(json.dumps(scenario.meta, default=str))
    info.tables = {t: [str(c) for c in df.columns] for t, df in scenario.tables.items()}
    info.imported_at = now
    n_before = ledger.head(session)[0]
    first = session.scalar(select(func.count()).select_from(m.Lot)) == 0
    reserved = reserved_by_lot(session)
    problems: list[str] = []
    counts: list[tuple[str, int]] = []
    need_changes = None
    rows: dict[str, int] = {}
    retired: dict[str, int] = {}
    for table in ORDER:
        df = scenario.tables.get(table)
        records = [] if df is None else df.to_dict("records")
        if table in KEYED:
            model, key = KEYED[table]
            existing = {getattr(o, key): o for o in session.scalars(select(model))}
            seen = set()
            for pos, row in enumerate(records):
                cols, extra = _record(table, row)
                kid = cols[key]
                seen.add(kid)
                obj = existing.get(kid)
                if table == "stock":
                    cols["donation_id"] = cols["donation_id"] or None
                    _import_lot(session, obj, cols, extra, pos, now, user, first=first, reserved=reserved,
                                problems=problems, counts=counts, cell=str(row.get("quantity", "")))
                    continue
                if table == "donations":
                    cols["publish_name"] = str(extra.get("publish_name", "")).strip().lower() not in _FALSE
                if obj is None:
                    obj = model(**cols, extra=extra, position=pos, retired=False)
                    session.add(obj)
                    if table == "donations":
                        session.flush()
                        ledger.append(session, "pledged", **ledger.pledge_fields(obj))
                else:
                    if table == "donations":
                        _donor_changes(session, obj, cols, now, user)
                    for k, v in cols.items():
                        setattr(obj, k, v)
                    obj.extra, obj.position, obj.retired = extra, pos, False
            if problems:
                raise InvalidRequestError(f"the import was not stored: {len(problems)} problem(s):\n" + "\n".join(problems))
            session.flush()
            gone = [o for k, o in existing.items() if k not in seen and not o.retired]
            for o in gone:
                o.retired = True
            rows[table], retired[table] = len(records), len(gone)
        elif table == "needs":
            from allocator.store.needs import store_needs

            need_changes = store_needs(session, (_record(table, row) for row in records), now)
            rows[table] = len(records)
        elif table in LISTED:
            model = LISTED[table]
            session.execute(delete(model))
            for pos, row in enumerate(records):
                cols, extra = _record(table, row)
                session.add(model(**cols, extra=extra, position=pos))
            rows[table] = len(records)
        else:
            session.execute(delete(m.TableRow).where(m.TableRow.table_name == table))
            if df is not None:
                types = _ctypes(table)
                for pos, row in enumerate(records):
                    cells = {str(k): _text(v, types.get(str(k), "str")) for k, v in row.items()}
                    session.add(m.TableRow(table_name=table, position=pos, cells=cells))
            rows[table] = len(records)
        session.flush()
        checkpoint(f"import:{table}")
    checkpoint("import")
    return ImportSummary(rows=rows, retired=retired, ledger_entries=ledger.head(session)[0] - n_before,
                         needs=need_changes, first=first, adjustments=counts)


def _donor_changes(session: Session, dn: m.Donation, cols: dict[str, Any], now: datetime, user: str) -> None:
    """A donor's change of name or of consent to be named: kept as a change and a ledger event."""
    from allocator import ledger

    changed = []
    for f in ("donor", "publish_name"):
        old, new = getattr(dn, f), cols.get(f, getattr(dn, f))
        if old != new:
            session.add(m.DonorChange(donation_id=dn.donation_id, field=f, old=str(old), new=str(new), by=user, at=now))
            changed.append(f)
    if changed:
        dn.donor, dn.publish_name = cols.get("donor", dn.donor), cols.get("publish_name", dn.publish_name)
        session.flush()
        ledger.append(session, "donor_changed", donation_id=dn.donation_id, donor=ledger.published_donor(dn),
                      amended=changed, reason="donor details changed")


def _import_lot(
    session: Session, lot: m.Lot | None, cols: dict[str, Any], extra: dict[str, str],
    pos: int, now: datetime, user: str, *, first: bool, reserved: dict[str, int],
    problems: list[str], counts: list[tuple[str, int]], cell: str,
) -> None:
    """One stock row: a receipt on the first import, a stock take (counted differences) afterwards."""
    from allocator import ledger

    qty = int(cols["quantity"])
    where = f"stock.csv:{pos + 2}: quantity"
    if lot is None:
        if cols.get("donation_id") and not first:
            problems.append(f"{where}: " + t("records.stock.unregistered", lot_id=cols["lot_id"],
                                              donation_id=cols["donation_id"]) + f" (got {cell!r})")
            return
        lot = m.Lot(**cols, received_quantity=qty, extra=extra, position=pos, retired=False)
        session.add(lot)
        session.flush()
        if lot.donation_id:
            ledger.append(session, "received", **ledger.lot_fields(session, lot), quantity=qty)
            ledger.append(session, "inspected", **ledger.lot_fields(session, lot),
                          result=ledger.inspection(lot.status))
        return
    held = reserved.get(lot.lot_id, 0)
    if qty < held:
        rounds = ", ".join(str(r) for r in _reserving_rounds(session, lot.lot_id))
        problems.append(f"{where}: lot {lot.lot_id}: " + t("records.stock.below_reserved", counted=qty,
                                                              reserved=held, rounds=rounds) + f" (got {cell!r})")
        return
    book = lot.quantity
    old_status = lot.status
    for k, v in cols.items():
        if k != "quantity":
            setattr(lot, k, v)
    lot.extra, lot.position, lot.retired = extra, pos, False
    if qty != book:
        stock_count(session, lot, qty, by=user, at=now)
        counts.append((lot.lot_id, qty - book))
    if lot.donation_id and old_status != lot.status:
        ledger.append(session, "inspected", **ledger.lot_fields(session, lot),
                      result=ledger.inspection(lot.status))


def _reserving_rounds(session: Session, lot_id: str) -> list[int]:
    q = (select(m.Allocation.round_id).join(m.Round, m.Round.id == m.Allocation.round_id)
         .where(m.Round.state == "approved", m.Allocation.lot_id == lot_id).distinct())
    return sorted(int(r) for r in session.scalars(q))


def stock_count(session: Session, lot: m.Lot, counted: int, *, by: str, at: datetime | None = None) -> m.StockAdjustment:
    """Record a stock take of ``lot``: the counted difference is an adjustment, never a receipt.

    The lot's count becomes ``counted``; what it has ever received stays. The
    difference is kept as a :class:`~allocator.store.models.StockAdjustment`
    and, so that received = allocated + in stock + written off still holds,
    as a write-off with reason "stock count": positive when fewer units were
    counted than the books hold, negative (units found) when more were. A
    donated lot's ledger gets the matching ``written_off`` event.

    Raises
    ------
    StoreError
        A count below what approved rounds reserve of the lot.
    """
    from allocator import ledger

    reason = "stock count"
    held = reserved_by_lot(session).get(lot.lot_id, 0)
    if counted < held:
        raise ConflictError(f"lot {lot.lot_id}: " + t("records.stock.below_reserved", counted=counted, reserved=held,
                                                     rounds=", ".join(map(str, _reserving_rounds(session, lot.lot_id)))))
    when = at or utcnow()
    delta = int(counted) - int(lot.quantity)
    adj = m.StockAdjustment(lot_id=lot.lot_id, book=int(lot.quantity), counted=int(counted), delta=delta,
                            reason=reason, by=by, at=when)
    session.add(adj)
    lot.quantity = int(counted)
    if delta:
        session.add(m.WriteOff(lot_id=lot.lot_id, quantity=-delta, origin="stock", reason=reason, by=by, at=when))
        session.flush()
        if lot.donation_id:  # the ledger's form: units found enter the lot again (published as
            # ``adjusted``, never as ``received``); units missing are written off with the reason
            if delta > 0:
                ledger.append(session, "received", **ledger.lot_fields(session, lot), quantity=delta)
            else:
                ledger.append(session, "written_off", **ledger.lot_fields(session, lot), quantity=-delta,
                              origin="stock", reason=reason)
    session.flush()
    return adj


def write_off(
    session: Session, lot: m.Lot, quantity: int, *, reason: str, by: str,
    origin: str = "stock", delivery_id: int | None = None, at: datetime | None = None,
) -> m.WriteOff:
    """Record ``quantity`` units of ``lot`` as written off (from stock: the count falls)."""
    from allocator import ledger

    if quantity <= 0:
        raise InvalidRequestError(f"lot {lot.lot_id}: a write-off needs a positive quantity (got {quantity})")
    if not reason.strip():
        raise InvalidRequestError(f"lot {lot.lot_id}: a write-off needs a reason")
    if origin == "stock":
        free = lot.quantity - reserved_by_lot(session).get(lot.lot_id, 0)
        if quantity > free:
            raise InvalidRequestError(
                f"lot {lot.lot_id}: cannot write off {quantity} units, only {free} are in stock and not reserved"
            )
        lot.quantity -= quantity
    wo = m.WriteOff(lot_id=lot.lot_id, quantity=quantity, origin=origin, delivery_id=delivery_id,
                    reason=reason, by=by, at=at or utcnow())
    session.add(wo)
    session.flush()
    if lot.donation_id:
        ledger.append(session, "written_off", **ledger.lot_fields(session, lot), quantity=quantity,
                      origin=origin, reason=reason)
    return wo


# --------------------------------------------------------------------------- stock


def stock_fingerprint(stock: pd.DataFrame | Iterable[tuple]) -> str:
    """SHA-256 of the stock a round is computed on (lot, depot, item, quantity, expiry, status).

    A round remembers the fingerprint of its scenario's stock; approval
    compares it with the fingerprint of the stock available now.

    Examples
    --------
    >>> from allocator import examples
    >>> len(stock_fingerprint(examples.two_hospitals().stock))
    64
    """
    if isinstance(stock, pd.DataFrame):
        rows = [
            (str(lot), str(depot), str(item), int(qty), "" if pd.isna(exp) else pd.Timestamp(exp).isoformat(), str(status))
            for lot, depot, item, qty, exp, status in zip(stock.lot_id, stock.depot_id, stock.item_id, stock.quantity,
                                                           stock.expires, stock.status)
        ]
    else:
        rows = [tuple(r) for r in stock]
    rows.sort()
    text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def available_rows(session: Session) -> list[tuple]:
    """The fingerprint rows of the stock available for a new round (on hand minus reserved)."""
    reserved = reserved_by_lot(session)
    out = []
    for lot in session.scalars(select(m.Lot).where(m.Lot.retired.is_(False))):
        exp = "" if lot.expires is None else pd.Timestamp(lot.expires).isoformat()
        out.append((lot.lot_id, lot.depot_id, lot.item_id, lot.quantity - reserved.get(lot.lot_id, 0),
                    exp, lot.status))
    return out


# --------------------------------------------------------------------------- export


def _rows(session: Session, table: str) -> list[dict[str, str]]:
    types = _ctypes(table)
    if table in KEYED or table in LISTED:
        model = KEYED[table][0] if table in KEYED else LISTED[table]
        q = select(model).order_by(model.position)
        if table in KEYED or table == "needs":
            q = q.where(model.retired.is_(False))
        out = []
        for obj in session.scalars(q):
            rec = {}
            for col, ctype in types.items():
                v = getattr(obj, col)
                if col == "donation_id" and v is None:
                    v = ""
                rec[col] = _text(v, ctype)
            rec.update(obj.extra or {})
            out.append(rec)
        return out
    q = select(m.TableRow).where(m.TableRow.table_name == table).order_by(m.TableRow.position)
    return [dict(r.cells) for r in session.scalars(q)]


def export_scenario(session: Session, *, available: bool = False) -> Scenario:
    """The stored state as a scenario (the contract), checked like a loaded file.

    Parameters
    ----------
    available : bool
        When true, each lot's quantity is what a new round may allocate (on
        hand minus what approved rounds reserve); see :func:`current_scenario`.

    Raises
    ------
    StoreError
        When nothing was imported yet.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction, import_scenario
    >>> eng = memory_store()
    >>> with transaction(eng) as s:
    ...     _ = import_scenario(s, examples.two_hospitals())
    ...     int(export_scenario(s).stock.quantity.sum())
    1000
    """
    from allocator.validate import parse

    info = session.get(m.ScenarioInfo, 1)
    if info is None:
        raise NotFoundError("the database holds no scenario yet: run `allocator import SCENARIO` first", code="error.store.no_scenario")
    reserved = reserved_by_lot(session) if available else {}
    tables: dict[str, pd.DataFrame] = {}
    for table, columns in info.tables.items():
        recs = _rows(session, table)
        if available and table == "stock":
            for r in recs:
                r["quantity"] = str(int(r["quantity"]) - reserved.get(r["lot_id"], 0))
        if available and table == "needs":
            from allocator.store.needs import outstanding

            left = outstanding(session)
            for r in recs:
                r["quantity"] = str(left.get((r["site_id"], r["item_id"]), int(r["quantity"])))
        df = pd.DataFrame({c: [r.get(c, "") for r in recs] for c in columns}, dtype=object)
        tables[table] = df.astype(str) if len(columns) else pd.DataFrame(index=range(len(recs)))
    meta = dict(info.meta or {})
    meta["name"] = info.name
    if info.description:
        meta["description"] = info.description
    if info.as_of is not None:
        meta["as_of"] = _fmt(pd.Timestamp(info.as_of), "datetime")
    labels = {t: f"{t}.csv" for t in schema.tables()}
    sc, report = parse(RawScenario(tables=tables, labels=labels, meta=meta, source="<database>"))
    if report.errors:
        raise InvalidRequestError("the stored scenario does not pass validation: " + str(report.errors[0]))
    return sc


def current_scenario(session: Session) -> Scenario:
    """The scenario a new round runs on: the stock still available and the needs still outstanding.

    Lots reserved by approved rounds show only their unreserved units; units
    dispatched have already left the lots' counts. Each need shows what is
    outstanding: the request less what approved, dispatched or delivered
    rounds made since cover (see :mod:`allocator.store.needs`).
    """
    return export_scenario(session, available=True)


# --------------------------------------------------------------------------- what an import changes

#: The columns that name a row of each table (a repeated key counts by occurrence).
ROW_KEYS = {
    "items": ["item_id"], "sites": ["site_id"], "depots": ["depot_id"], "donations": ["donation_id"],
    "stock": ["lot_id"], "needs": ["site_id", "item_id"], "substitutes": ["item_id", "substitute_id"],
    "road_nodes": ["node_id"], "roads": ["u", "v"], "traffic_control": ["rule_id"],
    "vehicles": ["vehicle_id"], "site_stock": ["site_id", "item_id", "date"], "locks": ["depot_id", "site_id", "item_id"],
}


@dataclass(frozen=True)
class TableChange:
    """Rows of one table added, removed, changed (same key, other values) and unchanged."""

    table: str
    added: int
    removed: int
    changed: int
    same: int


def _keyed(df: pd.DataFrame, key: list[str]) -> dict[tuple, tuple]:
    text = df.astype(str) if len(df.columns) else df
    cols = [c for c in key if c in text.columns]
    out: dict[tuple, tuple] = {}
    seen: dict[tuple, int] = {}
    for rec in text.to_dict("records"):
        k = tuple(rec[c] for c in cols)
        n = seen.get(k, 0)
        seen[k] = n + 1
        out[(*k, n)] = tuple(sorted(rec.items()))
    return out


def table_changes(old: Scenario | None, new: Scenario) -> list[TableChange]:
    """Per table, what ``new`` adds, removes and changes relative to ``old`` (by each table's row key).

    Examples
    --------
    >>> from allocator import examples
    >>> sc = examples.two_hospitals()
    >>> needs = sc.needs.assign(quantity=[800, 900])
    >>> [c for c in table_changes(sc, sc.replace(needs=needs)) if c.table == "needs"]
    [TableChange(table='needs', added=0, removed=0, changed=1, same=1)]
    """
    out = []
    names = list(new.tables) + [n for n in (old.tables if old is not None else {}) if n not in new.tables]
    for name in names:
        a = old.tables.get(name) if old is not None else None
        b = new.tables.get(name)
        key = ROW_KEYS.get(name, [])
        ka = _keyed(a, key) if a is not None else {}
        kb = _keyed(b, key) if b is not None else {}
        if not key:  # no key: a row is its values
            ka = {v: v for v in ka.values()}
            kb = {v: v for v in kb.values()}
        added = sum(1 for k in kb if k not in ka)
        removed = sum(1 for k in ka if k not in kb)
        changed = sum(1 for k in kb if k in ka and ka[k] != kb[k])
        out.append(TableChange(name, added, removed, changed, len(kb) - added - changed))
    return out
