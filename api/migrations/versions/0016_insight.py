"""insight: account managers on users and customers, the quote log, visits, the ladder's bands, monthly sales

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manager', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('manager_level', sa.String(length=20), nullable=True))
    with op.batch_alter_table('customer_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manager_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customer_accounts_manager_id'), ['manager_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_customer_accounts_manager_id_users'), 'users', ['manager_id'], ['id'], ondelete='SET NULL'
        )
    op.create_table(
        'quote_log',
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('site_id', sa.Uuid(), nullable=False),
        sa.Column('depot_id', sa.Uuid(), nullable=False),
        sa.Column('product_code', sa.String(length=32), nullable=False),
        sa.Column('quantity_litres', sa.BigInteger(), nullable=False),
        sa.Column('price_per_litre_minor', sa.BigInteger(), nullable=False),
        sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customer_accounts.id'],
            name=op.f('fk_quote_log_customer_id_customer_accounts'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_log')),
    )
    op.create_index('ix_quote_log_customer_at', 'quote_log', ['customer_id', 'at'], unique=False)
    op.create_table(
        'visits',
        sa.Column('manager_id', sa.Uuid(), nullable=False),
        sa.Column('site_id', sa.Uuid(), nullable=False),
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('dormant_since', core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_order_at', core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customer_accounts.id'],
            name=op.f('fk_visits_customer_id_customer_accounts'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_visits_manager_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_visits_site_id_sites'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
        sa.UniqueConstraint('manager_id', 'site_id', 'day', name=op.f('uq_visits_manager_id_site_id_day')),
    )
    op.create_index('ix_visits_manager_at', 'visits', ['manager_id', 'at'], unique=False)
    op.create_index('ix_visits_customer_at', 'visits', ['customer_id', 'at'], unique=False)
    op.create_table(
        'customer_bands',
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('band', sa.String(length=10), nullable=False),
        sa.Column('net_kg', sa.BigInteger(), nullable=False),
        sa.Column('since', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('checked_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customer_accounts.id'],
            name=op.f('fk_customer_bands_customer_id_customer_accounts'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_bands')),
    )
    op.create_table(
        'sales_months',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('depot_id', sa.Uuid(), nullable=True),
        sa.Column('product_code', sa.String(length=32), nullable=False),
        sa.Column('product_name', sa.String(length=120), nullable=False),
        sa.Column('net_litres', sa.BigInteger(), nullable=False),
        sa.Column('net_kg', sa.BigInteger(), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('charges', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customer_accounts.id'],
            name=op.f('fk_sales_months_customer_id_customer_accounts'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_months')),
    )
    op.create_index('ix_sales_months_month_customer', 'sales_months', ['month', 'customer_id'], unique=False)
    op.create_index('ix_charges_at', 'charges', ['at'], unique=False)
    op.create_table(
        'rollup_state',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('through', sa.Date(), nullable=False),
        sa.Column('refreshed_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_rollup_state')),
    )


def downgrade() -> None:
    op.drop_table('rollup_state')
    op.drop_index('ix_charges_at', table_name='charges')
    op.drop_table('sales_months')
    op.drop_table('customer_bands')
    op.drop_table('visits')
    op.drop_table('quote_log')
    with op.batch_alter_table('customer_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_customer_accounts_manager_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_customer_accounts_manager_id'))
        batch_op.drop_column('manager_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('manager_level')
        batch_op.drop_column('manager')
