"""a contract's discount per litre on orders and pickup bookings

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('orders', 'pickup_bookings'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('discount_per_litre_minor', sa.BigInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    for table in ('orders', 'pickup_bookings'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('discount_per_litre_minor')
