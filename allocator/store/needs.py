"""Needs served once: each request's outstanding quantity in the system of record.

A need is a request for a period (``allocation-rules.md``, "Rounds in the
system of record"). Once a round is approved its units count against the
requests it serves; the next round allocates only what is still outstanding:

    outstanding = requested - covered
    covered     = sum over lines of approved, dispatched or delivered rounds
                  made after the request, of (units shipped - units not
                  received on delivery) / substitute ratio

A cancelled round covers nothing (its units go back). A new request for a
(site, item) -- a needs import with a different quantity, or an edit --
replaces the outstanding need: the old request is kept (retired, with the
time it was superseded) and rounds count against the new one from then on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocator.store import models as m

#: Round states whose units count against the needs they serve.
COVERING_STATES = ("approved", "dispatched", "delivered")
COVERAGE_COLUMNS = ["site_id", "item_id", "requested", "covered", "outstanding", "since_round", "rounds"]
_TOL = 1e-9


@dataclass
class NeedChanges:
    """What a needs import did to the stored requests."""

    added: list[tuple[str, str]] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    withdrawn: list[tuple[str, str]] = field(default_factory=list)


def last_round_id(session: Session) -> int:
    """The highest round id so far (0 when there is none)."""
    return int(session.scalar(select(func.max(m.Round.id))) or 0)


def active_needs(session: Session) -> list[m.Need]:
    """The requests in force, in file order."""
    q = select(m.Need).where(m.Need.retired.is_(False)).order_by(m.Need.position, m.Need.id)
    return list(session.scalars(q))


def store_needs(session: Session, records: Iterable[tuple[dict[str, Any], dict[str, str]]],
                now: datetime) -> NeedChanges:
    """Store a needs table: unchanged requests keep what earlier rounds cover, changed ones start afresh.

    Parameters
    ----------
    records : iterable of (columns, extras)
        One per needs row in file order: the contract's columns as Python
        values and the extra columns as text.
    now : datetime
        When the new requests were made (also when old ones are superseded).
    """
    active: dict[tuple[str, str], m.Need] = {}
    for n in active_needs(session):
        active.setdefault((n.site_id, n.item_id), n)
    since = last_round_id(session)
    seen: set[tuple[str, str]] = set()
    out = NeedChanges()
    for pos, (cols, extra) in enumerate(records):
        key = (str(cols["site_id"]), str(cols["item_id"]))
        old = None if key in seen else active.get(key)
        seen.add(key)
        if old is not None and int(old.quantity) == int(cols["quantity"]):
            old.position, old.extra = pos, extra
            out.kept.append(key)
            continue
        if old is not None:
            old.retired, old.superseded_at = True, now
            out.replaced.append(key)
        else:
            out.added.append(key)
        session.add(m.Need(**cols, extra=extra, position=pos, since_round=since, requested_at=now,
                           retired=False))
    for key, n in active.items():
        if key not in seen:
            n.retired, n.superseded_at = True, now
            out.withdrawn.append(key)
    session.flush()
    return out


def _ratios(session: Session) -> dict[tuple[str, str], float]:
    out = {}
    for s in session.scalars(select(m.Substitute)):
        out[(s.item_id, s.substitute_id)] = float(s.ratio)
    return out


def coverage(session: Session) -> pd.DataFrame:
    """Per request in force: requested, covered by earlier rounds, outstanding, and which rounds.

    Returns
    -------
    DataFrame
        Columns :data:`COVERAGE_COLUMNS`, one row per active need in file
        order; ``outstanding`` is a whole number (a fraction of a unit still
        owed counts as one), ``rounds`` the ids of the covering rounds joined
        by ``;``.

    Examples
    --------
    >>> from allocator import examples
    >>> from allocator.store import memory_store, transaction, import_scenario
    >>> with transaction(memory_store()) as s:
    ...     _ = import_scenario(s, examples.two_hospitals())
    ...     int(coverage(s).covered.sum())
    0
    """
    needs = active_needs(session)
    ratio = _ratios(session)
    deliveries = {d.allocation_id: d for d in session.scalars(select(m.Delivery))}
    q = (select(m.Allocation).join(m.Round, m.Round.id == m.Allocation.round_id)
         .where(m.Round.state.in_(COVERING_STATES)))
    lines: dict[tuple[str, str], list[m.Allocation]] = defaultdict(list)
    for a in session.scalars(q):
        lines[(a.site_id, a.need_item_id or a.item_id)].append(a)
    rows = []
    for n in needs:
        covered, rounds = 0.0, set()
        for a in lines.get((n.site_id, n.item_id), []):
            if a.round_id <= n.since_round:
                continue
            d = deliveries.get(a.id)
            got = a.quantity if d is None else d.received
            r = 1.0 if a.item_id == n.item_id else ratio.get((n.item_id, a.item_id), 1.0)
            covered += got / r
            rounds.add(a.round_id)
        left = max(0, math.ceil(n.quantity - covered - _TOL))
        rows.append({
            "site_id": n.site_id, "item_id": n.item_id, "requested": int(n.quantity),
            "covered": round(covered, 6), "outstanding": int(left), "since_round": int(n.since_round),
            "rounds": ";".join(str(i) for i in sorted(rounds)),
        })
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def outstanding(session: Session) -> dict[tuple[str, str], int]:
    """``(site_id, item_id) -> units still outstanding`` for every request in force."""
    cov = coverage(session)
    return {(str(r.site_id), str(r.item_id)): int(o) for r, o in zip(cov.itertuples(index=False), cov.outstanding)}
