"""Invoices and credit notes read for their documents (PDF, seal, e-fapiao export), and who may read them.

A credit note's amounts are negative everywhere it is shown or exported (a 红字 document): what it does to the
invoice it credits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import String, Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role
from core.errors import NotFound
from core.settings import DocumentSettings
from money.models import Charge, CreditNote, CreditNoteLine, Invoice, InvoiceLine

# Staff who see money: admin, and finance (the role arrives with the trust-boundaries work; until then no user
# holds it). Dispatchers see nothing of money; a customer sees its own documents only.
MONEY_STAFF = frozenset(role for role in Role if role.value in ("admin", "finance"))
MONEY_READERS = (*sorted(MONEY_STAFF), Role.CUSTOMER)

# The account's display name and tax id, read from the customers table by name: money may not import the
# orders domain's models, and a document needs the buyer's name (its own tables hold only the id).
_customers = table("customer_accounts", column("id", Uuid), column("name", String), column("tax_id", String))


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    tax_id: str
    address: str = ""
    phone: str = ""
    bank_account: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a document: the charge it bills (what left the tanker or the rack) and its amounts."""

    position: int
    reference: str  # the order's or booking's reference
    document_number: str  # the loading ticket or delivery receipt
    product_code: str
    product_name: str
    delivered_at: datetime
    observed_litres: int
    temperature_c: float
    net_litres: int  # at the standard temperature
    net_kg: int
    unit_price_minor: int  # per litre, VAT included
    discount_minor: int
    tax_rate_bps: int
    net_minor: int
    tax_minor: int
    amount_minor: int  # VAT included
    fully_credited: bool = False  # a credit note line that gives back the whole invoice line


@dataclass(frozen=True, slots=True)
class Document:
    kind: DocumentKind
    id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    issue_date: date
    seller: Party
    buyer: Party
    currency: str
    lines: tuple[Line, ...]
    net_minor: int
    tax_minor: int
    total_minor: int
    status: str
    due_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    credits_number: str | None = None  # a credit note: the invoice it credits
    reason: str | None = None


def seller_of(settings: DocumentSettings) -> Party:
    return Party(
        name=settings.seller_name,
        tax_id=settings.seller_tax_id,
        address=settings.seller_address,
        phone=settings.seller_phone,
        bank_account=settings.seller_bank_account,
    )


def sees_all_money(viewer: Principal) -> bool:
    return viewer.role in MONEY_STAFF


def may_see_customer(viewer: Principal, customer_id: uuid.UUID) -> bool:
    return sees_all_money(viewer) or (viewer.role == Role.CUSTOMER and viewer.customer_id == customer_id)


def _line(charge: Charge, *, position: int, net: int, tax: int, amount: int, fully_credited: bool = False) -> Line:
    return Line(
        position=position,
        reference=charge.reference,
        document_number=charge.document_number,
        product_code=charge.product_code,
        product_name=charge.product_name,
        delivered_at=charge.at,
        observed_litres=charge.observed_litres,
        temperature_c=charge.temperature_c,
        net_litres=charge.net_litres,
        net_kg=charge.net_kg,
        unit_price_minor=charge.unit_price_minor,
        discount_minor=charge.discount_minor,
        tax_rate_bps=charge.tax_rate_bps,
        net_minor=net,
        tax_minor=tax,
        amount_minor=amount,
        fully_credited=fully_credited,
    )


async def invoice_lines(session: AsyncSession, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Line]]:
    """The lines of several invoices in one query, each invoice's in position order."""
    rows = await session.execute(
        select(InvoiceLine, Charge)
        .join(Charge, Charge.id == InvoiceLine.charge_id)
        .where(InvoiceLine.invoice_id.in_(invoice_ids))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
    )
    lines: dict[uuid.UUID, list[Line]] = {invoice_id: [] for invoice_id in invoice_ids}
    for line, charge in rows:
        lines[line.invoice_id].append(
            _line(charge, position=line.position, net=line.net_minor, tax=line.tax_minor, amount=line.amount_minor)
        )
    return lines


def invoice_document(invoice: Invoice, lines: Sequence[Line], *, seller: Party) -> Document:
    return Document(
        kind=DocumentKind.INVOICE,
        id=invoice.id,
        number=invoice.number,
        customer_id=invoice.customer_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        seller=seller,
        buyer=Party(name=invoice.buyer_name, tax_id=invoice.buyer_tax_id or ""),
        currency=invoice.currency,
        lines=tuple(lines),
        net_minor=invoice.net_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        status=invoice.status,
    )


async def credit_note_lines(session: AsyncSession, credit_note_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Line]]:
    """Credit note lines (negative), in the order of the invoice lines they credit."""
    rows = await session.execute(
        select(CreditNoteLine, InvoiceLine, Charge)
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .join(Charge, Charge.id == InvoiceLine.charge_id)
        .where(CreditNoteLine.credit_note_id.in_(credit_note_ids))
        .order_by(CreditNoteLine.credit_note_id, InvoiceLine.position)
    )
    lines: dict[uuid.UUID, list[Line]] = {note_id: [] for note_id in credit_note_ids}
    for credited, invoiced, charge in rows:
        lines[credited.credit_note_id].append(
            _line(
                charge,
                position=invoiced.position,
                net=-abs(credited.net_minor),
                tax=-abs(credited.tax_minor),
                amount=-abs(credited.amount_minor),
                fully_credited=abs(credited.amount_minor) == invoiced.amount_minor,
            )
        )
    return lines


def credit_note_document(note: CreditNote, invoice: Invoice, lines: Sequence[Line], *, seller: Party) -> Document:
    return Document(
        kind=DocumentKind.CREDIT_NOTE,
        id=note.id,
        number=note.number,
        customer_id=note.customer_id,
        issue_date=note.issue_date,
        seller=seller,
        buyer=Party(name=invoice.buyer_name, tax_id=invoice.buyer_tax_id or ""),
        currency=note.currency,
        lines=tuple(lines),
        net_minor=-abs(note.net_minor),
        tax_minor=-abs(note.tax_minor),
        total_minor=-abs(note.total_minor),
        status="issued",
        credits_number=invoice.number,
        reason=note.reason,
    )


async def load_invoice(session: AsyncSession, invoice_id: uuid.UUID, *, viewer: Principal, seller: Party) -> Document:
    """An invoice with its lines, for a viewer who may see it (anyone else: 404, as if it did not exist)."""
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or not may_see_customer(viewer, invoice.customer_id):
        raise NotFound("no such invoice", code="invoice_not_found")
    lines = await invoice_lines(session, [invoice.id])
    return invoice_document(invoice, lines[invoice.id], seller=seller)


async def load_credit_note(
    session: AsyncSession, credit_note_id: uuid.UUID, *, viewer: Principal, seller: Party
) -> Document:
    note = await session.get(CreditNote, credit_note_id)
    if note is None or not may_see_customer(viewer, note.customer_id):
        raise NotFound("no such credit note", code="credit_note_not_found")
    invoice = await session.get(Invoice, note.invoice_id)
    if invoice is None:  # a foreign key keeps it; a missing one is a broken database, not bad input
        raise RuntimeError(f"credit note {note.number} credits a missing invoice")
    lines = await credit_note_lines(session, [note.id])
    return credit_note_document(note, invoice, lines[note.id], seller=seller)


async def document_by_number(session: AsyncSession, number: str, *, seller: Party) -> Document | None:
    """The invoice or credit note with this number (for checking a seal against the records), or None."""
    invoice = await session.scalar(select(Invoice).where(Invoice.number == number))
    if invoice is not None:
        return invoice_document(invoice, (await invoice_lines(session, [invoice.id]))[invoice.id], seller=seller)
    note = await session.scalar(select(CreditNote).where(CreditNote.number == number))
    if note is None:
        return None
    credited = await session.get(Invoice, note.invoice_id)
    if credited is None:
        return None
    lines = (await credit_note_lines(session, [note.id]))[note.id]
    return credit_note_document(note, credited, lines, seller=seller)


@dataclass(frozen=True, slots=True)
class Customer:
    id: uuid.UUID
    name: str
    tax_id: str


async def customer_names(session: AsyncSession, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Customer]:
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(_customers.c.id, _customers.c.name, _customers.c.tax_id).where(_customers.c.id.in_(customer_ids))
    )
    return {row.id: Customer(id=row.id, name=row.name, tax_id=row.tax_id or "") for row in rows}


async def customer_for(session: AsyncSession, customer_id: uuid.UUID, *, viewer: Principal) -> Customer:
    """The customer a viewer asks about, when it may (anyone else: 404, as if it did not exist)."""
    found = (await customer_names(session, [customer_id])).get(customer_id)
    if found is None or not may_see_customer(viewer, customer_id):
        raise NotFound("no such customer", code="customer_not_found")
    return found
