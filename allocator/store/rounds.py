"""The round workflow: draft -> approved -> dispatched -> delivered (or cancelled).

- :func:`create_round` stores a computed round as a draft, with the
  fingerprint of the stock it was computed on;
- :func:`approve_round` (approver role only) reserves its stock; it refuses a
  stale draft (the available stock changed since) and a round someone else has
  just approved (optimistic ``version`` column plus a row lock);
- :func:`dispatch_round` takes the units out of the lots and plans one trip per
  depot and site;
- :func:`confirm_delivery` records what each site received, per trip;
  discrepancies (short, damaged, wrong item) return to stock or are written off
  with a reason; the round is delivered when every trip is confirmed;
- :func:`correct_delivery` corrects a confirmed delivery: the new
  confirmation supersedes the old one and both are kept;
- :func:`cancel_round` releases an approved round's reservation.

Every function works inside the caller's transaction (see
:func:`allocator.store.transaction`) and appends the matching donation events
to the ledger in it, so a state change and its ledger entries commit together.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from allocator import ledger
from allocator.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StaleDraftError,
    StoreError,
)
from allocator.scenario import Scenario
from allocator.store import models as m
from allocator.store.db import checkpoint
from allocator.store.receivers import check_trip_scope, confirmer, trips_for
from allocator.store.scenario_io import (
    available_rows,
    reserved_by_lot,
    stock_fingerprint,
    write_off,
)
from allocator.store.time import utcnow
from allocator.store.users import get_user, require_role

if TYPE_CHECKING:  # pragma: no cover
    from allocator.network.trips import Trips

ALLOCATION_COLUMNS = ["lot_id", "depot_id", "site_id", "item_id", "need_item_id", "quantity", "travel_min"]
#: Who may do what.
CAN_CREATE = ("officer", "approver", "admin")
CAN_APPROVE = ("approver",)
CAN_DISPATCH = ("officer", "approver", "admin")
CAN_CONFIRM = ("officer", "approver", "admin", "receiver")  # a receiver: own sites only
CAN_CANCEL_APPROVED = ("approver", "admin")


@dataclass(frozen=True)
class Discrepancy:
    """What a site reports for one allocation line that did not arrive as shipped.

    Attributes
    ----------
    received : int
        Units of the shipped item that arrived in good order.
    kind : str
        ``short``, ``damaged`` or ``wrong_item``.
    disposition : str
        Where the units not received go: ``returned`` (back into the lot) or
        ``written_off`` (lost; ``reason`` required).
    reason : str
        Free text, required for a write-off.
    """

    received: int
    kind: str = "short"
    disposition: str = "returned"
    reason: str = ""


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=_default, allow_nan=True), parse_constant=lambda _c: None)


def _default(x: Any) -> Any:
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, tuple | set):
        return list(x)
    return str(x)


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    if df is None or len(df) == 0:
        return []
    out = []
    for rec in df.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
                v = None
            clean[str(k)] = v
        out.append(clean)
    return _json_safe(out)


def get_round(session: Session, round_id: int, *, lock: bool = False) -> m.Round:
    """The round ``round_id`` (locked ``FOR UPDATE`` when ``lock``); :class:`StoreError` if none."""
    q = select(m.Round).where(m.Round.id == int(round_id))
    if lock:
        q = q.with_for_update()
    r = session.execute(q).scalar_one_or_none()
    if r is None:
        raise NotFoundError(f"no round {round_id}", code="error.store.no_round", round=round_id)
    return r


def allocation_lines(session: Session, round_id: int) -> list[m.Allocation]:
    """The allocation lines of a round, in their original order."""
    q = select(m.Allocation).where(m.Allocation.round_id == int(round_id)).order_by(m.Allocation.position)
    return list(session.scalars(q))


def _check_allocations(session: Session, alloc: pd.DataFrame, stock: pd.DataFrame) -> list[str]:
    problems = []
    missing = [c for c in ALLOCATION_COLUMNS if c not in alloc.columns and c != "travel_min"]
    if missing:
        return [f"allocations: missing column(s) {', '.join(missing)}"]
    lots = {lot.lot_id: lot for lot in session.scalars(select(m.Lot))}
    sites = {s.site_id for s in session.scalars(select(m.Site).where(m.Site.retired.is_(False)))}
    avail = {str(lot_id): int(q) for lot_id, q in zip(stock.lot_id, stock.quantity)}
    used: dict[str, int] = defaultdict(int)
    for i, r in enumerate(alloc.to_dict("records"), start=2):
        lot = lots.get(str(r["lot_id"]))
        q = r["quantity"]
        if pd.isna(q) or int(q) != q or int(q) <= 0:
            problems.append(f"allocations.csv:{i}: quantity: must be a whole number > 0 (got {q})")
            continue
        if lot is None or lot.retired:
            problems.append(f"allocations.csv:{i}: lot_id: no such lot in the database (got {r['lot_id']})")
            continue
        if (lot.depot_id, lot.item_id) != (str(r["depot_id"]), str(r["item_id"])):
            problems.append(f"allocations.csv:{i}: lot {lot.lot_id} is {lot.item_id} at {lot.depot_id}, "
                            f"not {r['item_id']} at {r['depot_id']}")
        if str(r["site_id"]) not in sites:
            problems.append(f"allocations.csv:{i}: site_id: no such site (got {r['site_id']})")
        used[lot.lot_id] += int(q)
    for lot_id, q in used.items():
        if q > avail.get(lot_id, 0):
            problems.append(f"allocations: lot {lot_id}: {q} units allocated, {avail.get(lot_id, 0)} available")
    return problems


def create_round(
    session: Session,
    scenario_state: Scenario,
    allocations_df: pd.DataFrame,
    fill_df: pd.DataFrame | None,
    summary: Mapping[str, Any] | None,
    user: str,
    *,
    note: str = "",
) -> m.Round:
    """Store a computed round as a draft.

    Parameters
    ----------
    scenario_state : Scenario
        The scenario the round was computed on, normally
        :func:`allocator.store.current_scenario`; its stock's fingerprint is
        kept, and approval refuses the round once the available stock differs.
    allocations_df : DataFrame
        The contract's allocations.csv columns (lot_id, depot_id, site_id,
        item_id, need_item_id, quantity, travel_min).
    fill_df, summary
        The round's fill table and summary.json, kept for review.
    user : str
        The officer creating it.

    Raises
    ------
    StoreError
        Unknown user or role, unknown lots or sites, or more units than the
        scenario's stock holds.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction, import_scenario, current_scenario, add_user
    >>> import pandas as pd
    >>> with transaction(memory_store()) as s:
    ...     _ = import_scenario(s, examples.two_hospitals())
    ...     _ = add_user(s, "wang", "pw", ["officer"])
    ...     a = pd.DataFrame([{"lot_id": "L1", "depot_id": "D1", "site_id": "H1", "item_id": "n95",
    ...                        "need_item_id": "n95", "quantity": 500, "travel_min": 12.0}])
    ...     create_round(s, current_scenario(s), a, None, {}, "wang").state
    'draft'
    """
    require_role(session, user, CAN_CREATE, "create a round")
    problems = _check_allocations(session, allocations_df, scenario_state.stock)
    if problems:
        raise InvalidRequestError(f"the round cannot be stored: {len(problems)} problem(s): " + "; ".join(problems[:10]))
    now = utcnow()
    r = m.Round(
        state="draft", version=1, stock_fingerprint=stock_fingerprint(scenario_state.stock),
        scenario_name=scenario_state.name,
        as_of=None if scenario_state.as_of is None else scenario_state.as_of.to_pydatetime(),
        summary=_json_safe(dict(summary or {})), fill=_records(fill_df), note=note,
        created_by=user, created_at=now,
    )
    session.add(r)
    session.flush()
    for pos, rec in enumerate(_records(allocations_df)):
        tm = rec.get("travel_min")
        session.add(m.Allocation(
            round_id=r.id, position=pos, lot_id=str(rec["lot_id"]), depot_id=str(rec["depot_id"]),
            site_id=str(rec["site_id"]), item_id=str(rec["item_id"]),
            need_item_id=str(rec.get("need_item_id") or rec["item_id"]), quantity=int(rec["quantity"]),
            travel_min=None if tm is None or (isinstance(tm, float) and not math.isfinite(tm)) else float(tm),
        ))
    session.flush()
    checkpoint("create_round")
    return r


def _lot(session: Session, lot_id: str, *, lock: bool = False) -> m.Lot:
    """The lot a round's line takes from (lines reference lots by a foreign key, so it exists)."""
    lot = session.get(m.Lot, lot_id, with_for_update=lock)
    if lot is None:
        raise NotFoundError(f"no lot {lot_id}")
    return lot


def _bump(session: Session, r: m.Round, expected: int, new_state: str, from_states: tuple[str, ...],
          **values: Any) -> None:
    """Move ``r`` to ``new_state`` with ``UPDATE ... WHERE version = :v``; conflict when it moved."""
    res: CursorResult[Any] = session.execute(  # type: ignore[assignment]  # an UPDATE gives a CursorResult
        update(m.Round)
        .where(m.Round.id == r.id, m.Round.version == expected, m.Round.state.in_(from_states))
        .values(state=new_state, version=expected + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        session.expire(r)
        raise ConflictError(f"conflict: round {r.id} was changed by someone else (now {r.state}, "
                         f"version {r.version}); reload it and try again")
    session.refresh(r)


def _conflict_state(r: m.Round, wanted: str) -> StoreError:
    who = {
        "approved": (r.approved_by, r.approved_at), "dispatched": (r.dispatched_by, r.dispatched_at),
        "cancelled": (r.cancelled_by, r.cancelled_at), "delivered": (None, r.delivered_at),
    }.get(r.state, (None, None))
    by = f" by {who[0]}" if who[0] else ""
    at = f" at {who[1]:%Y-%m-%d %H:%M:%S} UTC" if who[1] else ""
    return ConflictError(f"conflict: round {r.id} is already {r.state}{by}{at}; it cannot be {wanted}")


def approve_round(session: Session, round_id: int, user: str, *, expected_version: int | None = None) -> m.Round:
    """Approve a draft and reserve its stock (approver role only).

    Parameters
    ----------
    expected_version : int, optional
        The version the approver reviewed; approval fails with a conflict when
        the round changed since.

    Raises
    ------
    StoreError
        ``conflict: ...`` when someone else approved or changed it first;
        ``... is stale ...`` when the available stock changed since the round
        was computed (re-run it); a user without the approver role.
    """
    require_role(session, user, CAN_APPROVE, "approve a round")
    r = get_round(session, round_id, lock=True)
    if r.state != "draft":
        raise _conflict_state(r, "approved")
    version = r.version if expected_version is None else int(expected_version)
    if version != r.version:
        raise ConflictError(f"conflict: round {r.id} changed since you loaded it (version {version}, now "
                         f"{r.version}); reload it and try again")
    if stock_fingerprint(available_rows(session)) != r.stock_fingerprint:
        raise StaleDraftError(f"round {r.id} is stale: the available stock changed since it was computed; "
                         "re-run the round on the current stock and approve the new draft")
    lines = allocation_lines(session, r.id)
    reserved = reserved_by_lot(session)
    lots = {lot.lot_id: lot for lot in session.scalars(select(m.Lot))}
    want: dict[str, int] = defaultdict(int)
    for a in lines:
        want[a.lot_id] += a.quantity
    for lot_id, q in want.items():
        free = lots[lot_id].quantity - reserved.get(lot_id, 0)
        if q > free:
            raise StaleDraftError(f"round {r.id} is stale: lot {lot_id} has {free} units free, the round takes {q}")
    _bump(session, r, version, "approved", ("draft",), approved_by=user, approved_at=utcnow())
    for a in lines:
        lot = lots[a.lot_id]
        if lot.donation_id:
            ledger.append(session, "allocated", **ledger.lot_fields(session, lot), site_id=a.site_id,
                          quantity=a.quantity, round_id=r.id)
    checkpoint("approve")
    return r


def dispatch_round(session: Session, round_id: int, user: str, *,
                   vehicles: Mapping[tuple[str, str], str] | None = None) -> m.Round:
    """Dispatch an approved round: units leave their lots, one trip per depot and site.

    Parameters
    ----------
    vehicles : mapping of (depot_id, site_id) to vehicle_id, optional
        Which truck runs each trip (empty when not given).
    """
    require_role(session, user, CAN_DISPATCH, "dispatch a round")
    r = get_round(session, round_id, lock=True)
    if r.state != "approved":
        if r.state == "draft":
            raise ConflictError(f"round {r.id} is a draft: it must be approved before it is dispatched")
        raise _conflict_state(r, "dispatched")
    now = utcnow()
    lines = allocation_lines(session, r.id)
    version = r.version
    _bump(session, r, version, "dispatched", ("approved",), dispatched_by=user, dispatched_at=now)
    trips: dict[tuple[str, str], m.Trip] = {}
    for a in lines:
        key = (a.depot_id, a.site_id)
        if key not in trips:
            trips[key] = m.Trip(round_id=r.id, depot_id=a.depot_id, site_id=a.site_id,
                                vehicle_id=(vehicles or {}).get(key, ""), state="dispatched", dispatched_at=now)
            session.add(trips[key])
            session.flush()
        a.trip_id = trips[key].id
        lot = _lot(session, a.lot_id, lock=True)
        if lot.quantity < a.quantity:
            raise ConflictError(f"lot {lot.lot_id} holds {lot.quantity} units, round {r.id} ships {a.quantity}")
        lot.quantity -= a.quantity
        if lot.donation_id:
            ledger.append(session, "dispatched", **ledger.lot_fields(session, lot), site_id=a.site_id,
                          quantity=a.quantity, round_id=r.id, trip_id=trips[key].id)
    session.flush()
    checkpoint("dispatch")
    return r


def trips(session: Session, round_id: int) -> list[m.Trip]:
    """The trips of a round."""
    return list(session.scalars(select(m.Trip).where(m.Trip.round_id == int(round_id)).order_by(m.Trip.id)))


def confirm_delivery(
    session: Session,
    round_id: int,
    user: str,
    *,
    trip_id: int | None = None,
    discrepancies: Mapping[int, Discrepancy] | None = None,
) -> list[m.Delivery]:
    """Confirm what arrived on one trip (or on every unconfirmed trip when ``trip_id`` is None).

    Parameters
    ----------
    discrepancies : mapping of allocation line id to :class:`Discrepancy`
        Lines not named arrived in full.

    Returns
    -------
    list of Delivery
        One per allocation line confirmed. The round becomes ``delivered``
        when its last trip is confirmed.
    """
    require_role(session, user, CAN_CONFIRM, "confirm a delivery")
    r = get_round(session, round_id, lock=True)
    if r.state != "dispatched":
        raise ConflictError(f"round {r.id} is {r.state}: only a dispatched round's deliveries can be confirmed")
    disc = dict(discrepancies or {})
    open_trips = [t for t in trips(session, r.id) if t.state != "delivered"]
    if trip_id is not None:
        open_trips = [t for t in open_trips if t.id == int(trip_id)]
        if not open_trips:
            raise NotFoundError(f"round {r.id} has no unconfirmed trip {trip_id}")
        check_trip_scope(session, user, open_trips)  # a receiver naming another site's trip is refused
    open_trips = trips_for(session, user, open_trips)  # without a trip: a receiver confirms their own
    confirmed_as = {t.site_id: confirmer(session, user, t.site_id) for t in open_trips}
    now = utcnow()
    out = []
    tids = {t.id for t in open_trips}
    lines = [a for a in allocation_lines(session, r.id) if a.trip_id in tids]
    unknown = set(disc) - {a.id for a in lines}
    if unknown:
        raise NotFoundError(f"round {r.id}: no line(s) {sorted(unknown)} on the trip(s) being confirmed")
    for a in lines:
        d = disc.get(a.id)
        received, kind, returned, lost, reason = a.quantity, "", 0, 0, ""
        if d is not None:
            if d.kind not in m.DISCREPANCIES:
                raise StoreError(f"line {a.id}: discrepancy must be one of {', '.join(m.DISCREPANCIES)} (got {d.kind})")
            if d.disposition not in m.DISPOSITIONS:
                raise StoreError(f"line {a.id}: disposition must be returned or written_off (got {d.disposition})")
            if not 0 <= d.received <= a.quantity:
                raise StoreError(f"line {a.id}: received must be between 0 and {a.quantity} (got {d.received})")
            if d.disposition == "written_off" and not d.reason.strip():
                raise StoreError(f"line {a.id}: a write-off needs a reason")
            received, kind, reason = int(d.received), d.kind, d.reason
            if d.disposition == "returned":
                returned = a.quantity - received
            else:
                lost = a.quantity - received
        dl = m.Delivery(allocation_id=a.id, trip_id=a.trip_id, shipped=a.quantity, received=received,
                        discrepancy=kind, returned=returned, written_off=lost, reason=reason,
                        confirmed_by=user, confirmed_at=now, confirmed_as=confirmed_as[a.site_id])
        session.add(dl)
        session.flush()
        lot = _lot(session, a.lot_id, lock=True)
        fields = ledger.lot_fields(session, lot) if lot.donation_id else None
        if fields:
            ledger.append(session, "delivered", **fields, site_id=a.site_id, quantity=received, round_id=r.id,
                          trip_id=a.trip_id, **({"discrepancy": kind} if kind else {}),
                          confirmed_by=user, confirmed_as=confirmed_as[a.site_id])
        if returned:
            lot.quantity += returned
            if fields:
                ledger.append(session, "returned", **fields, site_id=a.site_id, quantity=returned, round_id=r.id,
                              reason=reason or kind)
        if lost:
            wo = m.WriteOff(lot_id=lot.lot_id, quantity=lost, origin="delivery", delivery_id=dl.id,
                            reason=reason, by=user, at=now)
            session.add(wo)
            if fields:
                ledger.append(session, "written_off", **fields, site_id=a.site_id, quantity=lost, origin="delivery",
                              reason=reason, round_id=r.id)
        out.append(dl)
    for t in open_trips:
        t.state, t.confirmed_by, t.confirmed_at = "delivered", user, now
    session.flush()
    if all(t.state == "delivered" for t in trips(session, r.id)):
        _bump(session, r, r.version, "delivered", ("dispatched",), delivered_at=now)
    checkpoint("deliver")
    return out


def correct_delivery(
    session: Session,
    round_id: int,
    line_id: int,
    user: str,
    corrected: Discrepancy | None,
    *,
    reason: str,
) -> m.Delivery:
    """Correct a confirmed delivery: a new confirmation supersedes the old one, both are kept.

    The delivery's row takes the corrected figures (who and when included);
    the confirmation it replaces is kept as a
    :class:`~allocator.store.models.DeliveryRevision`. Stock, write-offs and the
    ledger move by the difference: units now returned go back into the lot
    (units no longer returned are taken out of it again), write-offs move by
    the difference, and a donated lot's ledger gets ``delivered``,
    ``returned`` and ``written_off`` entries for the differences (negative
    when a figure falls), each naming the correction. What the site received
    counts against its need from then on (:mod:`allocator.store.needs`).

    Parameters
    ----------
    corrected : Discrepancy or None
        What really arrived; None when the line arrived in full after all.
    reason : str
        Why the confirmation is corrected (required).

    Raises
    ------
    StoreError
        No confirmed delivery for that line, no reason, figures out of range,
        or returned units that are no longer in the lot to take back.
    """
    require_role(session, user, CAN_CONFIRM, "correct a delivery")
    if not reason.strip():
        raise StoreError(f"line {line_id}: a correction needs a reason")
    r = get_round(session, round_id, lock=True)
    a = session.get(m.Allocation, int(line_id))
    if a is None or a.round_id != r.id:
        raise NotFoundError(f"round {r.id} has no line {line_id}")
    dl = session.scalars(select(m.Delivery).where(m.Delivery.allocation_id == a.id).with_for_update()).first()
    if dl is None:
        raise StoreError(f"round {r.id}: line {line_id} has no confirmed delivery to correct")
    d = corrected or Discrepancy(received=a.quantity, kind="", disposition="returned")
    if corrected is not None:
        if d.kind not in m.DISCREPANCIES:
            raise StoreError(f"line {a.id}: discrepancy must be one of {', '.join(m.DISCREPANCIES)} (got {d.kind})")
        if d.disposition not in m.DISPOSITIONS:
            raise StoreError(f"line {a.id}: disposition must be returned or written_off (got {d.disposition})")
        if d.disposition == "written_off" and not d.reason.strip():
            raise StoreError(f"line {a.id}: a write-off needs a reason")
    if not 0 <= d.received <= a.quantity:
        raise StoreError(f"line {a.id}: received must be between 0 and {a.quantity} (got {d.received})")
    received = int(d.received)
    returned = a.quantity - received if d.disposition == "returned" else 0
    lost = a.quantity - received if d.disposition == "written_off" else 0
    kind = d.kind if received < a.quantity else ""
    now = utcnow()
    session.add(m.DeliveryRevision(
        delivery_id=dl.id, allocation_id=a.id, received=dl.received, discrepancy=dl.discrepancy,
        returned=dl.returned, written_off=dl.written_off, reason=dl.reason, confirmed_by=dl.confirmed_by,
        confirmed_at=dl.confirmed_at, superseded_by=user, superseded_at=now, correction_reason=reason,
    ))
    d_received, d_returned, d_lost = received - dl.received, returned - dl.returned, lost - dl.written_off
    lot = _lot(session, a.lot_id, lock=True)
    if d_returned < 0:
        free = lot.quantity - reserved_by_lot(session).get(lot.lot_id, 0)
        if -d_returned > free:
            raise StoreError(f"line {a.id}: {-d_returned} returned unit(s) would leave lot {lot.lot_id} again, "
                             f"but only {free} are in stock and not reserved")
    lot.quantity += d_returned
    if d_lost:
        session.add(m.WriteOff(lot_id=lot.lot_id, quantity=d_lost, origin="delivery", delivery_id=dl.id,
                               reason=f"correction: {reason}", by=user, at=now))
    dl.received, dl.discrepancy, dl.returned, dl.written_off = received, kind, returned, lost
    dl.reason, dl.confirmed_by, dl.confirmed_at = d.reason, user, now
    session.flush()
    if lot.donation_id:
        fields = ledger.lot_fields(session, lot)
        common = {"site_id": a.site_id, "round_id": r.id, "trip_id": a.trip_id, "corrects": dl.id}
        if d_received:
            ledger.append(session, "delivered", **fields, quantity=d_received, **common, reason=reason)
        if d_returned:
            ledger.append(session, "returned", **fields, quantity=d_returned, **common, reason=reason)
        if d_lost:
            ledger.append(session, "written_off", **fields, quantity=d_lost, origin="delivery", **common,
                          reason=reason)
    checkpoint("correct_delivery")
    return dl


def delivery_history(session: Session, line_id: int) -> pd.DataFrame:
    """Every confirmation of one allocation line, oldest first; the last row is the one in force."""
    rows = []
    for v in session.scalars(select(m.DeliveryRevision).where(m.DeliveryRevision.allocation_id == int(line_id))
                             .order_by(m.DeliveryRevision.id)):
        rows.append({"received": v.received, "discrepancy": v.discrepancy, "returned": v.returned,
                     "written_off": v.written_off, "reason": v.reason, "confirmed_by": v.confirmed_by,
                     "confirmed_at": v.confirmed_at, "superseded_by": v.superseded_by,
                     "superseded_at": v.superseded_at, "correction_reason": v.correction_reason})
    dl = session.scalars(select(m.Delivery).where(m.Delivery.allocation_id == int(line_id))).first()
    if dl is not None:
        rows.append({"received": dl.received, "discrepancy": dl.discrepancy, "returned": dl.returned,
                     "written_off": dl.written_off, "reason": dl.reason, "confirmed_by": dl.confirmed_by,
                     "confirmed_at": dl.confirmed_at, "superseded_by": "", "superseded_at": None,
                     "correction_reason": ""})
    return pd.DataFrame(rows)


def cancel_round(session: Session, round_id: int, user: str, *, reason: str = "") -> m.Round:
    """Cancel a draft (any role) or an approved round (approver or admin; its reservation is released).

    A dispatched round cannot be cancelled: its goods are on the road; confirm
    its deliveries with discrepancies instead.
    """
    get_user(session, user)
    r = get_round(session, round_id, lock=True)
    if r.state not in ("draft", "approved"):
        raise _conflict_state(r, "cancelled")
    if r.state == "approved":
        require_role(session, user, CAN_CANCEL_APPROVED, "cancel an approved round")
    else:
        require_role(session, user, CAN_CREATE, "cancel a round")
    was = r.state
    _bump(session, r, r.version, "cancelled", ("draft", "approved"), cancelled_by=user, cancelled_at=utcnow(),
          cancel_reason=reason)
    if was == "approved":
        for a in allocation_lines(session, r.id):
            lot = _lot(session, a.lot_id)
            if lot.donation_id:
                ledger.append(session, "released", **ledger.lot_fields(session, lot), site_id=a.site_id,
                              quantity=a.quantity, round_id=r.id, reason=reason)
    return r


def write_off_stock(session: Session, lot_id: str, quantity: int, reason: str, user: str) -> m.WriteOff:
    """Write off units of a lot in stock (expired, damaged in the depot ...) with a reason."""
    require_role(session, user, CAN_DISPATCH, "write off stock")
    lot = session.get(m.Lot, lot_id, with_for_update=True)
    if lot is None:
        raise NotFoundError(f"no lot {lot_id}", code="error.store.no_lot", lot=lot_id)
    return write_off(session, lot, int(quantity), reason=reason, by=user, origin="stock")


def rounds_frame(session: Session) -> pd.DataFrame:
    """Every round with its state, who and when, and its line count and units."""
    rows = []
    for r in session.scalars(select(m.Round).order_by(m.Round.id)):
        lines = allocation_lines(session, r.id)
        rows.append({
            "round_id": r.id, "state": r.state, "version": r.version, "scenario": r.scenario_name,
            "lines": len(lines), "units": sum(a.quantity for a in lines),
            "created_by": r.created_by, "created_at": r.created_at,
            "approved_by": r.approved_by or "", "approved_at": r.approved_at,
            "dispatched_by": r.dispatched_by or "", "dispatched_at": r.dispatched_at,
            "delivered_at": r.delivered_at, "cancelled_by": r.cancelled_by or "", "cancelled_at": r.cancelled_at,
        })
    return pd.DataFrame(rows)


def round_tables(session: Session, round_id: int) -> dict[str, Any]:
    """A stored round's ``fill``, ``allocations`` (records) and ``summary``, for :func:`allocator.allocate.diff.compare`."""
    r = get_round(session, round_id)
    alloc = [{"lot_id": a.lot_id, "depot_id": a.depot_id, "site_id": a.site_id, "item_id": a.item_id,
              "need_item_id": a.need_item_id, "quantity": int(a.quantity)} for a in allocation_lines(session, r.id)]
    return {"fill": list(r.fill or []), "allocations": alloc, "summary": dict(r.summary or {}),
            "label": f"round {r.id}"}


def lines_frame(session: Session, round_id: int) -> pd.DataFrame:
    """A round's allocation lines with their id (used to report discrepancies), trip and delivery."""
    dl = {d.allocation_id: d for d in session.scalars(select(m.Delivery))}
    rows = []
    for a in allocation_lines(session, round_id):
        d = dl.get(a.id)
        rows.append({
            "line_id": a.id, "trip_id": a.trip_id, "lot_id": a.lot_id, "depot_id": a.depot_id,
            "site_id": a.site_id, "item_id": a.item_id, "need_item_id": a.need_item_id, "quantity": a.quantity,
            "travel_min": a.travel_min, "received": None if d is None else d.received,
            "discrepancy": "" if d is None else d.discrepancy,
        })
    return pd.DataFrame(rows)


def plan_round_trips(session: Session, round_id: int, *, method: str = "ortools",
                     time_limit_s: float = 2.0, progress: Any = None) -> Trips:
    """Plan the truck trips of a round's shipments on the stored roads, traffic control and vehicles.

    Read-only: call it before :func:`dispatch_round` and pass
    :func:`vehicles_by_drop` of the result as ``vehicles``.

    Parameters
    ----------
    method : {"ortools", "greedy"}
        OR-Tools routing with a time limit (greedy fallback), or greedy only.
    time_limit_s : float
        OR-Tools time limit per depot and wave.
    progress : callable, optional
        ``progress(code, params)``, as :func:`allocator.network.trips.plan_trips`.
    """
    from allocator.network.trips import round_trips
    from allocator.store.scenario_io import export_scenario

    lines = allocation_lines(session, round_id)
    if not lines:
        raise InvalidRequestError(f"round {round_id} has no allocation lines to plan trips for")
    shipments = pd.DataFrame(
        [{"lot_id": a.lot_id, "depot_id": a.depot_id, "site_id": a.site_id, "item_id": a.item_id,
          "quantity": a.quantity} for a in lines]
    )
    sc = export_scenario(session)
    return round_trips(sc, shipments, time_limit_s=time_limit_s, method=method, progress=progress)


def vehicles_by_drop(planned: Trips) -> dict[tuple[str, str], str]:
    """``(depot_id, site_id) -> "V01;V02"``: the trucks that carry each drop of a plan."""
    t = planned.trips
    if t.empty:
        return {}
    g = t.groupby(["depot_id", "site_id"]).vehicle_id.agg(lambda v: ";".join(sorted(set(map(str, v)))))
    return {(str(d), str(s)): str(v) for (d, s), v in zip(g.index.tolist(), g.tolist())}
