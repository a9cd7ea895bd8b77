"""money: credit accounts, the append-only ledger, charges, invoices, credit notes, payments, bank lines, runs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 12:30:00

Every customer account gets a credit account with the same id. Its open orders are the amounts of the confirmed
orders and bookings not yet delivered or loaded; what the old `open_amount_minor` held beyond them (delivered but
unpaid) becomes the account's opening balance: one `adjustment` entry per account, so the ledger's sum equals the
balance from the first day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDER_HOLDS_CREDIT = ('confirmed', 'scheduled', 'loaded', 'en_route')
PICKUP_HOLDS_CREDIT = ('booked', 'loading')


def _uuid(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Uuid(), nullable=nullable)


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, core.db.UTCDateTime(timezone=True), nullable=nullable)


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        'credit_accounts',
        _uuid('customer_id'),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        _money('credit_limit_minor'),
        sa.Column('billing_period', sa.String(length=16), nullable=False),
        sa.Column('payment_terms_days', sa.BigInteger(), nullable=False),
        _money('open_orders_minor'),
        _money('balance_minor'),
        _at('updated_at'),
        sa.CheckConstraint('credit_limit_minor >= 0', name=op.f('ck_credit_accounts_credit_limit_not_negative')),
        sa.ForeignKeyConstraint(['customer_id'], ['customer_accounts.id'], name=op.f('fk_credit_accounts_customer_id_customer_accounts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_credit_accounts')),
    )
    op.create_table(
        'ledger_entries',
        _uuid('customer_id'),
        _at('at'),
        sa.Column('kind', sa.String(length=16), nullable=False),
        _money('amount_minor'),
        _money('balance_minor'),
        sa.Column('currency', sa.String(length=3), nullable=False),
        _uuid('order_id', True),
        _uuid('pickup_id', True),
        _uuid('invoice_id', True),
        _uuid('payment_id', True),
        _uuid('credit_note_id', True),
        _uuid('actor_id', True),
        sa.Column('note', sa.Text(), nullable=True),
        _at('created_at'),
        _uuid('id'),
        sa.ForeignKeyConstraint(['customer_id'], ['credit_accounts.customer_id'], name=op.f('fk_ledger_entries_customer_id_credit_accounts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    )
    op.create_index('ix_ledger_entries_customer_at', 'ledger_entries', ['customer_id', 'at', 'id'], unique=False)
    op.create_index(op.f('ix_ledger_entries_order_id'), 'ledger_entries', ['order_id'], unique=False)
    op.create_index(op.f('ix_ledger_entries_pickup_id'), 'ledger_entries', ['pickup_id'], unique=False)
    op.create_table(
        'charges',
        _uuid('customer_id'),
        _uuid('ledger_entry_id'),
        _at('at'),
        _uuid('order_id', True),
        _uuid('pickup_id', True),
        sa.Column('reference', sa.String(length=24), nullable=False),
        sa.Column('document_number', sa.String(length=40), nullable=False),
        _uuid('depot_id', True),
        sa.Column('product_code', sa.String(length=32), nullable=False),
        sa.Column('product_name', sa.String(length=120), nullable=False),
        sa.Column('observed_litres', sa.BigInteger(), nullable=False),
        sa.Column('temperature_c', sa.Double(), nullable=False),
        sa.Column('net_litres', sa.BigInteger(), nullable=False),
        sa.Column('net_kg', sa.BigInteger(), nullable=False),
        _money('unit_price_minor'),
        _money('gross_minor'),
        _money('discount_minor'),
        _money('amount_minor'),
        sa.Column('tax_rate_bps', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        _uuid('id'),
        sa.CheckConstraint('(order_id IS NULL) <> (pickup_id IS NULL)', name=op.f('ck_charges_one_source')),
        sa.ForeignKeyConstraint(['customer_id'], ['credit_accounts.customer_id'], name=op.f('fk_charges_customer_id_credit_accounts'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], name=op.f('fk_charges_ledger_entry_id_ledger_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_charges')),
        sa.UniqueConstraint('ledger_entry_id', name=op.f('uq_charges_ledger_entry_id')),
        sa.UniqueConstraint('order_id', name=op.f('uq_charges_order_id')),
        sa.UniqueConstraint('pickup_id', name=op.f('uq_charges_pickup_id')),
    )
    op.create_index('ix_charges_customer_at', 'charges', ['customer_id', 'at'], unique=False)
    op.create_table(
        'invoice_series',
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('next_number', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_invoice_series')),
    )
    op.create_table(
        'invoices',
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('series', sa.String(length=20), nullable=False),
        _uuid('customer_id'),
        _uuid('run_id', True),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('issue_date', sa.Date(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('buyer_name', sa.String(length=200), nullable=False),
        sa.Column('buyer_tax_id', sa.String(length=40), nullable=True),
        _money('net_minor'),
        _money('tax_minor'),
        _money('total_minor'),
        _money('paid_minor'),
        _money('credited_minor'),
        sa.Column('currency', sa.String(length=3), nullable=False),
        _at('issued_at'),
        _uuid('id'),
        sa.ForeignKeyConstraint(['customer_id'], ['credit_accounts.customer_id'], name=op.f('fk_invoices_customer_id_credit_accounts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
        sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    )
    op.create_index('ix_invoices_customer_issued', 'invoices', ['customer_id', 'issue_date'], unique=False)
    op.create_table(
        'invoice_lines',
        _uuid('invoice_id'),
        _uuid('charge_id'),
        sa.Column('position', sa.BigInteger(), nullable=False),
        _money('net_minor'),
        _money('tax_minor'),
        _money('amount_minor'),
        _uuid('id'),
        sa.ForeignKeyConstraint(['charge_id'], ['charges.id'], name=op.f('fk_invoice_lines_charge_id_charges')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines')),
        sa.UniqueConstraint('charge_id', name=op.f('uq_invoice_lines_charge_id')),
    )
    op.create_index(op.f('ix_invoice_lines_invoice_id'), 'invoice_lines', ['invoice_id'], unique=False)
    op.create_table(
        'credit_notes',
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('series', sa.String(length=20), nullable=False),
        _uuid('invoice_id'),
        _uuid('customer_id'),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('issue_date', sa.Date(), nullable=False),
        _money('net_minor'),
        _money('tax_minor'),
        _money('total_minor'),
        sa.Column('currency', sa.String(length=3), nullable=False),
        _uuid('issued_by', True),
        _at('issued_at'),
        _uuid('id'),
        sa.ForeignKeyConstraint(['customer_id'], ['credit_accounts.customer_id'], name=op.f('fk_credit_notes_customer_id_credit_accounts'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_credit_notes_invoice_id_invoices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_notes')),
        sa.UniqueConstraint('number', name=op.f('uq_credit_notes_number')),
    )
    op.create_index(op.f('ix_credit_notes_invoice_id'), 'credit_notes', ['invoice_id'], unique=False)
    op.create_table(
        'credit_note_lines',
        _uuid('credit_note_id'),
        _uuid('invoice_line_id'),
        _money('net_minor'),
        _money('tax_minor'),
        _money('amount_minor'),
        _uuid('id'),
        sa.ForeignKeyConstraint(['credit_note_id'], ['credit_notes.id'], name=op.f('fk_credit_note_lines_credit_note_id_credit_notes'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_lines.id'], name=op.f('fk_credit_note_lines_invoice_line_id_invoice_lines')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_note_lines')),
    )
    op.create_index(op.f('ix_credit_note_lines_credit_note_id'), 'credit_note_lines', ['credit_note_id'], unique=False)
    op.create_index(op.f('ix_credit_note_lines_invoice_line_id'), 'credit_note_lines', ['invoice_line_id'], unique=False)
    op.create_table(
        'payment_allocations',
        _uuid('payment_id'),
        _uuid('invoice_id'),
        _money('amount_minor'),
        _uuid('allocated_by', True),
        _at('allocated_at'),
        _uuid('id'),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payment_allocations_amount_positive')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_allocations_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_allocations_payment_id_payments'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_allocations')),
    )
    op.create_index(op.f('ix_payment_allocations_invoice_id'), 'payment_allocations', ['invoice_id'], unique=False)
    op.create_index(op.f('ix_payment_allocations_payment_id'), 'payment_allocations', ['payment_id'], unique=False)
    op.create_table(
        'bank_statement_lines',
        sa.Column('line_hash', sa.String(length=64), nullable=False),
        _uuid('import_id'),
        sa.Column('booked_on', sa.Date(), nullable=False),
        _money('amount_minor'),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reference', sa.String(length=200), nullable=True),
        sa.Column('payer_name', sa.String(length=200), nullable=True),
        sa.Column('payer_account', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        _uuid('customer_id', True),
        _uuid('payment_id', True),
        sa.Column('match_rule', sa.String(length=40), nullable=True),
        _uuid('imported_by', True),
        _at('imported_at'),
        _uuid('id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_statement_lines')),
        sa.UniqueConstraint('line_hash', name=op.f('uq_bank_statement_lines_line_hash')),
    )
    op.create_index(op.f('ix_bank_statement_lines_import_id'), 'bank_statement_lines', ['import_id'], unique=False)
    op.create_index(op.f('ix_bank_statement_lines_status'), 'bank_statement_lines', ['status'], unique=False)
    op.create_table(
        'invoice_runs',
        sa.Column('period_end', sa.Date(), nullable=False),
        _uuid('customer_id', True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('customers_total', sa.BigInteger(), nullable=False),
        sa.Column('customers_done', sa.BigInteger(), nullable=False),
        sa.Column('invoices_issued', sa.BigInteger(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        _uuid('created_by', True),
        _at('created_at'),
        _at('started_at', True),
        _at('finished_at', True),
        _uuid('id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_runs')),
    )

    # Payments move to money: the same rows, with what a payment now records.
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allocated_minor', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('currency', sa.String(length=3), server_default='CNY', nullable=False))
        batch_op.add_column(sa.Column('received_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('method', sa.String(length=20), server_default='bank_transfer', nullable=False))
        batch_op.add_column(sa.Column('bank_line_id', sa.Uuid(), nullable=True))
        batch_op.alter_column('reference', existing_type=sa.String(length=80), type_=sa.String(length=120))

    _backfill()

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.alter_column('received_on', existing_type=sa.Date(), nullable=False)
        batch_op.alter_column('allocated_minor', server_default=None)
        batch_op.alter_column('currency', server_default=None)
        batch_op.alter_column('method', server_default=None)
        batch_op.drop_constraint('fk_payments_customer_id_customer_accounts', type_='foreignkey')
        batch_op.create_foreign_key(op.f('fk_payments_customer_id_credit_accounts'), 'credit_accounts', ['customer_id'], ['customer_id'], ondelete='CASCADE')
        batch_op.create_check_constraint(op.f('ck_payments_amount_positive'), 'amount_minor > 0')
        batch_op.create_index('ix_payments_customer_received', ['customer_id', 'received_on'], unique=False)


def _backfill() -> None:
    """A credit account per customer account, with its open orders, and its opening balance in the ledger."""
    import uuid
    from datetime import UTC, datetime

    from uuid_utils.compat import uuid7

    bind = op.get_bind()
    now = datetime.now(UTC)
    orders = {row[0]: int(row[1]) for row in bind.execute(sa.text(
        'SELECT customer_id, SUM(amount_minor) FROM orders WHERE status IN :s GROUP BY customer_id'
    ).bindparams(sa.bindparam('s', expanding=True)), {'s': list(ORDER_HOLDS_CREDIT)})}
    pickups = {row[0]: int(row[1]) for row in bind.execute(sa.text(
        'SELECT customer_id, SUM(amount_minor) FROM pickup_bookings WHERE status IN :s GROUP BY customer_id'
    ).bindparams(sa.bindparam('s', expanding=True)), {'s': list(PICKUP_HOLDS_CREDIT)})}
    accounts = sa.table(
        'credit_accounts', sa.column('customer_id', sa.Uuid()), sa.column('currency', sa.String()),
        sa.column('kind', sa.String()), sa.column('credit_limit_minor', sa.BigInteger()),
        sa.column('billing_period', sa.String()), sa.column('payment_terms_days', sa.BigInteger()),
        sa.column('open_orders_minor', sa.BigInteger()), sa.column('balance_minor', sa.BigInteger()),
        sa.column('updated_at', core.db.UTCDateTime(timezone=True)),
    )
    entries = sa.table(
        'ledger_entries', sa.column('id', sa.Uuid()), sa.column('customer_id', sa.Uuid()),
        sa.column('at', core.db.UTCDateTime(timezone=True)), sa.column('kind', sa.String()),
        sa.column('amount_minor', sa.BigInteger()), sa.column('balance_minor', sa.BigInteger()),
        sa.column('currency', sa.String()), sa.column('note', sa.Text()),
        sa.column('created_at', core.db.UTCDateTime(timezone=True)),
    )
    for customer_id, currency, limit, open_amount in bind.execute(sa.text(
        'SELECT id, currency, credit_limit_minor, open_amount_minor FROM customer_accounts'
    )):
        key = customer_id if isinstance(customer_id, uuid.UUID) else uuid.UUID(str(customer_id))
        open_orders = orders.get(customer_id, 0) + pickups.get(customer_id, 0)
        balance = int(open_amount) - open_orders
        bind.execute(accounts.insert().values(
            customer_id=key, currency=currency, kind='credit', credit_limit_minor=limit, billing_period='monthly',
            payment_terms_days=30, open_orders_minor=open_orders, balance_minor=balance, updated_at=now,
        ))
        if balance:
            bind.execute(entries.insert().values(
                id=uuid7(), customer_id=key, at=now, kind='adjustment', amount_minor=balance, balance_minor=balance,
                currency=currency, note='opening balance (delivered and not yet paid before the ledger)',
                created_at=now,
            ))
    bind.execute(sa.text(
        'UPDATE payments SET received_on = CAST(recorded_at AS DATE), '
        'currency = (SELECT currency FROM customer_accounts WHERE customer_accounts.id = payments.customer_id)'
    ))


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_customer_received')
        batch_op.drop_constraint(op.f('ck_payments_amount_positive'), type_='check')
        batch_op.drop_constraint(op.f('fk_payments_customer_id_credit_accounts'), type_='foreignkey')
        batch_op.create_foreign_key('fk_payments_customer_id_customer_accounts', 'customer_accounts', ['customer_id'], ['id'], ondelete='CASCADE')
        batch_op.alter_column('reference', existing_type=sa.String(length=120), type_=sa.String(length=80))
        batch_op.drop_column('bank_line_id')
        batch_op.drop_column('method')
        batch_op.drop_column('received_on')
        batch_op.drop_column('currency')
        batch_op.drop_column('allocated_minor')
    for table in ('invoice_runs', 'bank_statement_lines', 'payment_allocations', 'credit_note_lines', 'credit_notes',
                  'invoice_lines', 'invoices', 'invoice_series', 'charges', 'ledger_entries', 'credit_accounts'):
        op.drop_table(table)
