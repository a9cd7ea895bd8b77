"""drop customer_accounts.credit_limit_minor and open_amount_minor: credit comes from the ledger

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 09:00:00

Since 0011 every customer account has a credit account (same id) holding its limit, its open orders and its
balance; every credit decision reads that. The old columns are dropped. Downgrading puts them back from the
credit accounts: the limit, and open orders + balance as the open amount (what the old column held).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customer_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_customer_accounts_credit_limit_not_negative'), type_='check')
        batch_op.drop_column('open_amount_minor')
        batch_op.drop_column('credit_limit_minor')


def downgrade() -> None:
    with op.batch_alter_table('customer_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credit_limit_minor', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('open_amount_minor', sa.BigInteger(), server_default='0', nullable=False))
    op.execute(
        'UPDATE customer_accounts SET '
        'credit_limit_minor = (SELECT credit_limit_minor FROM credit_accounts c WHERE c.customer_id = customer_accounts.id), '
        'open_amount_minor = (SELECT open_orders_minor + balance_minor FROM credit_accounts c '
        'WHERE c.customer_id = customer_accounts.id) '
        'WHERE id IN (SELECT customer_id FROM credit_accounts)'
    )
    with op.batch_alter_table('customer_accounts', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_customer_accounts_credit_limit_not_negative'), 'credit_limit_minor >= 0')
