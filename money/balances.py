"""What a customer owes, derived from the ledger and the documents: uninvoiced, unpaid, prepaid and available.

balance (the ledger's sum) = uninvoiced + unpaid - prepaid, exactly:
- uninvoiced: charges on no invoice, plus adjustments (e.g. the opening balance);
- unpaid: per invoice, what payments and credit notes leave open (never below zero);
- prepaid: what is left, i.e. payments not yet allocated, credit notes beyond what was still open on a paid
  invoice, less refunds.
Available credit = limit + prepaid - open orders - uninvoiced - unpaid = limit - open orders - balance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import User
from money import ledger
from money.models import Charge, CreditAccount, Invoice, InvoiceLine, LedgerEntry
from money.states import LedgerKind


@dataclass(frozen=True, slots=True)
class Balance:
    account: CreditAccount
    uninvoiced_minor: int
    unpaid_invoices_minor: int

    @property
    def balance_minor(self) -> int:
        return self.account.balance_minor

    @property
    def prepaid_minor(self) -> int:
        return self.uninvoiced_minor + self.unpaid_invoices_minor - self.account.balance_minor

    @property
    def available_minor(self) -> int:
        return ledger.available_minor(self.account)


async def uninvoiced_minor(session: AsyncSession, customer_id: uuid.UUID) -> int:
    charges = await session.scalar(
        select(func.coalesce(func.sum(Charge.amount_minor), 0))
        .outerjoin(InvoiceLine, InvoiceLine.charge_id == Charge.id)
        .where(Charge.customer_id == customer_id, InvoiceLine.id.is_(None))
    )
    adjustments = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.customer_id == customer_id, LedgerEntry.kind == str(LedgerKind.ADJUSTMENT)
        )
    )
    return int(charges or 0) + int(adjustments or 0)


async def unpaid_invoices_minor(session: AsyncSession, customer_id: uuid.UUID) -> int:
    open_part = Invoice.total_minor - Invoice.paid_minor - Invoice.credited_minor
    total = await session.scalar(
        select(func.coalesce(func.sum(case((open_part > 0, open_part), else_=0)), 0)).where(
            Invoice.customer_id == customer_id
        )
    )
    return int(total or 0)


async def balance_of(session: AsyncSession, customer_id: uuid.UUID) -> Balance:
    account = await ledger.get_account(session, customer_id)
    return Balance(
        account=account,
        uninvoiced_minor=await uninvoiced_minor(session, customer_id),
        unpaid_invoices_minor=await unpaid_invoices_minor(session, customer_id),
    )


@dataclass(frozen=True, slots=True)
class LedgerLine:
    entry: LedgerEntry
    actor: str | None


async def ledger_page(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[LedgerLine], int]:
    """Entries in the order they happened (oldest first), each with the balance after it."""
    await ledger.get_account(session, customer_id)
    conditions = [LedgerEntry.customer_id == customer_id]
    if since is not None:
        conditions.append(LedgerEntry.at >= since)
    if until is not None:
        conditions.append(LedgerEntry.at < until)
    total = await session.scalar(select(func.count()).select_from(LedgerEntry).where(*conditions)) or 0
    rows = (
        await session.execute(
            select(LedgerEntry, User.username)
            .outerjoin(User, User.id == LedgerEntry.actor_id)
            .where(*conditions)
            .order_by(LedgerEntry.at, LedgerEntry.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [LedgerLine(entry=entry, actor=username) for entry, username in rows], total
