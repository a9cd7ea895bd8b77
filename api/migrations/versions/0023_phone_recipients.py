"""notifications to a bare phone number (the truck driver's pickup pass): a recipient kind, user_id optional, one
message per (source, channel, phone)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PHONE_ONLY = sa.text("user_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient", sa.String(length=10), server_default="user", nullable=False))
        batch_op.alter_column("user_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_check_constraint(
            "recipient",
            "(recipient = 'user' AND user_id IS NOT NULL) OR (recipient = 'phone' AND user_id IS NULL)",
        )
        batch_op.create_index(
            "ux_notifications_phone",
            ["source_key", "channel", "address"],
            unique=True,
            postgresql_where=PHONE_ONLY,
            sqlite_where=PHONE_ONLY,
        )


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE user_id IS NULL")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ux_notifications_phone", postgresql_where=PHONE_ONLY, sqlite_where=PHONE_ONLY)
        batch_op.drop_constraint(batch_op.f("ck_notifications_recipient"), type_="check")
        batch_op.alter_column("user_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("recipient")
