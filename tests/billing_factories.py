"""Billing for tests: charges through money.ledger, a finance user, invoice runs run to their end, payments."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.factories import PASSWORD, ok

API = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
_finance_tokens: dict[int, str] = {}


@asynccontextmanager
async def db_session(app: Any) -> AsyncIterator[Any]:
    """A unit of work on an engine of its own (the app's pool belongs to the test client's event loop)."""
    from core.db import create_engine, session_factory, unit_of_work

    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            yield session
    finally:
        await engine.dispose()


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A moment of a day in Shanghai, in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


async def add_charge(
    app: Any,
    customer_id: str,
    *,
    at: datetime,
    litres: int = 1000,
    price: int = 800,
    discount: int = 0,
    pickup: bool = False,
) -> dict[str, Any]:
    """A delivery (or a pickup when asked) charged to the customer: litres x price - discount, VAT included."""
    from money import ledger

    source = uuid.uuid4()
    line = ledger.ChargeLine(
        order_id=None if pickup else source,
        pickup_id=source if pickup else None,
        reference=f"{'PU' if pickup else 'DO'}-{at:%y%m%d}-{source.hex[:6].upper()}",
        document_number=f"{'T' if pickup else 'R'}-{source.hex[:10].upper()}",
        depot_id=None,
        product_code="diesel-0",
        product_name="Diesel 0#",
        observed_litres=litres + 9,
        temperature_c=21.5,
        net_litres=litres,
        net_kg=litres * 835 // 1000,
        unit_price_minor=price,
        gross_minor=litres * price,
        discount_minor=discount,
        amount_minor=litres * price - discount,
    )
    async with db_session(app) as session:
        account = await ledger.get_account(session, uuid.UUID(customer_id), lock=True)
        charge = await ledger.charge(session, account, line, at=at, actor_id=None)
        return {"id": str(charge.id), "amount_minor": charge.amount_minor, "reference": line.reference, "at": at}


async def finance_headers(world: Any, app: Any) -> dict[str, str]:
    """A finance user of the session (made as `diesel createuser --role finance` would)."""
    key = id(world)
    if key not in _finance_tokens:
        from core.auth import Role
        from orders.accounts import create_user

        username = f"finance-{uuid.uuid4().hex[:6]}"
        async with db_session(app) as session:
            await create_user(
                session, username=username, password=PASSWORD, role=Role.FINANCE, now=app.state.clock.now()
            )
        _finance_tokens[key] = await world.login(username)
        world.usernames["finance"] = username
    return {"Authorization": f"Bearer {_finance_tokens[key]}"}


async def set_billing(world: Any, app: Any, customer_id: str, **body: Any) -> dict[str, Any]:
    headers = await finance_headers(world, app)
    return ok(await world.client.patch(f"{API}/customers/{customer_id}/billing", headers=headers, json=body))  # type: ignore[no-any-return]


async def run_invoices(world: Any, app: Any, *, period_end: str, customer_id: str | None = None) -> dict[str, Any]:
    """POST /invoice-runs, then the run executed here (or by the session's worker, if one took it first)."""
    from core.clock import SystemClock
    from core.db import create_engine, session_factory
    from money.runs import execute_run

    headers = await finance_headers(world, app)
    body: dict[str, Any] = {"period_end": period_end}
    if customer_id is not None:
        body["customer_id"] = customer_id
    run = ok(await world.client.post(f"{API}/invoice-runs", headers=headers, json=body), 202)
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        await execute_run(session_factory(engine), uuid.UUID(run["id"]), tz=SHANGHAI, clock=SystemClock())
    finally:
        await engine.dispose()
    return await wait_for_run(world, app, run["id"], wait_s=60)


async def wait_for_run(world: Any, app: Any, run_id: str, *, wait_s: float) -> dict[str, Any]:
    headers = await finance_headers(world, app)
    deadline = time.monotonic() + wait_s
    while True:
        run = ok(await world.client.get(f"{API}/invoice-runs/{run_id}", headers=headers))
        if run["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return run  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)


async def invoices_of(world: Any, app: Any, customer_id: str) -> list[dict[str, Any]]:
    """The customer's invoices, oldest first, each with its lines."""
    headers = await finance_headers(world, app)
    page = ok(
        await world.client.get(f"{API}/invoices", headers=headers, params={"customer_id": customer_id, "limit": 500})
    )
    full = [ok(await world.client.get(f"{API}/invoices/{i['id']}", headers=headers)) for i in page["items"]]
    return sorted(full, key=lambda i: (i["issue_date"], i["number"]))


async def balance(world: Any, app: Any, customer_id: str) -> dict[str, Any]:
    headers = await finance_headers(world, app)
    return ok(await world.client.get(f"{API}/customers/{customer_id}/balance", headers=headers))  # type: ignore[no-any-return]


async def pay(world: Any, app: Any, customer_id: str, amount: int, **extra: Any) -> dict[str, Any]:
    headers = {**await finance_headers(world, app), **extra.pop("headers", {})}
    body = {"customer_id": customer_id, "amount_minor": amount, "received_on": "2030-01-07", "method": "bank_transfer"}
    body.update(extra)
    return ok(await world.client.post(f"{API}/payments", headers=headers, json=body), (200, 201))  # type: ignore[no-any-return]


def day(text: str) -> date:
    return date.fromisoformat(text)


def days(start: str, count: int) -> list[date]:
    return [day(start) + timedelta(days=i) for i in range(count)]
