"""The PostgreSQL order path never waits for ever on a row lock.

* Placed inside a unit of work that has locked the customer's account (as the benchmarks' world builder does, and
  as anything that books, pays or re-prices before ordering would), the order's one statement joins that unit of
  work instead of waiting on a connection of its own for a lock its own caller holds: it completes, commits or
  rolls back with the unit of work, and the unit of work reads the account as the statement left it.
* On its own connection (the warm hot path), an account locked elsewhere for longer than the lock timeout answers
  503 `account_busy` with nothing written; the same key then places the order once the lock is gone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth import Principal, Role
from core.db import close_raw_pool, create_engine, session_factory, unit_of_work
from core.models import User
from core.settings import async_database_url
from money.models import CreditAccount
from orders import schemas as s
from orders.delivery import place_order
from orders.models import CustomerAccount, Order
from tests.conftest import postgres_url
from tests.factories import ok

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
NEVER_HANGS_S = 20  # far above the lock timeout; the old code waited for ever


@pytest.fixture
async def engine(world) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    """An engine (and order-path pool) of the test's own on the test database: the app's belong to the test
    client's event loop."""
    url = postgres_url()
    if url is None:
        pytest.skip("the one-statement order path runs on PostgreSQL (DATABASE_URL)")
    made = create_engine(async_database_url(url), pool_size=4)
    yield made
    await close_raw_pool(made)
    await made.dispose()


async def _principal(engine: AsyncEngine, customer) -> Principal:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        user_id = await connection.scalar(sa.select(User.id).where(User.username == customer.username))
    return Principal(id=user_id, username=customer.username, role=Role.CUSTOMER, customer_id=uuid.UUID(customer.id))


async def _locked_accounts(session, customer_id: uuid.UUID) -> tuple[CustomerAccount, CreditAccount]:  # type: ignore[no-untyped-def]
    """The customer's credit account and customer row, locked in the order the order path locks them."""
    credit = sa.select(CreditAccount).where(CreditAccount.customer_id == customer_id).with_for_update()
    customer = sa.select(CustomerAccount).where(CustomerAccount.id == customer_id).with_for_update()
    return (await session.execute(customer)).scalar_one(), (await session.execute(credit)).scalar_one()


async def test_an_order_placed_in_a_unit_of_work_that_locked_the_account_joins_it(
    world, engine, settings, clock
) -> None:  # type: ignore[no-untyped-def]
    customer = await world.new_customer()
    actor = await _principal(engine, customer)
    data = msgspec.convert(customer.order_body(), s.OrderIn)
    factory = session_factory(engine)

    async def place(*, then_fail: bool) -> uuid.UUID:
        async with unit_of_work(factory) as session:
            account, credit = await _locked_accounts(session, actor.customer_id)
            account.contact_name = "Touched Before-Ordering"  # a write of the unit of work, flushed by the order
            before = credit.open_orders_minor
            order, created = await place_order(
                session, data=data, actor=actor, idempotency_key=None, now=clock.now(), rules=settings.rules
            )
            assert created and order.status == "confirmed"
            # The unit of work sees what the statement wrote, not the copy it had loaded.
            _, again = await _locked_accounts(session, actor.customer_id)
            assert again.open_orders_minor == before + order.amount_minor
            if then_fail:
                raise RuntimeError("the unit of work fails after the order")
            return order.id

    kept = await asyncio.wait_for(place(then_fail=False), NEVER_HANGS_S)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(place(then_fail=True), NEVER_HANGS_S)

    listed = ok(await world.client.get("/api/v1/orders", headers=customer.h))
    assert [o["id"] for o in listed["items"]] == [str(kept)]  # the second order went with its unit of work
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == listed["items"][0]["price"]["amount_minor"]
    async with engine.connect() as connection:
        touched = sa.select(CustomerAccount.contact_name).where(CustomerAccount.id == actor.customer_id)
        assert await connection.scalar(touched) == "Touched Before-Ordering"


async def test_an_account_locked_elsewhere_answers_503_account_busy_and_writes_nothing(world, engine) -> None:  # type: ignore[no-untyped-def]
    from core.db import RAW_LOCK_TIMEOUT

    customer = await world.new_customer()
    ok(await customer.order(), 201)  # this process now has the site, price and tier: the next order is warm
    async with engine.connect() as holder:
        await holder.execute(
            sa.select(CreditAccount.customer_id)
            .where(CreditAccount.customer_id == uuid.UUID(customer.id))
            .with_for_update()
        )
        started = asyncio.get_running_loop().time()
        busy = await asyncio.wait_for(customer.order(key="busy-account"), NEVER_HANGS_S)
        waited = asyncio.get_running_loop().time() - started
        await holder.rollback()
    assert busy.status_code == 503 and busy.json()["code"] == "account_busy", busy.text
    assert timedelta(seconds=waited) >= RAW_LOCK_TIMEOUT
    listed = ok(await world.client.get("/api/v1/orders", headers=customer.h))
    assert listed["total"] == 1
    async with engine.connect() as connection:
        count = sa.select(sa.func.count()).select_from(Order).where(Order.customer_id == uuid.UUID(customer.id))
        assert await connection.scalar(count) == 1
    assert ok(await customer.order(key="busy-account"), 201)["status"] == "confirmed"  # the key was not burnt


async def test_a_reference_drawn_twice_inside_a_unit_of_work_is_drawn_again(
    world, engine, settings, clock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The statement that failed on the reference is undone alone (a savepoint): the unit of work goes on."""
    from orders import delivery, repository

    customer = await world.new_customer()
    first = ok(await customer.order(), 201)
    actor = await _principal(engine, customer)
    monkeypatch.setattr(delivery, "new_reference", lambda prefix, day: first["reference"])  # the first draw
    monkeypatch.setattr(repository, "new_reference", lambda prefix, day: f"DO-FRESH-{uuid.uuid4().hex[:6]}")
    async with unit_of_work(session_factory(engine)) as session:
        await _locked_accounts(session, actor.customer_id)
        order, _ = await asyncio.wait_for(
            place_order(
                session,
                data=msgspec.convert(customer.order_body(), s.OrderIn),
                actor=actor,
                idempotency_key=None,
                now=clock.now(),
                rules=settings.rules,
            ),
            NEVER_HANGS_S,
        )
    assert order.reference.startswith("DO-FRESH-")
    listed = ok(await world.client.get("/api/v1/orders", headers=customer.h))
    assert sorted(o["reference"] for o in listed["items"]) == sorted([first["reference"], order.reference])
