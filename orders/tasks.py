"""Periodic work of the orders domain."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.celery_app import celery_app
from core.clock import SystemClock
from core.db import create_engine, session_factory
from core.settings import get_settings
from core.worker_db import run_in_unit_of_work
from orders import standing
from orders.pickups import expire_no_shows


@celery_app.task(name="orders.expire_pickups", ignore_result=True)
def expire_pickups() -> int:
    """Mark bookings whose slot ended without loading as expired (idempotent: only `booked` ones move)."""

    grace = timedelta(minutes=get_settings().codes.pickup_grace_minutes)

    async def work(session: AsyncSession) -> int:
        return await expire_no_shows(session, now=SystemClock().now(), grace=grace)

    return run_in_unit_of_work(work)


@celery_app.task(name="orders.standing_orders", ignore_result=True)
def standing_orders() -> dict[str, int]:
    """Place the standing orders' occurrences whose time has come (once each, however often this runs)."""
    settings = get_settings()

    async def main() -> dict[str, int]:
        engine = create_engine(settings.db.url, null_pool=True)
        try:
            return await standing.run_due(session_factory(engine), now=SystemClock().now(), rules=settings.rules)
        finally:
            await engine.dispose()

    return asyncio.run(main())
