"""Payments: money received (or a prepaid top-up) written to the ledger and allocated to invoices, oldest first
unless told otherwise; allocations never exceed what the payment has left or what the invoice has open.

Every write locks the account row first, then the payment, then the invoices, so concurrent money writes of one
customer queue instead of deadlocking or over-allocating.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.audit import record_audit
from core.auth import Principal, Role
from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.ids import new_id
from money import credit, ledger
from money.invoicing import get_invoice, outstanding_minor, visible_customer
from money.models import CreditAccount, Invoice, Payment, PaymentAllocation
from money.states import InvoiceStatus, LedgerKind, invoice_status_for, invoice_transition

OPEN_STATUSES = (str(InvoiceStatus.ISSUED), str(InvoiceStatus.PART_PAID))


def restate_invoice(invoice: Invoice) -> None:
    """Move the invoice to the status its figures now give it (through the allowed transitions)."""
    target = invoice_status_for(
        total_minor=invoice.total_minor, paid_minor=invoice.paid_minor, credited_minor=invoice.credited_minor
    )
    if target != invoice.status:
        invoice_transition(invoice.status, target)
        invoice.status = str(target)


# --- allocation (pure) -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    id: uuid.UUID
    outstanding_minor: int


def oldest_first(invoices: Sequence[OpenInvoice], amount_minor: int) -> list[tuple[uuid.UUID, int]]:
    """(invoice id, amount) pairs covering the invoices in the order given until the amount runs out."""
    plan, left = [], amount_minor
    for invoice in invoices:
        if left <= 0:
            break
        take = min(left, invoice.outstanding_minor)
        if take > 0:
            plan.append((invoice.id, take))
            left -= take
    return plan


# --- recording ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPayment:
    customer_id: uuid.UUID
    amount_minor: int
    received_on: date
    method: str
    reference: str | None
    allocate: bool = True


async def record_payment(
    session: AsyncSession,
    *,
    data: NewPayment,
    actor: Principal,
    now: datetime,
    tz: ZoneInfo,
    idempotency_key: str | None = None,
    digest: str | None = None,
) -> tuple[Payment, bool]:
    """Record a payment (replayed when the key was used before with the same body): (payment, created)."""
    payment_id = new_id()
    if idempotency_key is not None:
        assert digest is not None
        first = await idempotency.claim_for(
            session, scope=f"payments:{actor.id}", key=idempotency_key, digest=digest, resource_id=payment_id
        )
        if first is not None:
            return await get_payment(session, first, viewer=actor), False
    if data.received_on > now.astimezone(tz).date():
        raise InvalidInput("a payment cannot be received in the future", code="received_in_future", field="received_on")
    account = await ledger.get_account(session, data.customer_id, lock=True)
    payment = await add_payment(session, account, data=data, actor=actor, now=now, payment_id=payment_id)
    await credit.credit_freed(session, customer_id=account.customer_id, now=now)
    return payment, True


async def add_payment(
    session: AsyncSession,
    account: CreditAccount,
    *,
    data: NewPayment,
    actor: Principal | None,
    now: datetime,
    payment_id: uuid.UUID | None = None,
    bank_line_id: uuid.UUID | None = None,
    invoices_first: Sequence[uuid.UUID] = (),
) -> Payment:
    """The payment, its ledger entry and its allocations (to `invoices_first`, then oldest first). The caller
    holds the account's lock and tells the credit listeners."""
    payment = Payment(
        id=payment_id or new_id(),
        customer_id=account.customer_id,
        amount_minor=data.amount_minor,
        allocated_minor=0,
        currency=account.currency,
        received_on=data.received_on,
        method=data.method,
        reference=data.reference,
        bank_line_id=bank_line_id,
        recorded_by=actor.id if actor else None,
        recorded_at=now,
    )
    session.add(payment)
    kind = LedgerKind.PREPAYMENT if data.method == "prepaid_topup" else LedgerKind.PAYMENT
    ledger.post(
        session,
        account,
        kind=kind,
        amount_minor=-data.amount_minor,
        at=now,
        actor_id=actor.id if actor else None,
        payment_id=payment.id,
        note=data.reference,
    )
    await session.flush()
    allocated = []
    if data.allocate:
        allocated = await _allocate_in_order(session, payment, invoices_first=invoices_first, actor=actor, now=now)
    record_event(  # the customer hears of it (notify reads the event log)
        session,
        subject_type="payment",
        subject_id=payment.id,
        customer_id=payment.customer_id,
        type="payment_received",
        at=now,
        actor=actor,
        data={
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "received_on": payment.received_on.isoformat(),
            "method": payment.method,
        },
    )
    record_audit(
        session,
        actor=actor,
        subject_type="payment",
        subject_id=payment.id,
        customer_id=payment.customer_id,
        action="payment_recorded",
        at=now,
        after={
            "amount_minor": payment.amount_minor,
            "method": payment.method,
            "received_on": payment.received_on.isoformat(),
            "reference": payment.reference,
            "bank_line_id": bank_line_id,
            "allocations": [{"invoice_id": i, "amount_minor": a} for i, a in allocated],
        },
    )
    await session.flush()
    return payment


async def _allocate_in_order(
    session: AsyncSession,
    payment: Payment,
    *,
    invoices_first: Sequence[uuid.UUID],
    actor: Principal | None,
    now: datetime,
) -> list[tuple[uuid.UUID, int]]:
    invoices = (
        await session.scalars(
            select(Invoice)
            .where(Invoice.customer_id == payment.customer_id, Invoice.status.in_(OPEN_STATUSES))
            .order_by(Invoice.issue_date, Invoice.number)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    rank = {invoice_id: i for i, invoice_id in enumerate(invoices_first)}
    ordered = sorted(invoices, key=lambda inv: rank.get(inv.id, len(rank)))  # stable: oldest first after those
    by_id = {invoice.id: invoice for invoice in invoices}
    plan = oldest_first([OpenInvoice(i.id, outstanding_minor(i)) for i in ordered], payment.amount_minor)
    for invoice_id, amount in plan:
        _apply(session, payment, by_id[invoice_id], amount, actor=actor, now=now)
    return plan


def _apply(
    session: AsyncSession,
    payment: Payment,
    invoice: Invoice,
    amount: int,
    *,
    actor: Principal | None,
    now: datetime,
    allocation_id: uuid.UUID | None = None,
) -> PaymentAllocation:
    before = {"paid_minor": invoice.paid_minor, "status": invoice.status}
    allocation = PaymentAllocation(
        id=allocation_id or new_id(),
        payment_id=payment.id,
        invoice_id=invoice.id,
        amount_minor=amount,
        allocated_by=actor.id if actor else None,
        allocated_at=now,
    )
    session.add(allocation)
    payment.allocated_minor += amount
    invoice.paid_minor += amount
    restate_invoice(invoice)
    record_audit(
        session,
        actor=actor,
        subject_type="invoice",
        subject_id=invoice.id,
        customer_id=invoice.customer_id,
        action="payment_allocated",
        at=now,
        before=before,
        after={
            "paid_minor": invoice.paid_minor,
            "status": invoice.status,
            "payment_id": payment.id,
            "amount_minor": amount,
        },
    )
    return allocation


async def allocate(
    session: AsyncSession,
    *,
    payment_id: uuid.UUID,
    invoice_id: uuid.UUID,
    amount_minor: int,
    actor: Principal,
    now: datetime,
    idempotency_key: str | None = None,
    digest: str | None = None,
) -> tuple[Payment, bool]:
    """Allocate part of a payment's remainder to one invoice of the same customer: (payment, created)."""
    allocation_id = new_id()
    if idempotency_key is not None:
        assert digest is not None
        first = await idempotency.claim_for(
            session, scope=f"allocations:{actor.id}", key=idempotency_key, digest=digest, resource_id=allocation_id
        )
        if first is not None:
            done = await session.get(PaymentAllocation, first)
            if done is None:
                raise NotFound("no such allocation", code="allocation_not_found")
            return await get_payment(session, done.payment_id, viewer=actor), False
    found = await get_payment(session, payment_id, viewer=actor)
    await ledger.get_account(session, found.customer_id, lock=True)
    payment = await get_payment(session, payment_id, viewer=actor, lock=True)
    invoice = await get_invoice(session, invoice_id, lock=True)
    if invoice.customer_id != payment.customer_id:
        raise InvalidInput(
            "the invoice belongs to another customer than the payment",
            code="invoice_of_another_customer",
            field="invoice_id",
        )
    left = payment.amount_minor - payment.allocated_minor
    if amount_minor > left:
        raise Conflict(
            f"the payment has {left} left to allocate, not {amount_minor}",
            code="exceeds_payment_remainder",
            field="amount_minor",
        )
    if amount_minor > outstanding_minor(invoice):
        raise Conflict(
            f"invoice {invoice.number} has {outstanding_minor(invoice)} open, not {amount_minor}",
            code="exceeds_invoice_outstanding",
            field="amount_minor",
        )
    _apply(session, payment, invoice, amount_minor, actor=actor, now=now, allocation_id=allocation_id)
    await session.flush()
    return payment, True


# --- reading ------------------------------------------------------------------------------------------------


async def get_payment(
    session: AsyncSession, payment_id: uuid.UUID, *, viewer: Principal, lock: bool = False
) -> Payment:
    stmt = select(Payment).where(Payment.id == payment_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    payment = (await session.execute(stmt)).scalar_one_or_none()
    if payment is None or (viewer.role == Role.CUSTOMER and payment.customer_id != viewer.customer_id):
        raise NotFound("no such payment", code="payment_not_found")
    return payment


async def allocations_of(
    session: AsyncSession, payment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[PaymentAllocation, str]]]:
    """Each payment's allocations (with the invoice's number), in the order they were made; one query for a page."""
    found: dict[uuid.UUID, list[tuple[PaymentAllocation, str]]] = {payment_id: [] for payment_id in payment_ids}
    rows = await session.execute(
        select(PaymentAllocation, Invoice.number)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(PaymentAllocation.payment_id.in_(list(payment_ids)))
        .order_by(PaymentAllocation.allocated_at, PaymentAllocation.id)
    )
    for allocation, number in rows:
        found[allocation.payment_id].append((allocation, number))
    return found


async def list_payments(
    session: AsyncSession,
    *,
    viewer: Principal,
    customer_id: uuid.UUID | None,
    since: date | None,
    until: date | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Payment], int]:
    """Newest first; `since`/`until` bound the day received (both inclusive)."""
    conditions = []
    if (owner := visible_customer(viewer, customer_id)) is not None:
        conditions.append(Payment.customer_id == owner)
    if since is not None:
        conditions.append(Payment.received_on >= since)
    if until is not None:
        conditions.append(Payment.received_on <= until)
    total = await session.scalar(select(func.count()).select_from(Payment).where(*conditions)) or 0
    rows = await session.scalars(
        select(Payment)
        .where(*conditions)
        .order_by(Payment.received_on.desc(), Payment.recorded_at.desc(), Payment.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), total
