"""Request and response bodies of the document endpoints (msgspec)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import msgspec

from money.documents.seal import MAX_SEAL_CHARS, Seal, SealCheck
from money.documents.statements import Movement, Statement


class SealIn(msgspec.Struct):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SEAL_CHARS, description="the QR code's text")]


class SealOut(msgspec.Struct):
    kind: str  # invoice | credit_note
    number: str
    issue_date: date
    seller_tax_id: str
    buyer_tax_id: str
    total_minor: int
    tax_minor: int
    currency: str
    lines_hash: str  # hex
    credits_number: str | None


class SealVerification(msgspec.Struct):
    genuine: bool  # signed by one of the seller's keys
    reasons: list[str]  # malformed | unknown_key | bad_signature, when not genuine
    kid: str | None
    certifies: SealOut | None  # what the seal states, when genuine
    on_record: bool | None  # genuine and the seller's records hold the same figures (number, totals, lines)
    status: str | None  # the document's status in the records now (issued, part_paid, paid, credited)


def seal_out(seal: Seal) -> SealOut:
    return SealOut(
        kind=str(seal.kind),
        number=seal.number,
        issue_date=seal.issue_date,
        seller_tax_id=seal.seller_tax_id,
        buyer_tax_id=seal.buyer_tax_id,
        total_minor=seal.total_minor,
        tax_minor=seal.tax_minor,
        currency=seal.currency,
        lines_hash=seal.lines_hash.hex(),
        credits_number=seal.credits_number,
    )


def verification_out(check: SealCheck, *, on_record: bool | None, status: str | None) -> SealVerification:
    return SealVerification(
        genuine=check.genuine,
        reasons=list(check.reasons),
        kid=check.kid,
        certifies=seal_out(check.seal) if check.seal else None,
        on_record=on_record,
        status=status,
    )


class AgedInvoiceOut(msgspec.Struct):
    invoice_id: uuid.UUID
    number: str
    issue_date: date
    due_date: date
    total_minor: int
    unpaid_minor: int
    age_days: int
    bucket: str


class StatementOut(msgspec.Struct):
    customer_id: uuid.UUID
    customer_name: str
    month: str
    period_start: date
    period_end: date
    timezone: str
    currency: str
    opening_balance_minor: int
    movements: list[Movement]
    closing_balance_minor: int
    ageing_basis: str  # days since the issue date, at the last day of the month
    ageing: dict[str, int]  # "0-30", "31-60", "61-90", "90+" -> unpaid amount
    unpaid_invoices_minor: int
    unpaid_invoices: list[AgedInvoiceOut]


def statement_out(st: Statement) -> StatementOut:
    return StatementOut(
        customer_id=st.customer.id,
        customer_name=st.customer.name,
        month=st.month.label,
        period_start=st.month.first_day,
        period_end=st.month.last_day,
        timezone=st.timezone,
        currency=st.currency,
        opening_balance_minor=st.opening_balance_minor,
        movements=list(st.movements),
        closing_balance_minor=st.closing_balance_minor,
        ageing_basis="issue_date",
        ageing=dict(st.ageing),
        unpaid_invoices_minor=st.unpaid_invoices_minor,
        unpaid_invoices=[
            AgedInvoiceOut(
                invoice_id=i.invoice_id,
                number=i.number,
                issue_date=i.issue_date,
                due_date=i.due_date,
                total_minor=i.total_minor,
                unpaid_minor=i.unpaid_minor,
                age_days=i.age_days,
                bucket=i.bucket,
            )
            for i in st.unpaid_invoices
        ],
    )
