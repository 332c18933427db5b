"""receivers: the receiver role and the sites each receiver confirms deliveries for

Revision ID: 0002_app_ops
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_app_ops"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receiver_sites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.site_id"], name=op.f("fk_receiver_sites_site_id_sites")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_receiver_sites_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "site_id", name=op.f("pk_receiver_sites")),
    )
    # another branch may add the receiver role too: insert it only when missing
    conn = op.get_bind()
    roles = sa.table("roles", sa.column("name", sa.String))
    if conn.execute(sa.select(roles.c.name).where(roles.c.name == "receiver")).first() is None:
        op.bulk_insert(roles, [{"name": "receiver"}])


def downgrade() -> None:
    op.drop_table("receiver_sites")
    conn = op.get_bind()
    user_roles = sa.table("user_roles", sa.column("role", sa.String))
    if conn.execute(sa.select(user_roles.c.role).where(user_roles.c.role == "receiver")).first() is None:
        roles = sa.table("roles", sa.column("name", sa.String))
        op.execute(roles.delete().where(roles.c.name == "receiver"))
