"""Hand-written statements for the order hot path.

On PostgreSQL an order is one statement and one round trip (`insert_order_once`) on a plain asyncpg connection,
outside any transaction, so it commits by itself: no BEGIN and no COMMIT. Reading before it is
done from per-process caches (orders/cache.py), so a warm server process sends nothing else for an order.
Every round trip costs more CPU than the order's own logic (benchmarks/README.md has the measurements).
Called in a session with a transaction under way (cold caches read through it, or a caller that wrote or locked
the account first), the same statement joins that transaction instead, so it never waits for a lock its own
caller holds; on its own connection it waits at most `core.db.RAW_LOCK_TIMEOUT` for a lock held elsewhere
(503 `account_busy`).

SQLite (no data-modifying CTEs, one writer) runs the same steps as separate statements in the unit of work:
`claim_and_lock`, then `save_placed_order`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.db import raw_pool
from core.errors import Conflict, ServiceUnavailable
from core.ids import new_reference
from core.models import Event
from money.models import CreditAccount
from orders.models import CustomerAccount, Order, Site
from orders.rules import HOLD_EVENT_REASON, HOLD_REASON, OrderStatus

REFERENCE_CONSTRAINT = "uq_orders_reference"
REFERENCE_ATTEMPTS = 3
DECIDED_VERSION = 2  # placed, then confirmed or held
# The database down, restarting (a statement in flight when it shuts down), or out of connections: 503.
UNREACHABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    OSError,
)

# --- PostgreSQL: one statement ------------------------------------------------------------------------------

# Claim the key, lock the customer's credit account and decide on credit, write the order, its two events, the
# reservation and the day's tier. This is money.ledger.reserve in SQL (the order path's one exception to "money
# writes money", so that an order stays one round trip): open orders grow by the amount when the available credit
# (limit - open orders - balance) covers it, otherwise the order is held and the account is left as it was.
# All CTEs see one snapshot, but the row lock of `account` waits for a concurrent order of the same customer
# and then reads the row as that order left it (READ COMMITTED re-reads a locked row): credit decisions are
# serialised per account exactly as with SELECT … FOR UPDATE in a transaction. The customer row is written (after
# the credit row, the order every path locks them in) only by the day's first order, which stores the day's tier.
# Without a claimed key (a retry) or without the account, `account` is empty and nothing is written.
_PLACE_ORDER = """
WITH claim AS (
    INSERT INTO idempotency_records (id, scope, key, request_hash, resource_id, status_code, created_at)
    SELECT $1::uuid, $2::varchar, $3::varchar, $4::varchar, $5::uuid, 201, $6::timestamptz
    WHERE $3::varchar IS NOT NULL AND EXISTS (SELECT FROM credit_accounts WHERE customer_id = $7::uuid)
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING 1
), account AS (
    SELECT customer_id AS id, currency,
        open_orders_minor + balance_minor + $8::bigint <= credit_limit_minor AS confirmed
    FROM credit_accounts
    WHERE customer_id = $7::uuid AND ($3::varchar IS NULL OR EXISTS (SELECT FROM claim))
    FOR UPDATE
), reserve AS (
    UPDATE credit_accounts AS c
    SET open_orders_minor = c.open_orders_minor + $8::bigint, updated_at = $6::timestamptz
    FROM account WHERE c.customer_id = account.id AND account.confirmed
), day_tier AS (
    UPDATE customer_accounts AS a
    SET tier = $9::bigint, tier_day = $10::date
    FROM account WHERE a.id = account.id AND a.tier_day IS DISTINCT FROM $10::date
), new_order AS (
    INSERT INTO orders (
        id, reference, customer_id, site_id, depot_id, product_code, quantity_litres, quantity_kg, delivery_date,
        timezone, window_start, window_end, price_per_litre_minor, gross_minor, tier, discount_bps, discount_minor,
        amount_minor, currency, status, hold_reason, preferred_driver_id, note, created_by, created_at,
        updated_at, confirmed_at, version, discount_per_litre_minor
    )
    SELECT $5::uuid, $11::varchar, $7::uuid, $12::uuid, $13::uuid, $14::varchar, $15::bigint, $16::bigint,
        $17::date, $18::varchar, $19::timestamptz, $20::timestamptz, $21::bigint, $22::bigint, $9::bigint,
        $23::bigint, $24::bigint, $8::bigint, account.currency,
        CASE WHEN account.confirmed THEN $25::varchar ELSE $26::varchar END,
        CASE WHEN account.confirmed THEN NULL ELSE $27::varchar END,
        $28::uuid, $29::text, $30::uuid, $6::timestamptz, $6::timestamptz,
        CASE WHEN account.confirmed THEN $6::timestamptz END, $31::bigint, $40::bigint
    FROM account
), new_events AS (
    INSERT INTO events (
        id, subject_type, subject_id, customer_id, type, from_status, to_status, actor_id, actor_role, reason,
        data, at
    )
    SELECT $32::uuid, 'order', $5::uuid, $7::uuid, $33::varchar, NULL::varchar, $34::varchar, $30::uuid,
        $35::varchar, NULL::text, NULL::json, $6::timestamptz
    FROM account
    UNION ALL
    SELECT $36::uuid, 'order', $5::uuid, $7::uuid,
        CASE WHEN account.confirmed THEN $37::varchar ELSE $38::varchar END, $34::varchar,
        CASE WHEN account.confirmed THEN $25::varchar ELSE $26::varchar END, NULL, 'system',
        CASE WHEN account.confirmed THEN NULL ELSE $39::text END, NULL, $6::timestamptz
    FROM account
)
SELECT confirmed, currency FROM account
"""


@dataclass(slots=True)
class PlacedOrder:
    """An order as `insert_order_once` writes it and the answer shows it: building an ORM `Order` costs more CPU
    than the statement that stores it (`make bench-api`)."""

    id: uuid.UUID
    reference: str
    customer_id: uuid.UUID
    site_id: uuid.UUID
    depot_id: uuid.UUID
    product_code: str
    quantity_litres: int
    quantity_kg: int | None
    delivery_date: date
    timezone: str
    window_start: datetime
    window_end: datetime
    price_per_litre_minor: int
    gross_minor: int
    discount_bps: int
    discount_minor: int
    amount_minor: int
    currency: str
    status: str
    preferred_driver_id: uuid.UUID | None
    note: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    tier: int = 0
    discount_per_litre_minor: int = 0  # a contract's, beside the tier's percentage
    hold_reason: str | None = None
    cancel_reason: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the credit check of `insert_order_once` went (the statuses and events follow from it)."""

    confirmed: bool
    currency: str


def _arguments(
    order: PlacedOrder, placed: Event, decided_event_id: uuid.UUID, claim: dict[str, Any], tier_day: date
) -> tuple[Any, ...]:
    """The parameters of `_PLACE_ORDER`, $1 first."""
    now: datetime = order.created_at
    return (
        claim.get("id"),
        claim.get("scope"),
        claim.get("key"),
        claim.get("request_hash"),
        order.id,
        now,
        order.customer_id,
        order.amount_minor,
        order.tier,
        tier_day,
        order.reference,
        order.site_id,
        order.depot_id,
        order.product_code,
        order.quantity_litres,
        order.quantity_kg,
        order.delivery_date,
        order.timezone,
        order.window_start,
        order.window_end,
        order.price_per_litre_minor,
        order.gross_minor,
        order.discount_bps,
        order.discount_minor,
        str(OrderStatus.CONFIRMED),
        str(OrderStatus.ON_HOLD),
        HOLD_REASON,
        order.preferred_driver_id,
        order.note,
        order.created_by,
        DECIDED_VERSION,
        placed.id,
        placed.type,
        placed.to_status,
        placed.actor_role,
        decided_event_id,
        f"order_{OrderStatus.CONFIRMED}",
        f"order_{OrderStatus.ON_HOLD}",
        HOLD_EVENT_REASON,
        order.discount_per_litre_minor,
    )


async def insert_order_once(
    session: AsyncSession,
    *,
    order: PlacedOrder,
    placed: Event,
    decided_event_id: uuid.UUID,
    claim: dict[str, Any] | None,
    tier_day: date,
) -> Outcome | None:
    """Write an order (status `placed`, price fixed) with its events, confirming or holding it on credit.

    `claim` is `idempotency.record_values(...)` naming `order.id`, or None without a key. Returns None when the
    key was used before (nothing written: the caller replays the first answer).

    When the session has no transaction under way (the warm hot path: everything else came from the caches), the
    statement runs on its own on a connection of the plain asyncpg pool beside the session's engine
    (`core.db.raw_pool`) and commits by itself. Otherwise it joins the session's transaction (`_send_in_session`).
    """

    def arguments() -> tuple[Any, ...]:
        return _arguments(order, placed, decided_event_id, claim or {}, tier_day)

    if session.in_transaction():
        return await _send_in_session(session, order, arguments)
    return await _send_on_its_own(session, order, arguments)


async def _send_on_its_own(
    session: AsyncSession, order: PlacedOrder, arguments: Callable[[], tuple[Any, ...]]
) -> Outcome | None:
    try:
        pool = await raw_pool(session)
        async with pool.acquire() as driver:

            async def send() -> Outcome | None:
                return _outcome(await driver.fetchrow(_PLACE_ORDER, *arguments()))

            return await _drawing_references(order, send)
    except UNREACHABLE as error:
        raise ServiceUnavailable(
            "the database is not reachable right now; retry shortly", code="database_unavailable"
        ) from error
    except asyncpg.LockNotAvailableError as error:  # the account stayed locked longer than RAW_LOCK_TIMEOUT
        raise ServiceUnavailable(
            "the customer's account is being changed by another request; retry shortly", code="account_busy"
        ) from error


async def _send_in_session(
    session: AsyncSession, order: PlacedOrder, arguments: Callable[[], tuple[Any, ...]]
) -> Outcome | None:
    """The statement on the session's own connection, in its transaction, which may hold the account's row lock
    (a SELECT … FOR UPDATE, a write): on another connection the statement would wait for that lock for ever,
    since the transaction holding it waits for the statement (PostgreSQL sees no deadlock: the cycle goes
    through this process). Any transaction under way counts, as which rows it locked is not known here. The
    order then commits or rolls back with the unit of work; a savepoint lets a reference drawn twice be drawn
    again."""

    async def send() -> Outcome | None:
        try:
            async with session.begin_nested():  # flushes the unit of work's pending writes first
                connection = await session.connection()
                return _outcome((await connection.exec_driver_sql(_PLACE_ORDER, arguments())).first())
        except IntegrityError as error:  # asyncpg's own, as on the pool's connections, for `_drawing_references`
            if error.orig is not None and isinstance(error.driver_exception, asyncpg.IntegrityConstraintViolationError):
                raise error.driver_exception from error
            raise

    outcome = await _drawing_references(order, send)
    # The statement changed the accounts behind the ORM's back: a copy the unit of work loaded is read again.
    credit = session.identity_map.get(session.identity_key(CreditAccount, order.customer_id))
    if credit is not None:
        session.expire(credit, ["open_orders_minor", "updated_at"])
    customer = session.identity_map.get(session.identity_key(CustomerAccount, order.customer_id))
    if customer is not None:
        session.expire(customer, ["tier", "tier_day"])
    return outcome


def _outcome(row: Any) -> Outcome | None:
    """The statement's row (`confirmed`, `currency`); none when it wrote nothing."""
    return None if row is None else Outcome(confirmed=row[0], currency=row[1])


async def _drawing_references(order: PlacedOrder, send: Callable[[], Awaitable[Outcome | None]]) -> Outcome | None:
    attempts = 1
    while True:
        try:
            return await send()
        except asyncpg.UniqueViolationError as error:
            # Six random characters per day and kind: at 100,000 orders of one day two of them share one
            # about 5 times. The statement wrote nothing; draw again.
            if error.constraint_name != REFERENCE_CONSTRAINT or attempts == REFERENCE_ATTEMPTS:
                raise Conflict("the order could not be stored; send it again", code="order_conflict") from error
            attempts += 1
            order.reference = new_reference("DO", order.delivery_date)
        except asyncpg.IntegrityConstraintViolationError as error:  # rules are checked before: not expected
            raise Conflict("the order could not be stored; send it again", code="order_conflict") from error


# --- SQLite: the same steps in the unit of work -------------------------------------------------------------

_SITE_AND_LOCKED_ACCOUNT = (
    select(Site, CustomerAccount, CreditAccount)
    .join(CustomerAccount, CustomerAccount.id == Site.customer_id)
    .join(CreditAccount, CreditAccount.customer_id == Site.customer_id)
    .where(Site.id == bindparam("site_id"), Site.customer_id == bindparam("customer_id"))
    .with_for_update(of=CreditAccount)
)


async def claim_and_lock(
    session: AsyncSession, *, claim: dict[str, Any] | None, site_id: uuid.UUID, customer_id: uuid.UUID
) -> tuple[bool, tuple[Site, CustomerAccount, CreditAccount] | None]:
    """Take the idempotency key (`claim`: `idempotency.record_values`, or None without a key), then read the
    customer's own site with its account and credit account (the latter row-locked where the database has row
    locks; SQLite's write transaction holds the whole database). Returns (claimed, found); not claimed: the key
    was used before."""
    if claim is not None and not await idempotency.insert_if_new(session, claim):
        return False, None
    row = (await session.execute(_SITE_AND_LOCKED_ACCOUNT, {"site_id": site_id, "customer_id": customer_id})).first()
    return True, (row[0], row[1], row[2]) if row is not None else None


async def save_placed_order(session: AsyncSession, order: Order) -> None:
    """Write a new order; its events and the account are in the session already."""
    session.add(order)
    try:
        await session.flush()
    except IntegrityError as error:  # a reference drawn twice: the unit of work rolls back, nothing is kept
        raise Conflict("the order could not be stored; send it again", code="order_conflict") from error
