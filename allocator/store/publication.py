"""Publication as part of the workflow: when the last snapshot was published, and what is not in it yet.

The officers' app offers to publish after each delivery confirmation, shows
how long ago the last snapshot was published, and its overview alerts when a
donation received more than a day ago is in no published snapshot
(:func:`publication_status`). :func:`publish_now` publishes into the folder the
public page reads (:func:`public_root`).

Examples
--------
>>> from allocator import examples
>>> from allocator.store import memory_store, transaction, import_scenario
>>> eng = memory_store()
>>> with transaction(eng) as s:
...     _ = import_scenario(s, examples.donated_city())
...     st = publication_status(s)
>>> st.last_at is None, st.unpublished_entries > 0, sorted(st.unpublished_donations)
(True, True, ['DON_A', 'DON_B'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocator.store import models as m
from allocator.store.time import utcnow

__all__ = ["PublicationStatus", "publication_status", "publish_now", "public_root", "DEFAULT_PUBLIC_DIR", "STALE_AFTER"]

#: Where the app publishes snapshots and the public page reads them, unless
#: ``ALLOCATOR_PUBLIC_DIR`` names another folder.
DEFAULT_PUBLIC_DIR = Path("var") / "public"


def public_root() -> Path:
    """The folder of published snapshots the public page reads (``$ALLOCATOR_PUBLIC_DIR`` or ``var/public``)."""
    import os

    return Path(os.environ.get("ALLOCATOR_PUBLIC_DIR") or DEFAULT_PUBLIC_DIR)


#: A donation received longer ago than this and in no snapshot is an alert.
STALE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class PublicationStatus:
    """The last publication and what the ledger holds beyond it.

    Attributes
    ----------
    last_at : datetime or None
        When the last snapshot was published (UTC), None when never.
    last_seq, head_seq : int
        The last published head and the ledger's head now.
    unpublished_entries : int
        Ledger entries in no snapshot yet.
    unpublished_donations : list of str
        Donations pledged after the last snapshot.
    overdue_donations : list of str
        Of those, the ones recorded more than :data:`STALE_AFTER` ago (the overview's alert).
    """

    last_at: datetime | None
    last_seq: int
    head_seq: int
    unpublished_entries: int
    unpublished_donations: list[str] = field(default_factory=list)
    overdue_donations: list[str] = field(default_factory=list)

    def age(self, now: datetime | None = None) -> timedelta | None:
        """How long ago the last snapshot was published."""
        return None if self.last_at is None else (now or utcnow()) - self.last_at


def _parse(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def publication_status(session: Session, *, now: datetime | None = None) -> PublicationStatus:
    """When the last snapshot was published and which donations are in none yet."""
    now = now or utcnow()
    last = session.scalars(select(m.Publication).order_by(m.Publication.head_seq.desc(), m.Publication.id.desc())
                           ).first()
    last_seq = int(last.head_seq) if last is not None else 0
    head_seq = int(session.scalar(select(func.max(m.LedgerEntry.seq))) or 0)
    newer = session.execute(select(m.LedgerEntry.donation_id, m.LedgerEntry.at)
                            .where(m.LedgerEntry.seq > last_seq, m.LedgerEntry.event == "pledged")
                            .order_by(m.LedgerEntry.seq)).all()
    pending = [str(d) for d, _ in newer]
    overdue = [str(d) for d, at in newer if (t := _parse(str(at))) is not None and now - t > STALE_AFTER]
    return PublicationStatus(last_at=None if last is None else last.at, last_seq=last_seq, head_seq=head_seq,
                             unpublished_entries=max(0, head_seq - last_seq), unpublished_donations=pending,
                             overdue_donations=overdue)


def publish_now(session: Session, *, by: str, out_dir: str | Path | None = None) -> Any:
    """Publish a snapshot where the public page reads it.

    The caller commits; the published folder's link flips when the transaction
    commits (see :func:`allocator.ledger.publish`).
    """
    from allocator.store.ledger import publish

    return publish(session, Path(out_dir) if out_dir is not None else public_root(), by=by)
