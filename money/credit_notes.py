"""Credit notes: money given back against an invoice, line by line, never more than a line has left uncredited.
An invoice is never edited; a credit note is a new numbered document, a ledger entry and the invoice's
credited amount and status moved with it, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import Principal, Role
from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_id
from money import credit, ledger
from money.invoicing import get_invoice
from money.models import Charge, CreditNote, CreditNoteLine, Invoice, InvoiceLine
from money.numbering import credit_note_series, take_numbers
from money.payments import restate_invoice
from money.states import LedgerKind

# --- what to credit (pure) ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreditableLine:
    id: uuid.UUID
    net_minor: int
    tax_minor: int
    amount_minor: int
    tax_rate_bps: int
    credited_net_minor: int = 0
    credited_tax_minor: int = 0
    credited_minor: int = 0

    @property
    def left_minor(self) -> int:
        return self.amount_minor - self.credited_minor


@dataclass(frozen=True, slots=True)
class CreditRequest:
    invoice_line_id: uuid.UUID
    amount_minor: int | None  # all that is left when None


@dataclass(frozen=True, slots=True)
class PlannedCredit:
    invoice_line_id: uuid.UUID
    net_minor: int
    tax_minor: int
    amount_minor: int


def split_credit(line: CreditableLine, amount_minor: int) -> tuple[int, int]:
    """Net and tax of crediting `amount_minor` of a line; the credit that empties the line takes exactly what is
    left of its net and tax, so a line credited in parts nets out to zero to the fen."""
    if amount_minor == line.left_minor:
        return line.net_minor - line.credited_net_minor, line.tax_minor - line.credited_tax_minor
    return ledger.split_vat(amount_minor, line.tax_rate_bps)


def plan_credit(lines: Sequence[CreditableLine], requests: Sequence[CreditRequest] | None) -> list[PlannedCredit]:
    """The credit note's lines: the whole invoice (what is left of it) when no lines are asked for."""
    by_id = {line.id: line for line in lines}
    if requests is None:
        requests = [CreditRequest(line.id, None) for line in lines if line.left_minor > 0]
        if not requests:
            raise Conflict("the invoice is credited in full already", code="invoice_fully_credited")
    planned, seen = [], set()
    for request in requests:
        line = by_id.get(request.invoice_line_id)
        if line is None:
            raise InvalidInput(
                f"line {request.invoice_line_id} is not on this invoice", code="invoice_line_not_found", field="lines"
            )
        if line.id in seen:
            raise InvalidInput(f"line {line.id} is named twice", code="duplicate_line", field="lines")
        seen.add(line.id)
        amount = line.left_minor if request.amount_minor is None else request.amount_minor
        if amount <= 0 or amount > line.left_minor:
            raise Conflict(
                f"line {line.id} has {line.left_minor} left to credit, not {amount}",
                code="exceeds_uncredited",
                field="lines",
            )
        net, tax = split_credit(line, amount)
        planned.append(PlannedCredit(line.id, net, tax, amount))
    return planned


# --- issuing ------------------------------------------------------------------------------------------------


async def creditable_lines(session: AsyncSession, invoice_id: uuid.UUID) -> list[CreditableLine]:
    credited = await session.execute(
        select(
            CreditNoteLine.invoice_line_id,
            CreditNoteLine.net_minor,
            CreditNoteLine.tax_minor,
            CreditNoteLine.amount_minor,
        )
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .where(InvoiceLine.invoice_id == invoice_id)
    )
    done: dict[uuid.UUID, tuple[int, int, int]] = {}
    for line_id, net, tax, amount in credited:
        n, t, a = done.get(line_id, (0, 0, 0))
        done[line_id] = (n + net, t + tax, a + amount)
    rows = await session.execute(
        select(
            InvoiceLine.id, InvoiceLine.net_minor, InvoiceLine.tax_minor, InvoiceLine.amount_minor, Charge.tax_rate_bps
        )
        .join(Charge, Charge.id == InvoiceLine.charge_id)
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(InvoiceLine.position)
    )
    return [CreditableLine(*row, *done.get(row[0], (0, 0, 0))) for row in rows]


async def issue_credit_note(
    session: AsyncSession,
    *,
    invoice_id: uuid.UUID,
    reason: str,
    requests: Sequence[CreditRequest] | None,
    actor: Principal,
    now: datetime,
    tz: ZoneInfo,
    credit_note_id: uuid.UUID | None = None,
) -> CreditNote:
    found = await get_invoice(session, invoice_id)
    # Locks in the order every money write takes them: the account, then its documents.
    account = await ledger.get_account(session, found.customer_id, lock=True)
    invoice = await get_invoice(session, invoice_id, lock=True)
    planned = plan_credit(await creditable_lines(session, invoice.id), requests)
    issue_date = now.astimezone(tz).date()
    series = credit_note_series(issue_date.year)
    note = CreditNote(
        id=credit_note_id or new_id(),
        series=series,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        reason=reason,
        issue_date=issue_date,
        net_minor=sum(p.net_minor for p in planned),
        tax_minor=sum(p.tax_minor for p in planned),
        total_minor=sum(p.amount_minor for p in planned),
        currency=invoice.currency,
        issued_by=actor.id,
        issued_at=now,
    )
    (note.number,) = await take_numbers(session, series=series, count=1)
    session.add(note)
    session.add_all(
        CreditNoteLine(
            credit_note_id=note.id,
            invoice_line_id=p.invoice_line_id,
            net_minor=p.net_minor,
            tax_minor=p.tax_minor,
            amount_minor=p.amount_minor,
        )
        for p in planned
    )
    ledger.post(
        session,
        account,
        kind=LedgerKind.CREDIT_NOTE,
        amount_minor=-note.total_minor,
        at=now,
        actor_id=actor.id,
        invoice_id=invoice.id,
        credit_note_id=note.id,
        note=f"{note.number} for {invoice.number}",
    )
    before = {"credited_minor": invoice.credited_minor, "status": invoice.status}
    invoice.credited_minor += note.total_minor
    restate_invoice(invoice)
    record_audit(
        session,
        actor=actor,
        subject_type="invoice",
        subject_id=invoice.id,
        customer_id=invoice.customer_id,
        action="credit_note_issued",
        at=now,
        before=before,
        after={
            "credited_minor": invoice.credited_minor,
            "status": invoice.status,
            "credit_note": note.number,
            "credit_note_id": note.id,
            "total_minor": note.total_minor,
            "reason": reason,
        },
    )
    await session.flush()
    await credit.credit_freed(session, customer_id=invoice.customer_id, now=now)
    return note


async def get_credit_note(session: AsyncSession, credit_note_id: uuid.UUID, *, viewer: Principal) -> CreditNote:
    note = await session.get(CreditNote, credit_note_id)
    if note is None or (viewer.role == Role.CUSTOMER and note.customer_id != viewer.customer_id):
        raise NotFound("no such credit note", code="credit_note_not_found")
    return note


async def credit_note_lines(session: AsyncSession, credit_note_id: uuid.UUID) -> Sequence[CreditNoteLine]:
    stmt = (
        select(CreditNoteLine)
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .where(CreditNoteLine.credit_note_id == credit_note_id)
        .order_by(InvoiceLine.position)
    )
    return (await session.scalars(stmt)).all()


async def invoice_number(session: AsyncSession, invoice_id: uuid.UUID) -> str:
    number = await session.scalar(select(Invoice.number).where(Invoice.id == invoice_id))
    assert number is not None
    return number
