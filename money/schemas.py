"""Request and response structs of money (separate from the ORM models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

PositiveMinor = Annotated[int, msgspec.Meta(gt=0, le=10**13, description="money in minor units (fen)")]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
PaymentMethod = Literal["bank_transfer", "cash", "card", "prepaid_topup"]
BillingPeriodName = Literal["per_delivery", "weekly", "monthly"]


class Input(msgspec.Struct, forbid_unknown_fields=True):
    """Base for request bodies: unknown fields are refused rather than silently dropped."""


# --- balances and the ledger -------------------------------------------------------------------------------


class BalanceOut(msgspec.Struct):
    customer_id: uuid.UUID
    credit_limit_minor: int
    prepaid_minor: int
    open_orders_minor: int
    uninvoiced_minor: int
    unpaid_invoices_minor: int
    available_minor: int
    balance_minor: int  # the ledger's sum: uninvoiced + unpaid - prepaid
    currency: str
    kind: str
    billing_period: str
    payment_terms_days: int
    payment_code: str  # put it in a bank transfer's remittance text and the payment finds its account


class LedgerEntryOut(msgspec.Struct):
    id: uuid.UUID
    at: datetime
    kind: str
    amount_minor: int
    balance_minor: int
    currency: str
    order_id: uuid.UUID | None
    pickup_id: uuid.UUID | None
    invoice_id: uuid.UUID | None
    payment_id: uuid.UUID | None
    credit_note_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    actor: str | None  # the actor's username; None for the system
    note: str | None


class BillingIn(Input):
    billing_period: BillingPeriodName | None = None
    payment_terms_days: Annotated[int, msgspec.Meta(ge=0, le=365)] | None = None


# --- invoice runs and invoices -----------------------------------------------------------------------------


class InvoiceRunIn(Input):
    period_end: date
    customer_id: uuid.UUID | None = None


class InvoiceRunOut(msgspec.Struct):
    id: uuid.UUID
    period_end: date
    customer_id: uuid.UUID | None
    status: str
    customers_total: int
    customers_done: int
    invoices_issued: int
    error: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class InvoiceLineOut(msgspec.Struct):
    id: uuid.UUID
    position: int
    charge_id: uuid.UUID
    order_id: uuid.UUID | None
    pickup_id: uuid.UUID | None
    reference: str  # the order's or booking's reference
    document_number: str  # the delivery receipt or the loading ticket
    at: datetime  # delivered or loaded
    product_code: str
    product_name: str
    observed_litres: int
    temperature_c: float
    net_litres: int  # at the standard temperature
    unit_price_minor: int  # per litre, VAT included
    gross_minor: int
    discount_minor: int
    tax_rate_bps: int
    net_minor: int
    tax_minor: int
    amount_minor: int
    credited_minor: int


class CreditNoteRef(msgspec.Struct):
    id: uuid.UUID
    number: str
    issue_date: date
    total_minor: int


class InvoiceOut(msgspec.Struct):
    id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    run_id: uuid.UUID | None
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    status: str
    buyer_name: str
    buyer_tax_id: str | None
    net_minor: int
    tax_minor: int
    total_minor: int
    paid_minor: int
    credited_minor: int
    outstanding_minor: int
    currency: str
    issued_at: datetime
    lines: list[InvoiceLineOut] | None = None  # in full on GET /invoices/{id}
    credit_notes: list[CreditNoteRef] | None = None


class CreditLineIn(Input):
    invoice_line_id: uuid.UUID
    amount_minor: PositiveMinor | None = None  # what is left uncredited on the line when omitted


class CreditNoteIn(Input):
    reason: Reason
    lines: Annotated[list[CreditLineIn], msgspec.Meta(min_length=1, max_length=1000)] | None = None


class CreditNoteLineOut(msgspec.Struct):
    id: uuid.UUID
    invoice_line_id: uuid.UUID
    net_minor: int
    tax_minor: int
    amount_minor: int


class CreditNoteOut(msgspec.Struct):
    id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    invoice_number: str
    customer_id: uuid.UUID
    reason: str
    issue_date: date
    net_minor: int
    tax_minor: int
    total_minor: int
    currency: str
    issued_by: uuid.UUID | None
    issued_at: datetime
    lines: list[CreditNoteLineOut]


# --- payments ----------------------------------------------------------------------------------------------


class PaymentIn(Input):
    customer_id: uuid.UUID
    amount_minor: PositiveMinor
    received_on: date
    method: PaymentMethod
    reference: Reference | None = None
    allocate: bool = True  # to open invoices, oldest first


class AllocateIn(Input):
    invoice_id: uuid.UUID
    amount_minor: PositiveMinor


class AllocationOut(msgspec.Struct):
    id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    amount_minor: int
    allocated_at: datetime


class PaymentOut(msgspec.Struct):
    id: uuid.UUID
    customer_id: uuid.UUID
    amount_minor: int
    allocated_minor: int
    unallocated_minor: int
    currency: str
    received_on: date
    method: str
    reference: str | None
    bank_line_id: uuid.UUID | None
    recorded_by: uuid.UUID | None
    recorded_at: datetime
    allocations: list[AllocationOut]


# --- bank statements ---------------------------------------------------------------------------------------


class BankLineOut(msgspec.Struct):
    id: uuid.UUID
    line_number: int | None  # in the file just imported (None when listed later)
    booked_on: date
    amount_minor: int
    currency: str
    reference: str | None
    payer_name: str | None
    payer_account: str | None
    status: str
    customer_id: uuid.UUID | None
    payment_id: uuid.UUID | None
    match_rule: str | None
    import_id: uuid.UUID
    imported_at: datetime


class SkippedLineOut(msgspec.Struct):
    line_number: int
    reason: str  # not_a_receipt | already_imported | summary_row


class ImportOut(msgspec.Struct):
    import_id: uuid.UUID
    matched: list[BankLineOut]
    unmatched: list[BankLineOut]
    skipped: list[SkippedLineOut]


class AssignIn(Input):
    customer_id: uuid.UUID
    allocate: bool = True


class IgnoreIn(Input):
    reason: Reason | None = None
