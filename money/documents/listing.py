"""Documents, invoices and payments over a date range, for the bulk exports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from money.documents.records import (
    Document,
    Party,
    credit_note_document,
    credit_note_lines,
    invoice_document,
    invoice_lines,
)
from money.models import CreditNote, Invoice, Payment

MAX_RANGE_DAYS = 366
MAX_EXPORT_ROWS = 100_000  # one spreadsheet; past it, ask for a shorter range


def check_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise InvalidInput("`to` is before `from`", code="invalid_range", field="to")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"a range covers at most {MAX_RANGE_DAYS} days", code="range_too_long", field="to")


async def documents_between(
    session: AsyncSession,
    *,
    date_from: date,
    date_to: date,
    customer_id: uuid.UUID | None,
    limit: int,
    offset: int,
    seller: Party,
) -> tuple[list[Document], int]:
    """Invoices and credit notes issued from `date_from` to `date_to` (both included), by issue date then
    number (invoices before credit notes of the same day), one page of them."""
    invoices = select(
        Invoice.issue_date.label("day"), literal(0).label("kind"), Invoice.number.label("number"), Invoice.id
    ).where(Invoice.issue_date.between(date_from, date_to))
    notes = select(
        CreditNote.issue_date.label("day"), literal(1).label("kind"), CreditNote.number.label("number"), CreditNote.id
    ).where(CreditNote.issue_date.between(date_from, date_to))
    if customer_id is not None:
        invoices = invoices.where(Invoice.customer_id == customer_id)
        notes = notes.where(CreditNote.customer_id == customer_id)
    both = union_all(invoices, notes).subquery()
    total = await session.scalar(select(func.count()).select_from(both)) or 0
    page = (
        await session.execute(
            select(both.c.id, both.c.kind).order_by(both.c.day, both.c.kind, both.c.number).limit(limit).offset(offset)
        )
    ).all()
    invoice_ids = [row.id for row in page if row.kind == 0]
    note_ids = [row.id for row in page if row.kind == 1]
    return await _documents(session, invoice_ids, note_ids, [row.id for row in page], seller=seller), total


async def _documents(
    session: AsyncSession,
    invoice_ids: Sequence[uuid.UUID],
    note_ids: Sequence[uuid.UUID],
    order: Sequence[uuid.UUID],
    *,
    seller: Party,
) -> list[Document]:
    found: dict[uuid.UUID, Document] = {}
    if invoice_ids:
        rows = (await session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids)))).all()
        lines = await invoice_lines(session, invoice_ids)
        found.update({i.id: invoice_document(i, lines[i.id], seller=seller) for i in rows})
    if note_ids:
        notes = (await session.scalars(select(CreditNote).where(CreditNote.id.in_(note_ids)))).all()
        credited = {
            i.id: i for i in await session.scalars(select(Invoice).where(Invoice.id.in_({n.invoice_id for n in notes})))
        }
        lines = await credit_note_lines(session, note_ids)
        found.update({n.id: credit_note_document(n, credited[n.invoice_id], lines[n.id], seller=seller) for n in notes})
    return [found[document_id] for document_id in order]


async def _capped[R](session: AsyncSession, stmt: Select[R]) -> list[R]:
    rows = list((await session.scalars(stmt.limit(MAX_EXPORT_ROWS + 1))).all())
    if len(rows) > MAX_EXPORT_ROWS:
        raise InvalidInput(
            f"more than {MAX_EXPORT_ROWS:,} rows: ask for a shorter range", code="export_too_large", field="from"
        )
    return rows


async def invoices_between(
    session: AsyncSession, *, date_from: date, date_to: date, customer_id: uuid.UUID | None
) -> list[Invoice]:
    stmt = select(Invoice).where(Invoice.issue_date.between(date_from, date_to))
    if customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == customer_id)
    return await _capped(session, stmt.order_by(Invoice.issue_date, Invoice.number))


async def payments_between(
    session: AsyncSession, *, date_from: date, date_to: date, customer_id: uuid.UUID | None
) -> list[Payment]:
    stmt = select(Payment).where(Payment.received_on.between(date_from, date_to))
    if customer_id is not None:
        stmt = stmt.where(Payment.customer_id == customer_id)
    return await _capped(session, stmt.order_by(Payment.received_on, Payment.recorded_at, Payment.id))
