"""The ledger: the one place that writes money.

Every movement is a `LedgerEntry` appended under the account's row lock, and the account's cached figures
(`balance_minor`, `open_orders_minor`) change in the same statement batch, so they always equal what the ledger
and the open commitments say (`check_account` proves it; the property tests run it after every step).

Credit: an order or booking is confirmed only while `available_minor` covers it. Confirming *reserves* its
amount (open orders); delivering or loading *releases* the reservation and *charges* what actually left the
tanker or the rack; cancelling, failing or expiring releases without a charge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from money.models import Charge, CreditAccount, LedgerEntry
from money.states import LEDGER_SIGNS, LedgerKind

VAT_RATE_BPS = 1300  # 13 % on refined oil products in China


async def open_account(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    currency: str,
    credit_limit_minor: int,
    kind: str = "credit",
    billing_period: str = "monthly",
    payment_terms_days: int = 30,
    now: datetime,
) -> CreditAccount:
    account = CreditAccount(
        customer_id=customer_id,
        currency=currency,
        kind=kind,
        credit_limit_minor=0 if kind == "prepaid" else credit_limit_minor,
        billing_period=billing_period,
        payment_terms_days=payment_terms_days,
        open_orders_minor=0,
        balance_minor=0,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    return account


async def get_account(session: AsyncSession, customer_id: uuid.UUID, *, lock: bool = False) -> CreditAccount:
    stmt = select(CreditAccount).where(CreditAccount.customer_id == customer_id)
    if lock:
        # Refreshed: a copy read earlier in this session (before the lock) may be out of date.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    account = (await session.execute(stmt)).scalar_one_or_none()
    if account is None:
        raise NotFound("no such customer", code="customer_not_found")
    return account


def available_minor(account: CreditAccount) -> int:
    """Limit + prepaid - open orders - uninvoiced - unpaid, i.e. limit - open orders - balance."""
    return account.credit_limit_minor - account.open_orders_minor - account.balance_minor


def credit_allows(account: CreditAccount, amount_minor: int) -> bool:
    return amount_minor <= available_minor(account)


def reserve(account: CreditAccount, amount_minor: int, *, now: datetime) -> bool:
    """Take `amount_minor` of the account's credit for a confirmed order or booking, if it is available.
    The caller holds the account's row lock."""
    if not credit_allows(account, amount_minor):
        return False
    account.open_orders_minor += amount_minor
    account.updated_at = now
    return True


def release(account: CreditAccount, amount_minor: int, *, now: datetime) -> None:
    """Give back a reservation (delivered, loaded, cancelled, failed, expired). The caller holds the lock."""
    account.open_orders_minor -= amount_minor
    account.updated_at = now


def set_credit_limit(account: CreditAccount, credit_limit_minor: int, *, now: datetime) -> None:
    """A new credit limit. A prepaid account has none: it draws on what was paid in. The caller holds the lock."""
    if account.kind == "prepaid" and credit_limit_minor != 0:
        raise InvalidInput(
            "a prepaid account has no credit limit: it orders against what was paid in",
            code="prepaid_account",
            field="credit_limit_minor",
        )
    account.credit_limit_minor = credit_limit_minor
    account.updated_at = now


def post(
    session: AsyncSession,
    account: CreditAccount,
    *,
    kind: LedgerKind,
    amount_minor: int,
    at: datetime,
    actor_id: uuid.UUID | None = None,
    note: str | None = None,
    order_id: uuid.UUID | None = None,
    pickup_id: uuid.UUID | None = None,
    invoice_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
    credit_note_id: uuid.UUID | None = None,
) -> LedgerEntry:
    """Append one entry and move the cached balance with it. The caller holds the account's row lock."""
    sign = LEDGER_SIGNS[kind]
    if amount_minor == 0 or (sign and (amount_minor > 0) != (sign > 0)):
        raise InvalidInput(f"a {kind} entry cannot be {amount_minor}", code="invalid_ledger_amount")
    account.balance_minor += amount_minor
    account.updated_at = at
    entry = LedgerEntry(
        customer_id=account.customer_id,
        at=at,
        kind=str(kind),
        amount_minor=amount_minor,
        balance_minor=account.balance_minor,
        currency=account.currency,
        order_id=order_id,
        pickup_id=pickup_id,
        invoice_id=invoice_id,
        payment_id=payment_id,
        credit_note_id=credit_note_id,
        actor_id=actor_id,
        note=note,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """What was delivered or loaded and what it costs: built by the orders domain (its one pricing function),
    recorded here."""

    order_id: uuid.UUID | None
    pickup_id: uuid.UUID | None
    reference: str
    document_number: str
    depot_id: uuid.UUID | None
    product_code: str
    product_name: str
    observed_litres: int
    temperature_c: float
    net_litres: int
    net_kg: int
    unit_price_minor: int
    gross_minor: int
    discount_minor: int
    amount_minor: int


async def charge(
    session: AsyncSession, account: CreditAccount, line: ChargeLine, *, at: datetime, actor_id: uuid.UUID | None
) -> Charge:
    """Charge a delivery or a loading, once: a second call for the same order or pickup returns the first
    charge. A zero amount (nothing delivered) writes no ledger entry and no charge. The caller holds the lock."""
    source = Charge.order_id == line.order_id if line.order_id else Charge.pickup_id == line.pickup_id
    existing = await session.scalar(select(Charge).where(source))
    if existing is not None:
        return existing
    entry = post(
        session,
        account,
        kind=LedgerKind.CHARGE,
        amount_minor=line.amount_minor,
        at=at,
        actor_id=actor_id,
        order_id=line.order_id,
        pickup_id=line.pickup_id,
        note=line.document_number,
    )
    await session.flush()  # the entry's id is drawn at insert
    record = Charge(
        customer_id=account.customer_id,
        ledger_entry_id=entry.id,
        at=at,
        order_id=line.order_id,
        pickup_id=line.pickup_id,
        reference=line.reference,
        document_number=line.document_number,
        depot_id=line.depot_id,
        product_code=line.product_code,
        product_name=line.product_name,
        observed_litres=line.observed_litres,
        temperature_c=line.temperature_c,
        net_litres=line.net_litres,
        net_kg=line.net_kg,
        unit_price_minor=line.unit_price_minor,
        gross_minor=line.gross_minor,
        discount_minor=line.discount_minor,
        amount_minor=line.amount_minor,
        tax_rate_bps=VAT_RATE_BPS,
        currency=account.currency,
    )
    session.add(record)
    await session.flush()
    return record


def split_vat(amount_minor: int, rate_bps: int = VAT_RATE_BPS) -> tuple[int, int]:
    """(net, tax) of a VAT-inclusive amount, rounded half up to the fen: tax = amount x rate / (1 + rate)."""
    tax = (amount_minor * rate_bps * 2 + (10_000 + rate_bps)) // (2 * (10_000 + rate_bps))
    return amount_minor - tax, tax


@dataclass(frozen=True, slots=True)
class AccountCheck:
    ledger_sum_minor: int
    cached_balance_minor: int

    @property
    def consistent(self) -> bool:
        return self.ledger_sum_minor == self.cached_balance_minor


async def check_account(session: AsyncSession, customer_id: uuid.UUID) -> AccountCheck:
    """The ledger's sum beside the cached balance (they must always be equal)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(LedgerEntry.customer_id == customer_id)
    )
    account = await get_account(session, customer_id)
    return AccountCheck(ledger_sum_minor=int(total or 0), cached_balance_minor=account.balance_minor)
