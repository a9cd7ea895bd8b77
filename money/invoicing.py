"""Invoices: the charges of complete billing periods turned into numbered invoices, one per account and period,
each charge on at most one invoice; and reading them back.

`invoice_customer` is one account's share of an invoice run, in the caller's transaction: it locks the account
row (so two runs never invoice one account at once), reads its uninvoiced charges, and writes the invoices and
their lines in two bulk statements (a run of 100,000 charges makes no ORM object per line).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import Principal, Role
from core.errors import InvalidInput, NotFound
from core.events import record_event
from core.ids import new_id
from money.ledger import split_vat
from money.models import Charge, CreditAccount, CreditNote, CreditNoteLine, Invoice, InvoiceLine
from money.numbering import invoice_series, take_numbers
from money.parties import customer_accounts
from money.periods import BillingPeriod, end_of_day_utc, last_complete_day, period_of
from money.states import InvoiceStatus

# --- drafting (pure) ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UninvoicedCharge:
    id: uuid.UUID
    at: datetime
    amount_minor: int
    tax_rate_bps: int


@dataclass(slots=True)
class Draft:
    period_start: date
    period_end: date
    charges: list[UninvoicedCharge] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DraftLine:
    charge_id: uuid.UUID
    position: int
    net_minor: int
    tax_minor: int
    amount_minor: int


def draft_invoices(charges: Sequence[UninvoicedCharge], *, billing: BillingPeriod, tz: ZoneInfo) -> list[Draft]:
    """Charges (oldest first) grouped into one draft per period (per delivery: one per charge), oldest first."""
    drafts: dict[tuple[date, date] | uuid.UUID, Draft] = {}
    for charge in charges:
        start, end = period_of(charge.at.astimezone(tz).date(), billing)
        key = charge.id if billing == BillingPeriod.PER_DELIVERY else (start, end)
        drafts.setdefault(key, Draft(period_start=start, period_end=end)).charges.append(charge)
    return list(drafts.values())


def draft_lines(draft: Draft) -> list[DraftLine]:
    """A line per charge, its VAT split out of the VAT-inclusive amount."""
    lines = []
    for position, charge in enumerate(draft.charges, start=1):
        net, tax = split_vat(charge.amount_minor, charge.tax_rate_bps)
        lines.append(DraftLine(charge.id, position, net, tax, charge.amount_minor))
    return lines


# --- one account's share of a run ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issued:
    numbers: list[str]
    total_minor: int


async def invoice_customer(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    period_end: date,
    issue_date: date,
    run_id: uuid.UUID | None,
    tz: ZoneInfo,
    now: datetime,
    actor: Principal | None,
) -> Issued:
    """Invoice the account's uninvoiced charges of periods complete by `period_end`; nothing when there are none."""
    buyers = customer_accounts.c
    account = (
        await session.execute(
            select(
                CreditAccount.billing_period,
                CreditAccount.payment_terms_days,
                CreditAccount.currency,
                buyers.name,
                buyers.tax_id,
            )
            .join(customer_accounts, buyers.id == CreditAccount.customer_id)
            .where(CreditAccount.customer_id == customer_id)
            .with_for_update(of=CreditAccount)  # the account's money, not the orders domain's row
        )
    ).one_or_none()
    if account is None:
        return Issued(numbers=[], total_minor=0)
    billing = BillingPeriod(account.billing_period)
    cutoff = end_of_day_utc(last_complete_day(period_end, billing), tz)
    charges = [
        UninvoicedCharge(*row)
        for row in await session.execute(
            select(Charge.id, Charge.at, Charge.amount_minor, Charge.tax_rate_bps)
            .outerjoin(InvoiceLine, InvoiceLine.charge_id == Charge.id)
            .where(Charge.customer_id == customer_id, Charge.at < cutoff, InvoiceLine.id.is_(None))
            .order_by(Charge.at, Charge.id)
        )
    ]
    if not charges:
        return Issued(numbers=[], total_minor=0)
    drafts = draft_invoices(charges, billing=billing, tz=tz)
    numbers = await take_numbers(session, series=invoice_series(issue_date.year), count=len(drafts))
    invoices: list[dict[str, object]] = []
    lines: list[dict[str, object]] = []
    total = 0
    for draft, number in zip(drafts, numbers, strict=True):
        invoice_id = new_id()
        drafted = draft_lines(draft)
        invoice_total = sum(line.amount_minor for line in drafted)
        total += invoice_total
        lines += [
            {
                "id": new_id(),
                "invoice_id": invoice_id,
                "charge_id": line.charge_id,
                "position": line.position,
                "net_minor": line.net_minor,
                "tax_minor": line.tax_minor,
                "amount_minor": line.amount_minor,
            }
            for line in drafted
        ]
        invoices.append(
            {
                "id": invoice_id,
                "number": number,
                "series": invoice_series(issue_date.year),
                "customer_id": customer_id,
                "run_id": run_id,
                "period_start": draft.period_start,
                "period_end": draft.period_end,
                "issue_date": issue_date,
                "due_date": issue_date + timedelta(days=account.payment_terms_days),
                "status": str(InvoiceStatus.ISSUED),
                "buyer_name": account.name,
                "buyer_tax_id": account.tax_id,
                "net_minor": sum(line.net_minor for line in drafted),
                "tax_minor": sum(line.tax_minor for line in drafted),
                "total_minor": invoice_total,
                "paid_minor": 0,
                "credited_minor": 0,
                "currency": account.currency,
                "issued_at": now,
            }
        )
    await session.execute(insert(Invoice), invoices)
    await session.execute(insert(InvoiceLine), lines)
    for invoice in invoices:  # the customer hears of each (notify reads the event log)
        record_event(
            session,
            subject_type="invoice",
            subject_id=cast(uuid.UUID, invoice["id"]),
            customer_id=customer_id,
            type="invoice_issued",
            at=now,
            actor=actor,
            to_status=str(InvoiceStatus.ISSUED),
            data={
                "number": invoice["number"],
                "total_minor": invoice["total_minor"],
                "currency": invoice["currency"],
                "due_date": cast(date, invoice["due_date"]).isoformat(),
            },
        )
    record_audit(
        session,
        actor=actor,
        subject_type="invoice_run",
        subject_id=run_id,
        customer_id=customer_id,
        action="invoices_issued",
        at=now,
        after={"numbers": numbers, "total_minor": total, "period_end": period_end.isoformat()},
    )
    return Issued(numbers=numbers, total_minor=total)


async def customers_to_invoice(
    session: AsyncSession, *, period_end: date, tz: ZoneInfo, customer_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """Accounts with uninvoiced charges up to `period_end` (whether their periods are complete is theirs to say)."""
    stmt = (
        select(Charge.customer_id)
        .outerjoin(InvoiceLine, InvoiceLine.charge_id == Charge.id)
        .where(Charge.at < end_of_day_utc(period_end, tz), InvoiceLine.id.is_(None))
        .group_by(Charge.customer_id)
        .order_by(Charge.customer_id)
    )
    if customer_id is not None:
        stmt = stmt.where(Charge.customer_id == customer_id)
    return list(await session.scalars(stmt))


# --- reading ------------------------------------------------------------------------------------------------


def outstanding_minor(invoice: Invoice) -> int:
    return max(0, invoice.total_minor - invoice.paid_minor - invoice.credited_minor)


def visible_customer(viewer: Principal, customer_id: uuid.UUID | None) -> uuid.UUID | None:
    """The account a list is narrowed to: a customer's own, whatever it asked for."""
    return viewer.customer_id if viewer.role == Role.CUSTOMER else customer_id


async def get_invoice(
    session: AsyncSession, invoice_id: uuid.UUID, *, viewer: Principal | None = None, lock: bool = False
) -> Invoice:
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    invoice = (await session.execute(stmt)).scalar_one_or_none()
    if invoice is None or (
        viewer is not None and viewer.role == Role.CUSTOMER and invoice.customer_id != viewer.customer_id
    ):
        raise NotFound("no such invoice", code="invoice_not_found")
    return invoice


async def list_invoices(
    session: AsyncSession,
    *,
    viewer: Principal,
    customer_id: uuid.UUID | None,
    status: str | None,
    since: date | None,
    until: date | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Invoice], int]:
    """Newest first; `since`/`until` bound the issue date (both inclusive)."""
    conditions = []
    if (owner := visible_customer(viewer, customer_id)) is not None:
        conditions.append(Invoice.customer_id == owner)
    if status is not None:
        if status not in InvoiceStatus.__members__.values():
            raise InvalidInput(f"unknown status '{status}'", code="invalid_status", field="status")
        conditions.append(Invoice.status == status)
    if since is not None:
        conditions.append(Invoice.issue_date >= since)
    if until is not None:
        conditions.append(Invoice.issue_date <= until)
    total = await session.scalar(select(func.count()).select_from(Invoice).where(*conditions)) or 0
    rows = (
        await session.scalars(
            select(Invoice)
            .where(*conditions)
            .order_by(Invoice.issue_date.desc(), Invoice.number.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, total


@dataclass(frozen=True, slots=True)
class LineView:
    line: InvoiceLine
    charge: Charge
    credited_minor: int


async def credited_per_line(session: AsyncSession, invoice_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """What credit notes took off each line of the invoice so far."""
    rows = await session.execute(
        select(CreditNoteLine.invoice_line_id, func.sum(CreditNoteLine.amount_minor))
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .where(InvoiceLine.invoice_id == invoice_id)
        .group_by(CreditNoteLine.invoice_line_id)
    )
    return {line_id: int(amount) for line_id, amount in rows}


async def invoice_lines(session: AsyncSession, invoice_id: uuid.UUID) -> list[LineView]:
    credited = await credited_per_line(session, invoice_id)
    rows = await session.execute(
        select(InvoiceLine, Charge)
        .join(Charge, Charge.id == InvoiceLine.charge_id)
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(InvoiceLine.position)
    )
    return [LineView(line=line, charge=charge, credited_minor=credited.get(line.id, 0)) for line, charge in rows]


async def credit_notes_of(session: AsyncSession, invoice_id: uuid.UUID) -> Sequence[CreditNote]:
    stmt = select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.number)
    return (await session.scalars(stmt)).all()
