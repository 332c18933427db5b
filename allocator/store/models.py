"""Database tables (SQLAlchemy 2 typed models).

Scenario entities (items, sites, depots, lots, donations, needs, substitutes)
get one column per contract column plus ``extra`` (the extra columns of the
file, kept for the round trip); the network tables (road_nodes, roads,
traffic_control, vehicles, site_stock) are stored generically, one row per
file row, every cell kept as the contract's text so nothing is lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Roles a user may hold.
ROLES = ("officer", "approver", "admin", "receiver")
#: Kinds of delivery discrepancy.
DISCREPANCIES = ("short", "damaged", "wrong_item")
#: What happens to units that did not arrive as shipped.
DISPOSITIONS = ("returned", "written_off")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        str: String(200),
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=False),
    }


# --------------------------------------------------------------------------- scenario


class ScenarioInfo(Base):
    """The one row describing the stored scenario: name, as_of, which files were given."""

    __tablename__ = "scenario_info"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, default="scenario")
    description: Mapped[str] = mapped_column(Text, default="")
    as_of: Mapped[datetime | None]
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: {table: [column, ...]} for every table the scenario gives, columns in file order
    tables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[datetime | None]


class Item(Base):
    __tablename__ = "items"
    item_id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str]
    grade: Mapped[str]
    unit: Mapped[str]
    unit_weight_kg: Mapped[float] = mapped_column(Float)
    unit_volume_l: Mapped[float | None] = mapped_column(Float)
    pack_size: Mapped[int] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class Site(Base):
    __tablename__ = "sites"
    site_id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str]
    tier: Mapped[int] = mapped_column(Integer)
    clinical: Mapped[bool] = mapped_column(Boolean)
    district: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    node_id: Mapped[str] = mapped_column(default="")
    beds: Mapped[int | None] = mapped_column(BigInteger)
    patients: Mapped[int | None] = mapped_column(BigInteger)
    staff: Mapped[int | None] = mapped_column(BigInteger)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class Depot(Base):
    __tablename__ = "depots"
    depot_id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    node_id: Mapped[str] = mapped_column(default="")
    dispatch_capacity_kg: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class Donation(Base):
    __tablename__ = "donations"
    donation_id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    donor: Mapped[str] = mapped_column(Text)
    #: publish the donor's name; when false the public ledger says "anonymous"
    publish_name: Mapped[bool] = mapped_column(Boolean, default=True)
    received: Mapped[datetime | None]
    earmark_site_id: Mapped[list[Any]] = mapped_column(JSON, default=list)
    earmark_kind: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the public reference code the donor keeps (receipts, ledger ``pledged`` entry)
    reference_code: Mapped[str | None] = mapped_column(String(40), unique=True, index=True)


class Lot(Base):
    """A lot of stock. ``quantity`` is what is physically in the depot now."""

    __tablename__ = "lots"
    lot_id: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.depot_id"))
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: every unit ever received into this lot (imports that raise the count add to it)
    received_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    expires: Mapped[datetime | None]
    status: Mapped[str]
    donation_id: Mapped[str | None] = mapped_column(ForeignKey("donations.donation_id"))
    source: Mapped[str]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class Need(Base):
    __tablename__ = "needs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.site_id"))
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: rounds with a higher id count against this request (the last round id when it was made)
    since_round: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime | None]
    #: a later request of the same (site, item) replaced this one (kept for history)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    superseded_at: Mapped[datetime | None]


class StockAdjustment(Base):
    """A counted difference found by a stock take (an import into a database that has stock)."""

    __tablename__ = "stock_adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.lot_id"), index=True)
    #: what the books said was on hand, and what was counted
    book: Mapped[int] = mapped_column(BigInteger)
    counted: Mapped[int] = mapped_column(BigInteger)
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str]
    at: Mapped[datetime]


class DonorChange(Base):
    """A donor's later change of name or of consent to be named (the old value is kept here)."""

    __tablename__ = "donor_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    donation_id: Mapped[str] = mapped_column(ForeignKey("donations.donation_id"), index=True)
    field: Mapped[str] = mapped_column(String(40))  # donor | publish_name
    old: Mapped[str] = mapped_column(Text)
    new: Mapped[str] = mapped_column(Text)
    by: Mapped[str]
    at: Mapped[datetime]


class Substitute(Base):
    __tablename__ = "substitutes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    substitute_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    ratio: Mapped[float] = mapped_column(Float)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TableRow(Base):
    """One row of a network table (road_nodes, roads, traffic_control, vehicles, site_stock).

    ``cells`` holds every column as the contract's text, so the round trip is exact.
    """

    __tablename__ = "table_rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(40), index=True)
    position: Mapped[int] = mapped_column(Integer)
    cells: Mapped[dict[str, Any]] = mapped_column(JSON)


# --------------------------------------------------------------------------- users


class Role(Base):
    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    #: the site a receiver confirms deliveries for (None for other roles)
    site_id: Mapped[str | None] = mapped_column(String(200), default=None)


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"), primary_key=True)


class LoginThrottle(Base):
    """Failed-login counter of one user name or one client (kept across restarts)."""

    __tablename__ = "login_throttle"
    #: ``user`` or ``client``
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class LoginEvent(Base):
    """One login attempt, logout or expiry, or an app action no other table records (an import,
    a user's creation, a password reset): who, from where, when, what."""

    __tablename__ = "login_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_name: Mapped[str] = mapped_column(String(200))
    client: Mapped[str] = mapped_column(String(200), default="")
    #: ok | bad_credentials | throttled | logout | expired | rehashed, or an action
    #: (user_added, password_reset, roles_set, user_disabled, user_enabled, data_imported, data_edited)
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")


# --------------------------------------------------------------------------- rounds


class Round(Base):
    """An allocation round and its workflow: draft -> approved -> dispatched -> delivered."""

    __tablename__ = "rounds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(20), default="draft")
    #: optimistic-concurrency version, raised on every state change
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: fingerprint of the available stock the round was computed on
    stock_fingerprint: Mapped[str] = mapped_column(String(64))
    scenario_name: Mapped[str] = mapped_column(Text, default="")
    as_of: Mapped[datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fill: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    approved_by: Mapped[str | None]
    approved_at: Mapped[datetime | None]
    dispatched_by: Mapped[str | None]
    dispatched_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(Text, default="")


class Trip(Base):
    """One truck run of a round from a depot to a site (one per depot-site pair by default)."""

    __tablename__ = "trips"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.depot_id"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.site_id"))
    vehicle_id: Mapped[str] = mapped_column(default="")
    state: Mapped[str] = mapped_column(String(20), default="planned")
    dispatched_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None]
    confirmed_at: Mapped[datetime | None]


class Allocation(Base):
    """One line of a round's allocations.csv."""

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.lot_id"))
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.depot_id"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.site_id"))
    item_id: Mapped[str] = mapped_column(ForeignKey("items.item_id"))
    need_item_id: Mapped[str]
    quantity: Mapped[int] = mapped_column(BigInteger)
    travel_min: Mapped[float | None] = mapped_column(Float)
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("trips.id"))


class Delivery(Base):
    """What a site confirmed for one allocation line; a discrepancy says where the rest went."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), unique=True)
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("trips.id"))
    shipped: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger)
    discrepancy: Mapped[str] = mapped_column(String(20), default="")
    returned: Mapped[int] = mapped_column(BigInteger, default=0)
    written_off: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    confirmed_by: Mapped[str]
    confirmed_at: Mapped[datetime]
    #: ``site`` (the receiving site's receiver user confirmed) or ``dispatch`` (an officer did)
    confirmed_as: Mapped[str] = mapped_column(String(20), default="dispatch", server_default="dispatch")


class DeliveryRevision(Base):
    """A confirmed delivery as it was before a correction superseded it (both are kept)."""

    __tablename__ = "delivery_revisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    received: Mapped[int] = mapped_column(BigInteger)
    discrepancy: Mapped[str] = mapped_column(String(20), default="")
    returned: Mapped[int] = mapped_column(BigInteger, default=0)
    written_off: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    confirmed_by: Mapped[str]
    confirmed_at: Mapped[datetime]
    superseded_by: Mapped[str]
    superseded_at: Mapped[datetime]
    correction_reason: Mapped[str] = mapped_column(Text, default="")


class WriteOff(Base):
    """Units written off, from a lot in stock or from a delivery discrepancy."""

    __tablename__ = "write_offs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.lot_id"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    origin: Mapped[str] = mapped_column(String(20))  # stock | delivery
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str]
    at: Mapped[datetime]


# --------------------------------------------------------------------------- ledger


class LedgerHead(Base):
    """The one row holding the chain's head; locked by every append so appends never race."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class LedgerEntry(Base):
    """One event of a donation's life, hash-chained to the previous one (append-only)."""

    __tablename__ = "ledger"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(20))
    donation_id: Mapped[str] = mapped_column(index=True)
    lot_id: Mapped[str] = mapped_column(default="")
    item_id: Mapped[str] = mapped_column(default="")
    site_id: Mapped[str] = mapped_column(default="")
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    #: canonical JSON of every event field (what is hashed, with seq and prev_hash)
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Publication(Base):
    __tablename__ = "publications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    out_dir: Mapped[str] = mapped_column(Text)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(default="")
    #: the versioned folder (beside ``out_dir``) that ``out_dir`` points to
    version: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: the head of the publication before this one (0 and "" for the first)
    prev_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    prev_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: SHA-256 of the published manifest.json and the Ed25519 public key that signed it
    manifest_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    public_key: Mapped[str] = mapped_column(String(64), default="", server_default="")

    __table_args__ = (UniqueConstraint("at", "out_dir"),)
