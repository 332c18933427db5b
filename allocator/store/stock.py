"""Stock questions every part of the store asks (kept apart so the ledger and the scenario import need not import each other)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocator.store import models as m


def reserved_by_lot(session: Session) -> dict[str, int]:
    """Units reserved per lot by approved (not yet dispatched) rounds."""
    q = (
        select(m.Allocation.lot_id, func.sum(m.Allocation.quantity))
        .join(m.Round, m.Round.id == m.Allocation.round_id)
        .where(m.Round.state == "approved")
        .group_by(m.Allocation.lot_id)
    )
    return {lot: int(n) for lot, n in session.execute(q)}
