"""a planning job's start: cold (the planner's own first plan) or tentative (the delivery promise's tentative plan)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_from", sa.String(length=12), server_default="cold", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("plan_jobs", schema=None) as batch_op:
        batch_op.drop_column("start_from")
