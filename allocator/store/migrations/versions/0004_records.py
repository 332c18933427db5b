"""records: needs served once (request history), stock takes, donor changes, delivery corrections

Revision ID: 0004_records
Revises: 0001
Create Date: 2026-12-01 21:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_records"
down_revision: str | None = "0003_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("needs") as b:
        b.add_column(sa.Column("since_round", sa.Integer(), nullable=False, server_default="0"))
        b.add_column(sa.Column("requested_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("retired", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("superseded_at", sa.DateTime(), nullable=True))
    op.create_table(
        "stock_adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.String(length=200), nullable=False),
        sa.Column("book", sa.BigInteger(), nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.lot_id"], name=op.f("fk_stock_adjustments_lot_id_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_adjustments")),
    )
    op.create_index(op.f("ix_stock_adjustments_lot_id"), "stock_adjustments", ["lot_id"], unique=False)
    op.create_table(
        "donor_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("donation_id", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old", sa.Text(), nullable=False),
        sa.Column("new", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["donation_id"], ["donations.donation_id"],
                                name=op.f("fk_donor_changes_donation_id_donations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donor_changes")),
    )
    op.create_index(op.f("ix_donor_changes_donation_id"), "donor_changes", ["donation_id"], unique=False)
    op.create_table(
        "delivery_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("discrepancy", sa.String(length=20), nullable=False),
        sa.Column("returned", sa.BigInteger(), nullable=False),
        sa.Column("written_off", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=200), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=False),
        sa.Column("superseded_by", sa.String(length=200), nullable=False),
        sa.Column("superseded_at", sa.DateTime(), nullable=False),
        sa.Column("correction_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocations.id"],
                                name=op.f("fk_delivery_revisions_allocation_id_allocations")),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_delivery_revisions_delivery_id_deliveries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_revisions")),
    )
    op.create_index(op.f("ix_delivery_revisions_delivery_id"), "delivery_revisions", ["delivery_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_revisions_delivery_id"), table_name="delivery_revisions")
    op.drop_table("delivery_revisions")
    op.drop_index(op.f("ix_donor_changes_donation_id"), table_name="donor_changes")
    op.drop_table("donor_changes")
    op.drop_index(op.f("ix_stock_adjustments_lot_id"), table_name="stock_adjustments")
    op.drop_table("stock_adjustments")
    with op.batch_alter_table("needs") as b:
        b.drop_column("superseded_at")
        b.drop_column("retired")
        b.drop_column("requested_at")
        b.drop_column("since_round")
