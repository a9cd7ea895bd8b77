"""cached daily tier on customer accounts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 20:04:10.034560
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The discount tier of one UTC day (orders.accounts.tier_of_the_day), so orders stop summing the history.
    with op.batch_alter_table('customer_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('tier_day', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('customer_accounts', schema=None) as batch_op:
        batch_op.drop_column('tier_day')
        batch_op.drop_column('tier')
