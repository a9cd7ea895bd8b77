"""Money tables: credit accounts, the ledger, charges, invoices, credit notes, payments, bank statement lines.

Amounts are signed 64-bit integers in minor units (fen). A ledger amount is what it does to what the customer
owes us: a charge is positive, a payment negative. Nothing here is ever updated in place except the cached
figures on `CreditAccount` (derived from the ledger, written under its row lock) and the status columns of
invoices, payments and runs (each an explicit state machine in money.states).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow


class CreditAccount(Base):
    """The money side of a customer account (one row per customer, same id).

    `balance_minor` is the sum of the account's ledger entries (positive: the customer owes us; negative: prepaid)
    and `open_orders_minor` the amounts of confirmed orders and bookings not yet delivered or loaded: both are
    caches written only by money, under this row's lock, in the same transaction as what changes them.
    Available credit = credit_limit - open_orders - balance.
    """

    __tablename__ = "credit_accounts"
    __table_args__ = (CheckConstraint("credit_limit_minor >= 0", name="credit_limit_not_negative"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(10), default="credit")  # credit | prepaid
    credit_limit_minor: Mapped[int] = mapped_column(default=0)
    billing_period: Mapped[str] = mapped_column(String(16), default="monthly")  # per_delivery | weekly | monthly
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    open_orders_minor: Mapped[int] = mapped_column(default=0)
    balance_minor: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(IdMixin, Base):
    """One movement of money on a customer account. Rows are only ever inserted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_customer_at", "customer_id", "at", "id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_accounts.customer_id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))  # charge | payment | prepayment | credit_note | adjustment | refund
    amount_minor: Mapped[int]
    balance_minor: Mapped[int]  # the account's balance after this entry
    currency: Mapped[str] = mapped_column(String(3))
    order_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    pickup_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    invoice_id: Mapped[uuid.UUID | None]
    payment_id: Mapped[uuid.UUID | None]
    credit_note_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Charge(IdMixin, Base):
    """What one delivery or one rack loading costs the customer: net litres at the standard temperature x the
    price fixed at confirmation - discounts, VAT included. Everything an invoice line shows. One per order or
    pickup (a delivery is never charged twice)."""

    __tablename__ = "charges"
    __table_args__ = (
        Index("ix_charges_customer_at", "customer_id", "at"),
        UniqueConstraint("order_id"),
        UniqueConstraint("pickup_id"),
        CheckConstraint("(order_id IS NULL) <> (pickup_id IS NULL)", name="one_source"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_accounts.customer_id", ondelete="CASCADE"))
    ledger_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    at: Mapped[datetime]  # delivered or loaded
    order_id: Mapped[uuid.UUID | None]
    pickup_id: Mapped[uuid.UUID | None]
    reference: Mapped[str] = mapped_column(String(24))  # the order's or booking's reference
    document_number: Mapped[str] = mapped_column(String(40))  # the loading ticket or the delivery receipt
    depot_id: Mapped[uuid.UUID | None]
    product_code: Mapped[str] = mapped_column(String(32))
    product_name: Mapped[str] = mapped_column(String(120))
    observed_litres: Mapped[int]
    temperature_c: Mapped[float]
    net_litres: Mapped[int]
    net_kg: Mapped[int]
    unit_price_minor: Mapped[int]  # per litre, VAT included, as fixed at confirmation
    gross_minor: Mapped[int]
    discount_minor: Mapped[int]
    amount_minor: Mapped[int]  # gross - discount, VAT included
    tax_rate_bps: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))


class InvoiceSeries(Base):
    """The next number of a series: locked by the transaction that issues, so numbers run without gaps."""

    __tablename__ = "invoice_series"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)  # e.g. INV-2026, CN-2026
    next_number: Mapped[int] = mapped_column(default=1)


class Invoice(IdMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (Index("ix_invoices_customer_issued", "customer_id", "issue_date"),)

    number: Mapped[str] = mapped_column(String(32), unique=True)
    series: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_accounts.customer_id", ondelete="CASCADE"))
    run_id: Mapped[uuid.UUID | None]
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # issued | part_paid | paid | credited
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_tax_id: Mapped[str | None] = mapped_column(String(40))
    net_minor: Mapped[int]
    tax_minor: Mapped[int]
    total_minor: Mapped[int]
    paid_minor: Mapped[int] = mapped_column(default=0)  # allocations so far (cache, written with them)
    credited_minor: Mapped[int] = mapped_column(default=0)  # credit notes so far (cache, written with them)
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceLine(IdMixin, Base):
    """A charge on an invoice: a charge is invoiced at most once (the unique charge id)."""

    __tablename__ = "invoice_lines"

    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    charge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("charges.id"), unique=True)
    position: Mapped[int]
    net_minor: Mapped[int]
    tax_minor: Mapped[int]
    amount_minor: Mapped[int]


class CreditNote(IdMixin, Base):
    """Money given back against an invoice (an invoice is never edited: re-issue = credit note + new invoice)."""

    __tablename__ = "credit_notes"

    number: Mapped[str] = mapped_column(String(32), unique=True)
    series: Mapped[str] = mapped_column(String(20))
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_accounts.customer_id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    issue_date: Mapped[date] = mapped_column(Date)
    net_minor: Mapped[int]
    tax_minor: Mapped[int]
    total_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    issued_by: Mapped[uuid.UUID | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditNoteLine(IdMixin, Base):
    __tablename__ = "credit_note_lines"

    credit_note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_notes.id", ondelete="CASCADE"), index=True)
    invoice_line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoice_lines.id"), index=True)
    net_minor: Mapped[int]
    tax_minor: Mapped[int]
    amount_minor: Mapped[int]


class Payment(IdMixin, Base):
    """Money received (or a prepaid top-up). Allocated to invoices oldest first unless told otherwise."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_customer_received", "customer_id", "received_on"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("credit_accounts.customer_id", ondelete="CASCADE"))
    amount_minor: Mapped[int]
    allocated_minor: Mapped[int] = mapped_column(default=0)  # cache of its allocations, written with them
    currency: Mapped[str] = mapped_column(String(3))
    received_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20))  # bank_transfer | cash | card | prepaid_topup
    reference: Mapped[str | None] = mapped_column(String(120))
    bank_line_id: Mapped[uuid.UUID | None]
    recorded_by: Mapped[uuid.UUID | None]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentAllocation(IdMixin, Base):
    __tablename__ = "payment_allocations"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount_minor: Mapped[int]
    allocated_by: Mapped[uuid.UUID | None]
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankStatementLine(IdMixin, Base):
    """A credit line of an imported bank statement: matched to a customer (and recorded as a payment) or left
    in the unmatched queue for finance. The same line imported twice is the same row (`line_hash`)."""

    __tablename__ = "bank_statement_lines"

    line_hash: Mapped[str] = mapped_column(String(64), unique=True)
    import_id: Mapped[uuid.UUID] = mapped_column(index=True)
    booked_on: Mapped[date] = mapped_column(Date)
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(200))
    payer_name: Mapped[str | None] = mapped_column(String(200))
    payer_account: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), index=True)  # matched | unmatched | assigned | ignored
    customer_id: Mapped[uuid.UUID | None]
    payment_id: Mapped[uuid.UUID | None]
    match_rule: Mapped[str | None] = mapped_column(String(40))  # how it was matched, shown for review
    imported_by: Mapped[uuid.UUID | None]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceRun(IdMixin, Base):
    """An invoice run on the worker: invoices for every uninvoiced charge in complete billing periods up to
    `period_end`, with progress for the back office."""

    __tablename__ = "invoice_runs"

    period_end: Mapped[date] = mapped_column(Date)
    customer_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(12))  # queued | running | succeeded | failed
    customers_total: Mapped[int] = mapped_column(default=0)
    customers_done: Mapped[int] = mapped_column(default=0)
    invoices_issued: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
