"""Monthly statements of account: opening balance, the month's ledger movements with a running balance, closing
balance, and the ageing of unpaid invoices at month end.

- The month is a calendar month in the account's time zone (the deployment's DEFAULT_TIMEZONE, Asia/Shanghai
  unless configured): it starts at local midnight on the 1st.
- Opening balance = the sum of the ledger before the month; closing = opening + the month's movements (so the
  statement always adds up, whatever order entries were written in).
- Ageing counts days from the invoice's ISSUE date to the last day of the month (0-30, 31-60, 61-90, 90+): the
  age of the debt, which does not move when payment terms change; each unpaid invoice also shows its due date.
- An invoice's unpaid amount at month end = its total - allocations made before the month ended - credit notes
  issued up to the last day. Payments received but not yet allocated lower the balance, not the ageing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import BigInteger, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from money.documents.records import Customer
from money.models import Charge, CreditAccount, CreditNote, Invoice, LedgerEntry, Payment, PaymentAllocation
from money.states import InvoiceStatus

BUCKETS = ("0-30", "31-60", "61-90", "90+")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, slots=True)
class Month:
    first_day: date
    last_day: date
    starts_at: datetime  # UTC instant of local midnight on the first day
    ends_at: datetime  # ... on the first day of the next month

    @property
    def label(self) -> str:
        return f"{self.first_day:%Y-%m}"


def parse_month(text: str, *, timezone: str) -> Month:
    """'2030-01' in a time zone; anything else is a 422 on the `month` field."""
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1900:
        raise InvalidInput("the month is YYYY-MM, e.g. 2030-01", code="invalid_month", field="month")
    first = date(int(match[1]), int(match[2]), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    zone = ZoneInfo(timezone)
    return Month(
        first_day=first,
        last_day=following - timedelta(days=1),
        starts_at=datetime.combine(first, time(), zone).astimezone(UTC),
        ends_at=datetime.combine(following, time(), zone).astimezone(UTC),
    )


class Movement(msgspec.Struct, frozen=True, gc=False):
    """One ledger entry of the month. A msgspec struct, served as it is: a statement can hold thousands, and
    each copy into another shape costs time the 200 ms budget of a statement does not have."""

    id: uuid.UUID
    at: datetime
    day: date  # in the account's time zone
    kind: str
    amount_minor: int
    balance_minor: int  # running: opening + this and every earlier movement of the month
    reference: str | None  # order/booking reference, payment reference or credit note number
    description: str | None


@dataclass(frozen=True, slots=True)
class AgedInvoice:
    invoice_id: uuid.UUID
    number: str
    issue_date: date
    due_date: date
    total_minor: int
    unpaid_minor: int
    age_days: int
    bucket: str


@dataclass(frozen=True, slots=True)
class Statement:
    customer: Customer
    month: Month
    timezone: str
    currency: str
    opening_balance_minor: int
    movements: tuple[Movement, ...]
    closing_balance_minor: int
    ageing: dict[str, int]  # bucket -> unpaid amount, every bucket present, in BUCKETS order
    unpaid_invoices: tuple[AgedInvoice, ...]

    @property
    def unpaid_invoices_minor(self) -> int:
        return sum(invoice.unpaid_minor for invoice in self.unpaid_invoices)

    @property
    def charged_minor(self) -> int:
        """What the month added to the balance (charges, refunds, positive adjustments)."""
        return sum(m.amount_minor for m in self.movements if m.amount_minor > 0)

    @property
    def credited_minor(self) -> int:
        """What the month took off (payments, credit notes, negative adjustments), as a negative number."""
        return sum(m.amount_minor for m in self.movements if m.amount_minor < 0)


def bucket_for(age_days: int) -> str:
    if age_days <= 30:
        return BUCKETS[0]
    if age_days <= 60:
        return BUCKETS[1]
    if age_days <= 90:
        return BUCKETS[2]
    return BUCKETS[3]


def age_invoices(rows: Sequence[tuple[uuid.UUID, str, date, date, int, int]], *, as_of: date) -> list[AgedInvoice]:
    """(id, number, issue date, due date, total, unpaid) -> aged invoices, oldest first; settled ones dropped."""
    aged = [
        AgedInvoice(
            invoice_id=invoice_id,
            number=number,
            issue_date=issued,
            due_date=due,
            total_minor=total,
            unpaid_minor=unpaid,
            age_days=(as_of - issued).days,
            bucket=bucket_for((as_of - issued).days),
        )
        for invoice_id, number, issued, due, total, unpaid in rows
        if unpaid > 0
    ]
    return sorted(aged, key=lambda invoice: (invoice.issue_date, invoice.number))


def ageing_totals(invoices: Sequence[AgedInvoice]) -> dict[str, int]:
    totals = dict.fromkeys(BUCKETS, 0)
    for invoice in invoices:
        totals[invoice.bucket] += invoice.unpaid_minor
    return totals


async def _opening_balance(session: AsyncSession, customer_id: uuid.UUID, month: Month) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.customer_id == customer_id, LedgerEntry.at < month.starts_at
        )
    )
    return int(total or 0)


def _describe(note: str | None, product: str | None, litres: int | None, method: str | None) -> str | None:
    """'0号柴油 5,000 L · R-1234' for a charge, 'bank_transfer · …' for a payment, else the entry's note."""
    head = f"{product} {litres:,} L" if product is not None and litres is not None else method
    if head is None:
        return note
    return f"{head} · {note}" if note else head


async def _movements(
    session: AsyncSession, customer_id: uuid.UUID, month: Month, *, opening: int, zone: ZoneInfo
) -> list[Movement]:
    # On the session's connection, not through the ORM: plain rows, without the ORM's per-row bookkeeping.
    connection = await session.connection()
    rows = await connection.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.at,
            LedgerEntry.kind,
            LedgerEntry.amount_minor,
            LedgerEntry.note,
            Charge.reference,
            Charge.product_name,
            Charge.net_litres,
            Payment.reference,
            Payment.method,
            CreditNote.number,
        )
        .outerjoin(Charge, Charge.ledger_entry_id == LedgerEntry.id)
        .outerjoin(Payment, Payment.id == LedgerEntry.payment_id)
        .outerjoin(CreditNote, CreditNote.id == LedgerEntry.credit_note_id)
        .where(
            LedgerEntry.customer_id == customer_id,
            LedgerEntry.at >= month.starts_at,
            LedgerEntry.at < month.ends_at,
        )
        .order_by(LedgerEntry.at, LedgerEntry.id)
    )
    # Rows come in time order, so each one's local day is found by walking the month's midnights (a comparison a
    # row, where a time zone conversion per row costs more than the rest of the row's work).
    days = [month.first_day + timedelta(days=n) for n in range((month.last_day - month.first_day).days + 1)]
    midnights = [datetime.combine(day, time(), zone).astimezone(UTC) for day in days[1:]] + [month.ends_at]
    today = 0
    balance = opening
    movements = []
    for entry_id, at, kind, amount, note, order_ref, product, litres, pay_ref, method, note_number in rows:
        while at >= midnights[today]:
            today += 1
        balance += amount
        movements.append(
            Movement(
                entry_id,
                at,
                days[today],
                kind,
                amount,
                balance,
                order_ref or note_number or pay_ref,
                _describe(note, product, litres, method),
            )
        )
    return movements


async def _unpaid_at_month_end(session: AsyncSession, customer_id: uuid.UUID, month: Month) -> list[AgedInvoice]:
    paid_before = (
        select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0))
        .where(PaymentAllocation.invoice_id == Invoice.id, PaymentAllocation.allocated_at < month.ends_at)
        .scalar_subquery()
    )
    credited_by = (
        select(func.coalesce(func.sum(func.abs(CreditNote.total_minor)), 0))
        .where(CreditNote.invoice_id == Invoice.id, CreditNote.issue_date <= month.last_day)
        .scalar_subquery()
    )
    # Invoices settled today were maybe still open at month end: those paid or credited after it.
    settled_later = or_(
        exists().where(PaymentAllocation.invoice_id == Invoice.id, PaymentAllocation.allocated_at >= month.ends_at),
        exists().where(CreditNote.invoice_id == Invoice.id, CreditNote.issue_date > month.last_day),
    )
    rows = await session.execute(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.total_minor,
            # PostgreSQL sums bigints as numeric: back to a 64-bit integer.
            cast(Invoice.total_minor - paid_before - credited_by, BigInteger),
        ).where(
            Invoice.customer_id == customer_id,
            Invoice.issue_date <= month.last_day,
            or_(Invoice.status.in_([InvoiceStatus.ISSUED, InvoiceStatus.PART_PAID]), settled_later),
        )
    )
    return age_invoices(rows.all(), as_of=month.last_day)


async def build_statement(session: AsyncSession, *, customer: Customer, month: str, timezone: str) -> Statement:
    period = parse_month(month, timezone=timezone)
    account = await session.get(CreditAccount, customer.id)
    if account is None:
        raise NotFound("no such customer", code="customer_not_found")
    opening = await _opening_balance(session, customer.id, period)
    movements = await _movements(session, customer.id, period, opening=opening, zone=ZoneInfo(timezone))
    unpaid = await _unpaid_at_month_end(session, customer.id, period)
    return Statement(
        customer=customer,
        month=period,
        timezone=timezone,
        currency=account.currency,
        opening_balance_minor=opening,
        movements=tuple(movements),
        closing_balance_minor=movements[-1].balance_minor if movements else opening,
        ageing=ageing_totals(unpaid),
        unpaid_invoices=tuple(unpaid),
    )


# A PDF lists each movement up to this many; past it, movements are summed per day and kind (WeasyPrint lays out
# some 150 table rows a second: a month of 5,000 deliveries would take half a minute). CSV and XLSX list each.
PDF_DETAIL_LIMIT = 400


@dataclass(frozen=True, slots=True)
class PrintedMovement:
    """A row of a statement's PDF: one movement, or consecutive movements of one day and kind summed."""

    day: date
    kind: str
    count: int
    amount_minor: int
    balance_minor: int  # after the row's last movement
    reference: str | None
    description: str | None


def printed_movements(movements: Sequence[Movement], *, limit: int = PDF_DETAIL_LIMIT) -> list[PrintedMovement]:
    rows: list[PrintedMovement] = []
    for m in movements:
        last = rows[-1] if rows else None
        if len(movements) > limit and last is not None and (last.day, last.kind) == (m.day, m.kind):
            rows[-1] = PrintedMovement(
                day=m.day,
                kind=m.kind,
                count=last.count + 1,
                amount_minor=last.amount_minor + m.amount_minor,
                balance_minor=m.balance_minor,
                reference=None,
                description=None,
            )
        else:
            rows.append(PrintedMovement(m.day, m.kind, 1, m.amount_minor, m.balance_minor, m.reference, m.description))
    return rows
