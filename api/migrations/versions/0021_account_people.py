"""a customer account's people: a role in the account and an approval limit per customer user (existing customer
users run their account: account_admin); standing orders and their occurrences (one run per delivery day)

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_role", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("approval_limit_minor", sa.BigInteger(), nullable=True))
    op.execute("UPDATE users SET customer_role = 'account_admin' WHERE role = 'customer'")
    op.create_table(
        "standing_orders",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("product_code", sa.String(length=32), nullable=False),
        sa.Column("quantity_litres", sa.BigInteger(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.String(length=5), nullable=False),
        sa.Column("window_end", sa.String(length=5), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer_accounts.id"],
            name=op.f("fk_standing_orders_customer_id_customer_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_standing_orders_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_standing_orders_product_code_products")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_standing_orders_created_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standing_orders")),
    )
    with op.batch_alter_table("standing_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_standing_orders_customer_id"), ["customer_id"], unique=False)
    op.create_table(
        "standing_order_runs",
        sa.Column("standing_order_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_date", sa.Date(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["standing_order_id"],
            ["standing_orders.id"],
            name=op.f("fk_standing_order_runs_standing_order_id_standing_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_standing_order_runs_order_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standing_order_runs")),
        sa.UniqueConstraint(
            "standing_order_id", "delivery_date", name=op.f("uq_standing_order_runs_standing_order_id_delivery_date")
        ),
    )


def downgrade() -> None:
    op.drop_table("standing_order_runs")
    with op.batch_alter_table("standing_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_standing_orders_customer_id"))
    op.drop_table("standing_orders")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("approval_limit_minor")
        batch_op.drop_column("customer_role")
