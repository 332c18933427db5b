"""ledger: reference codes, receiver sites, attested deliveries, chained and signed publications

Plain ``ADD COLUMN`` (no table rebuild: SQLite would drop a referenced table
with foreign keys on) and a unique index for reference codes.

Revision ID: 0003_ledger
Revises: 0002_app
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_ledger"
down_revision: str | None = "0002_app"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUB = (
    ("version", sa.String(length=200), ""),
    ("prev_seq", sa.BigInteger(), "0"),
    ("prev_hash", sa.String(length=64), ""),
    ("manifest_sha256", sa.String(length=64), ""),
    ("public_key", sa.String(length=64), ""),
)


def upgrade() -> None:
    op.add_column("donations", sa.Column("reference_code", sa.String(length=40), nullable=True))
    op.create_index(op.f("ix_donations_reference_code"), "donations", ["reference_code"], unique=True)
    # users.site_id and the receiver role come with 0002_app
    op.add_column("deliveries", sa.Column("confirmed_as", sa.String(length=20), server_default="dispatch",
                                          nullable=False))
    for name, type_, default in _PUB:
        op.add_column("publications", sa.Column(name, type_, server_default=default, nullable=False))


def downgrade() -> None:
    for name, _t, _d in reversed(_PUB):
        op.drop_column("publications", name)
    op.drop_column("deliveries", "confirmed_as")
    op.drop_index(op.f("ix_donations_reference_code"), table_name="donations")
    op.drop_column("donations", "reference_code")
