"""the delivery promise's stored tentative plans, one per (depot, day), rebuilt in the background

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tentative_plans",
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("solved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("insertion_cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("unassigned", sa.BigInteger(), nullable=False),
        sa.Column("solving_until", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_tentative_plans_depot_id_depots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("depot_id", "day", name=op.f("pk_tentative_plans")),
    )


def downgrade() -> None:
    op.drop_table("tentative_plans")
