"""a customer account's people: a role in the account and an approval limit per customer user (existing customer
users run their account: account_admin)

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_role", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("approval_limit_minor", sa.BigInteger(), nullable=True))
    op.execute("UPDATE users SET customer_role = 'account_admin' WHERE role = 'customer'")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("approval_limit_minor")
        batch_op.drop_column("customer_role")
