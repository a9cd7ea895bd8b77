"""A real Celery worker process (Redis broker in CI, the embedded SQLite broker otherwise) runs the periodic
expiry of pickup no-shows against the test database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from core.db import UTCDateTime
from tests.factories import ok
from tests.integration.test_pickups_api import booking

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_worker_expires_a_no_show_booking(world, database_url, worker) -> None:
    from core.celery_app import celery_app
    from core.settings import sync_database_url

    depot = await world.new_depot(bays=1)
    customer = await world.new_customer()
    booked = ok(await world.client.post("/api/v1/pickups", headers=customer.h, json=booking(depot["id"])), 201)
    # Move the slot into the real past: the task runs on the system clock, not the tests' frozen one.
    engine = sa.create_engine(sync_database_url(database_url))
    past_start, past_end = datetime(2026, 1, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE pickup_bookings SET slot_start = :s, slot_end = :e WHERE id = :id").bindparams(
                sa.bindparam("s", type_=UTCDateTime()), sa.bindparam("e", type_=UTCDateTime())
            ),
            {"s": past_start, "e": past_end, "id": _db_id(conn, booked["id"])},
        )
    engine.dispose()

    celery_app.send_task("orders.expire_pickups")
    deadline = time.monotonic() + 60
    status = "booked"
    while time.monotonic() < deadline and status == "booked":
        worker.ensure_running()
        await asyncio.sleep(0.5)
        status = ok(await world.client.get(f"/api/v1/pickups/{booked['id']}", headers=customer.h))["status"]
    assert status == "expired"
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == 0  # the no-show's credit was released


def _db_id(conn: sa.Connection, value: str) -> str:
    # SQLAlchemy's Uuid type stores 32 hex characters on SQLite, a native uuid on PostgreSQL.
    return value.replace("-", "") if conn.dialect.name == "sqlite" else value
