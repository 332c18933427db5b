"""Every action the store records, who and when, as one timeline (the app's History page).

Sources: the round workflow (created, approved, dispatched, delivered,
cancelled), delivery confirmations, write-offs, the donation ledger, ledger
publications, and the event log of :mod:`allocator.store.auth` (logins,
logouts, user administration, data imports and edits).

Rows carry codes (``action``) and ids, never sentences: the UI renders
``app.action.<action>`` in the reader's language.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from allocator.store import models as m

__all__ = ["timeline", "COLUMNS", "SOURCES"]

COLUMNS = ["at", "who", "source", "action", "subject", "detail"]
#: Where a row comes from (``source`` column).
SOURCES = ("round", "delivery", "write_off", "ledger", "publication", "event")


def _ledger_at(text: str) -> datetime | None:
    try:
        return pd.Timestamp(text.rstrip("Z")).to_pydatetime()
    except (ValueError, TypeError):
        return None


def timeline(session: Session, *, limit: int | None = 2000) -> pd.DataFrame:
    """Every recorded action, newest first.

    Parameters
    ----------
    session : Session
    limit : int or None
        Keep the newest ``limit`` rows (None: all).

    Returns
    -------
    DataFrame
        :data:`COLUMNS`: ``at`` (naive UTC), ``who`` (user name; empty when
        the source records none, as the ledger), ``source`` (one of
        :data:`SOURCES`), ``action`` (a code: ``round_created``,
        ``round_approved``, ..., ``delivery_confirmed``, ``write_off``,
        ``ledger_<event>``, ``published``, or the event log's outcome),
        ``subject`` (round, trip, lot or donation id) and ``detail``.

    Examples
    --------
    >>> from allocator.store import memory_store, transaction, add_user
    >>> from allocator.store.auth import login
    >>> with transaction(memory_store()) as s:
    ...     _ = add_user(s, "li", "pw")
    ...     _ = login(s, "li", "pw")
    ...     timeline(s)[["who", "source", "action"]].values.tolist()
    [['li', 'event', 'ok']]
    """
    rows: list[dict[str, Any]] = []

    def add(at: datetime | None, who: str | None, source: str, action: str, subject: Any = "", detail: Any = "") -> None:
        if at is not None:
            rows.append({"at": at, "who": who or "", "source": source, "action": action,
                         "subject": "" if subject is None else str(subject), "detail": "" if detail is None else str(detail)})

    for r in session.scalars(select(m.Round)):
        rid = f"#{r.id}"
        add(r.created_at, r.created_by, "round", "round_created", rid, r.scenario_name)
        add(r.approved_at, r.approved_by, "round", "round_approved", rid)
        add(r.dispatched_at, r.dispatched_by, "round", "round_dispatched", rid)
        add(r.delivered_at, "", "round", "round_delivered", rid)
        add(r.cancelled_at, r.cancelled_by, "round", "round_cancelled", rid, r.cancel_reason)
    for d in session.scalars(select(m.Delivery)):
        detail = f"{d.received}/{d.shipped}" + (f" {d.discrepancy}" if d.discrepancy else "")
        add(d.confirmed_at, d.confirmed_by, "delivery", "delivery_confirmed",
            f"trip {d.trip_id}" if d.trip_id else f"line {d.allocation_id}", detail)
    for w in session.scalars(select(m.WriteOff)):
        add(w.at, w.by, "write_off", "write_off", w.lot_id, f"{w.quantity} {w.reason}")
    for e in session.scalars(select(m.LedgerEntry)):
        body = json.loads(e.body)
        detail = " ".join(f"{k}={body[k]}" for k in ("lot_id", "item_id", "site_id", "quantity", "result", "reason")
                          if body.get(k) not in (None, "", 0))
        add(_ledger_at(e.at), "", "ledger", f"ledger_{e.event}", e.donation_id, detail)
    for p in session.scalars(select(m.Publication)):
        add(p.at, p.by, "publication", "published", p.out_dir, f"seq {p.head_seq}")
    for ev in session.scalars(select(m.LoginEvent)):
        add(ev.at, ev.user_name, "event", ev.outcome, ev.client, ev.detail)
    df = pd.DataFrame(rows, columns=COLUMNS)
    if len(df):
        df = df.sort_values("at", ascending=False, kind="stable").reset_index(drop=True)
    return df if limit is None else df.head(limit)
