"""Money rows written straight through money's ledger and models, for document tests: charges (through
`money.ledger.charge`, the real writer), invoices with their lines, payments with allocations, credit notes.

Invoice runs, payments and credit notes have their own services (the billing workflows); these helpers write the
same rows directly so documents can be tested on a world whose figures are known by hand.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import create_engine, session_factory, unit_of_work
from money import ledger
from money.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment, PaymentAllocation
from money.states import LedgerKind, invoice_status_for


@asynccontextmanager
async def money_session(app: Any) -> AsyncIterator[AsyncSession]:
    """One committed unit of work on the test database, on an engine of its own: the app's pool belongs to the
    test client's event loop (asyncpg connections cannot cross loops)."""
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            yield session
    finally:
        await engine.dispose()


@dataclass
class Delivery:
    """One delivery or loading to charge: litres and prices as the orders domain would hand them over."""

    net_litres: int
    unit_price_minor: int = 800
    discount_minor: int = 0
    observed_litres: int | None = None
    temperature_c: float = 25.0
    product_code: str = "diesel-0"
    product_name: str = "0号柴油"
    pickup: bool = False

    @property
    def gross_minor(self) -> int:
        return self.net_litres * self.unit_price_minor

    @property
    def amount_minor(self) -> int:
        return self.gross_minor - self.discount_minor


@dataclass
class Billed:
    invoice: Invoice
    lines: list[InvoiceLine] = field(default_factory=list)


async def charge(session: AsyncSession, customer_id: uuid.UUID, delivery: Delivery, *, at: datetime) -> Any:
    account = await ledger.get_account(session, customer_id, lock=True)
    source = uuid.uuid4()
    suffix = uuid.uuid4().hex[:6].upper()
    line = ledger.ChargeLine(
        order_id=None if delivery.pickup else source,
        pickup_id=source if delivery.pickup else None,
        reference=f"{'PU' if delivery.pickup else 'DO'}-{at:%y%m%d}-{suffix}",
        document_number=f"{'T' if delivery.pickup else 'R'}-{suffix}",
        depot_id=None,
        product_code=delivery.product_code,
        product_name=delivery.product_name,
        observed_litres=delivery.observed_litres or delivery.net_litres + 50,
        temperature_c=delivery.temperature_c,
        net_litres=delivery.net_litres,
        net_kg=round(delivery.net_litres * 0.835),
        unit_price_minor=delivery.unit_price_minor,
        gross_minor=delivery.gross_minor,
        discount_minor=delivery.discount_minor,
        amount_minor=delivery.amount_minor,
    )
    return await ledger.charge(session, account, line, at=at, actor_id=None)


async def invoice(
    session: AsyncSession,
    customer_id: uuid.UUID,
    deliveries: list[tuple[Delivery, datetime]],
    *,
    issue_date: date,
    buyer_name: str = "测试物流 Test Logistics",
    buyer_tax_id: str | None = "91310000TEST00001X",
    terms_days: int = 30,
    number: str | None = None,
) -> Billed:
    """Charge the deliveries (ledger entries) and put them on one invoice issued on `issue_date`."""
    charges = [await charge(session, customer_id, d, at=at) for d, at in deliveries]
    split = [ledger.split_vat(c.amount_minor) for c in charges]
    total = sum(c.amount_minor for c in charges)
    billed = Billed(
        Invoice(
            id=uuid.uuid4(),
            number=number or f"INV-T-{uuid.uuid4().hex[:10].upper()}",
            series="INV-T",
            customer_id=customer_id,
            period_start=min(at for _, at in deliveries).date(),
            period_end=issue_date,
            issue_date=issue_date,
            due_date=issue_date + timedelta(days=terms_days),
            status="issued",
            buyer_name=buyer_name,
            buyer_tax_id=buyer_tax_id,
            net_minor=sum(net for net, _ in split),
            tax_minor=sum(tax for _, tax in split),
            total_minor=total,
            paid_minor=0,
            credited_minor=0,
            currency="CNY",
        )
    )
    session.add(billed.invoice)
    await session.flush()
    for position, (c, (net, tax)) in enumerate(zip(charges, split, strict=True), start=1):
        row = InvoiceLine(
            invoice_id=billed.invoice.id,
            charge_id=c.id,
            position=position,
            net_minor=net,
            tax_minor=tax,
            amount_minor=c.amount_minor,
        )
        session.add(row)
        billed.lines.append(row)
    await session.flush()
    return billed


async def pay(
    session: AsyncSession,
    customer_id: uuid.UUID,
    amount_minor: int,
    *,
    at: datetime,
    allocate: list[tuple[Invoice, int, datetime]] = (),  # type: ignore[assignment]
    reference: str | None = None,
    method: str = "bank_transfer",
) -> Payment:
    account = await ledger.get_account(session, customer_id, lock=True)
    payment = Payment(
        id=uuid.uuid4(),
        customer_id=customer_id,
        amount_minor=amount_minor,
        allocated_minor=sum(a for _, a, _ in allocate),
        currency="CNY",
        received_on=at.date(),
        method=method,
        reference=reference or f"BANK-{uuid.uuid4().hex[:8]}",
        recorded_at=at,
    )
    session.add(payment)
    await session.flush()
    ledger.post(session, account, kind=LedgerKind.PAYMENT, amount_minor=-amount_minor, at=at, payment_id=payment.id)
    for target, amount, allocated_at in allocate:
        session.add(
            PaymentAllocation(
                payment_id=payment.id, invoice_id=target.id, amount_minor=amount, allocated_at=allocated_at
            )
        )
        target.paid_minor += amount
        target.status = invoice_status_for(
            total_minor=target.total_minor, paid_minor=target.paid_minor, credited_minor=target.credited_minor
        )
    await session.flush()
    return payment


async def credit(
    session: AsyncSession,
    billed: Billed,
    lines: list[tuple[InvoiceLine, int]],
    *,
    issue_date: date,
    at: datetime,
    reason: str = "price correction",
) -> CreditNote:
    account = await ledger.get_account(session, billed.invoice.customer_id, lock=True)
    split = [ledger.split_vat(amount) for _, amount in lines]
    note = CreditNote(
        id=uuid.uuid4(),
        number=f"CN-T-{uuid.uuid4().hex[:10].upper()}",
        series="CN-T",
        invoice_id=billed.invoice.id,
        customer_id=billed.invoice.customer_id,
        reason=reason,
        issue_date=issue_date,
        net_minor=sum(n for n, _ in split),
        tax_minor=sum(t for _, t in split),
        total_minor=sum(a for _, a in lines),
        currency="CNY",
        issued_at=at,
    )
    session.add(note)
    await session.flush()
    for (line, amount), (net, tax) in zip(lines, split, strict=True):
        session.add(
            CreditNoteLine(
                credit_note_id=note.id, invoice_line_id=line.id, net_minor=net, tax_minor=tax, amount_minor=amount
            )
        )
    ledger.post(
        session,
        account,
        kind=LedgerKind.CREDIT_NOTE,
        amount_minor=-note.total_minor,
        at=at,
        invoice_id=billed.invoice.id,
        credit_note_id=note.id,
    )
    billed.invoice.credited_minor += note.total_minor
    billed.invoice.status = invoice_status_for(
        total_minor=billed.invoice.total_minor,
        paid_minor=billed.invoice.paid_minor,
        credited_minor=billed.invoice.credited_minor,
    )
    await session.flush()
    return note
