"""The store's clock: naive UTC datetimes to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, without tzinfo (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(dt: datetime | None) -> str:
    """ISO 8601 text of a stored timestamp, with a ``Z`` (UTC); empty for None."""
    return "" if dt is None else dt.isoformat(timespec="microseconds") + "Z"
