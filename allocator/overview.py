"""What the officers' Overview page shows, computed from the store and the scenario (no UI here).

Every function returns plain DataFrames or dataclasses with ids and codes;
the app renders them in the reader's language.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocator.store import models as m

__all__ = ["data_fingerprint"]


def data_fingerprint(session: Session) -> str:
    """A short fingerprint of everything the current scenario depends on.

    It changes when a scenario is imported or edited, when the ledger grows
    (donations, inspections, write-offs), and when a round, trip or delivery
    changes state (reservations move the available stock). Caches key on it.

    Examples
    --------
    >>> from allocator.store import memory_store, transaction
    >>> with transaction(memory_store()) as s:
    ...     len(data_fingerprint(s))
    16
    """
    info = session.get(m.ScenarioInfo, 1)
    head = session.get(m.LedgerHead, 1)
    parts = [
        "" if info is None or info.imported_at is None else info.imported_at.isoformat(),
        "" if head is None else f"{head.seq}:{head.hash}",
        session.scalar(select(func.count()).select_from(m.Round)),
        session.scalar(select(func.coalesce(func.sum(m.Round.version), 0))),
        session.scalar(select(func.count()).select_from(m.Trip)),
        session.scalar(select(func.count()).select_from(m.Delivery)),
        session.scalar(select(func.count()).select_from(m.WriteOff)),
        session.scalar(select(func.coalesce(func.sum(m.Lot.quantity), 0))),
        session.scalar(select(func.count()).select_from(m.Lot)),
    ]
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]
