"""pricing: prices hold from valid_from, contract prices per customer, the tier table

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The bands of PRODUCT.md (under 20 t, 20-50, 50-100, 100-500, over 500 t) with the discounts used so far.
DEFAULT_TIERS = [(0, 0), (20, 100), (50, 200), (100, 300), (500, 400)]


def upgrade() -> None:
    # A price no longer belongs to one day: it holds from that day until replaced.
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_constraint("uq_prices_depot_id_product_code_date", type_="unique")
        batch_op.alter_column("date", new_column_name="valid_from", existing_type=sa.Date(), existing_nullable=False)
    with op.batch_alter_table("prices", schema=None) as batch_op:  # SQLite: after the rename, in a second copy
        batch_op.create_unique_constraint(
            batch_op.f("uq_prices_depot_id_product_code_valid_from"), ["depot_id", "product_code", "valid_from"]
        )

    op.create_table(
        "contract_prices",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("product_code", sa.String(length=32), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("price_per_litre_minor", sa.BigInteger(), nullable=True),
        sa.Column("discount_per_litre_minor", sa.BigInteger(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(price_per_litre_minor IS NULL) <> (discount_per_litre_minor IS NULL)",
            name=op.f("ck_contract_prices_price_or_discount"),
        ),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_contract_prices_valid_period")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer_accounts.id"],
            name=op.f("fk_contract_prices_customer_id_customer_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_contract_prices_depot_id_depots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_contract_prices_product_code_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_prices")),
    )
    op.create_index(op.f("ix_contract_prices_customer_id"), "contract_prices", ["customer_id"], unique=False)

    tier_bands = op.create_table(
        "tier_bands",
        sa.Column("from_tonnes", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("discount_bps", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("from_tonnes", name=op.f("pk_tier_bands")),
    )
    op.bulk_insert(tier_bands, [{"from_tonnes": t, "discount_bps": bps} for t, bps in DEFAULT_TIERS])


def downgrade() -> None:
    op.drop_table("tier_bands")
    op.drop_index(op.f("ix_contract_prices_customer_id"), table_name="contract_prices")
    op.drop_table("contract_prices")
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_constraint("uq_prices_depot_id_product_code_valid_from", type_="unique")
        batch_op.alter_column("valid_from", new_column_name="date", existing_type=sa.Date(), existing_nullable=False)
    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_prices_depot_id_product_code_date"), ["depot_id", "product_code", "date"]
        )
